package store

import (
	"errors"
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
func checkPrograms(old, next *config.Config, elevated bool) error {
	added := config.NewPrograms(old, next)
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
