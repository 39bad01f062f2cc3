package store

import (
	"errors"
	"slices"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/proc"
)

// ErrNeedsPassword refuses a change that adds or alters a program the
// directors run as root (see config.Programs) made without
// Change.Elevated: by an API token, or by a console user who did not
// re-enter their password. Removing a program needs nothing more.
var ErrNeedsPassword = errors.New("changing a program run as root needs your password")

// ProgramError is ErrNeedsPassword with the programs the refused change
// would have added or altered.
type ProgramError struct {
	Programs []config.Program
}

func (e *ProgramError) Error() string {
	names := make([]string, len(e.Programs))
	for i, p := range e.Programs {
		names[i] = p.String()
	}
	return strings.Join(names, ", ") + ": " + ErrNeedsPassword.Error()
}

func (e *ProgramError) Unwrap() error { return ErrNeedsPassword }

// checkPrograms is the rule for programs, for a change from old to next:
// one that adds or alters a program needs an elevated author, and the
// program must be a file only root can change (proc.Trusted), refused
// otherwise as a field error placed like Validate's.
//
// also, when given, are configurations whose programs are not new either:
// an edit of a draft brings in what is new to the draft and to the
// running configuration.
func checkPrograms(old, next *config.Config, elevated bool, also ...*config.Config) error {
	added := config.NewPrograms(old, next)
	if len(added) == 0 {
		return nil // most edits: no need to read the others' programs
	}
	for _, o := range also {
		known := map[string]bool{}
		for _, p := range config.Programs(o) {
			known[programSlot(p)] = true
		}
		added = slices.DeleteFunc(added, func(p config.Program) bool { return known[programSlot(p)] })
	}
	if len(added) == 0 {
		return nil
	}
	if !elevated {
		return &ProgramError{Programs: added}
	}
	var refused []*config.FieldError
	for _, p := range added {
		if err := proc.Trusted(p.Path()); err != nil {
			why := strings.TrimPrefix(err.Error(), proc.ErrUntrusted.Error()+": ")
			refused = append(refused, p.FieldError("the directors run it as root, so it must be a file only root can change: "+why))
		}
	}
	if len(refused) > 0 {
		return &config.ValidationError{Fields: refused}
	}
	return nil
}

// programSlot names p by where it is and what it runs, across
// configurations.
func programSlot(p config.Program) string {
	return p.Field + "\x00" + p.VirtualName + "\x00" + p.RealName + "\x00" + p.Command
}
