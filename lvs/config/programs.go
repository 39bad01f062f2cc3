package config

import (
	"fmt"
	"strings"
)

// Program is a command line a director runs as root: a virtual server's
// send_program (its health check), quorum_up and quorum_down, a real
// server's notify_up and notify_down, or the global active_cmd and
// inactive_cmd (run when the director becomes active or standby).
// Whoever sets one chooses what root runs on both directors, so the store
// asks more of a change that adds or alters one than of any other.
type Program struct {
	// Field is the lvs.cf key and form field of a command field
	// (KindCommand) of the registry.
	Field string
	// Virtual is the index of the virtual server in Config.Virtuals, -1
	// for the global commands; VirtualName is its name.
	Virtual     int
	VirtualName string
	// Real is the index of the real server in its virtual server's
	// Reals, -1 for the commands of a virtual server or global ones;
	// RealName is its name.
	Real     int
	RealName string
	Command  string // the command line as configured
}

// String names the program as messages do: "send_program of virtual
// server web", or "active_cmd".
func (p Program) String() string {
	if p.Virtual < 0 {
		return p.Field
	}
	if p.Real >= 0 {
		return fmt.Sprintf("%s of real server %s of virtual server %s", p.Field, displayName(p.RealName, p.Real), displayName(p.VirtualName, p.Virtual))
	}
	return fmt.Sprintf("%s of virtual server %s", p.Field, displayName(p.VirtualName, p.Virtual))
}

// Path returns the program the command line runs, its first word; "" when
// it has none (Validate refuses such a command).
func (p Program) Path() string {
	args, err := SplitArgs(p.Command)
	if err != nil || len(args) == 0 {
		return ""
	}
	return args[0]
}

// FieldError is a refusal of the program, placed as Validate places its
// own, so that it lands beside the field in a form and at the key in an
// lvs.cf.
func (p Program) FieldError(msg string) *FieldError {
	fe := &FieldError{Section: "global", Virtual: -1, Real: -1, Field: p.Field, Msg: msg}
	if p.Virtual >= 0 {
		fe.Section, fe.Virtual, fe.VirtualName = "virtual", p.Virtual, p.VirtualName
	}
	if p.Real >= 0 {
		fe.Section, fe.Real, fe.RealName = "server", p.Real, p.RealName
	}
	return fe
}

// Programs lists the programs c configures, the registry's command fields
// (KindCommand): active_cmd and inactive_cmd, then each virtual server's
// (send_program, quorum_up, quorum_down) followed by those of its real
// servers (notify_up, notify_down), in order. An empty field is none. A send_program is listed
// whatever the check kind: a later change of the kind, or an activation,
// makes it run without changing the program.
func Programs(c *Config) []Program {
	var ps []Program
	ps = commands(ps, GlobalFields, &c.Global, Program{Virtual: -1, Real: -1})
	ps = commands(ps, RedundancyFields, &c.Redundancy, Program{Virtual: -1, Real: -1})
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		ps = commands(ps, VirtualFields, vs, Program{Virtual: i, VirtualName: vs.Name, Real: -1})
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			ps = commands(ps, RealFields, rs, Program{Virtual: i, VirtualName: vs.Name, Real: j, RealName: rs.Name})
		}
	}
	return ps
}

// commands adds the command fields of fs set in t to ps, placed as at is.
func commands[T any](ps []Program, fs Fields[T], t *T, at Program) []Program {
	for i := range fs {
		f := &fs[i]
		if f.Kind != KindCommand {
			continue
		}
		if cmd := f.Text(t); strings.TrimSpace(cmd) != "" {
			p := at
			p.Field, p.Command = f.Key, cmd
			ps = append(ps, p)
		}
	}
	return ps
}

// NewPrograms lists the programs of next that old does not have as they
// are: added, or changed. Virtual servers are matched as Diff matches them,
// by id, or by name when they have none; a virtual server that is new
// brings its program in, even one another entry has. A program removed is
// not listed, nor one whose virtual server was only renamed or moved.
func NewPrograms(old, next *Config) []Program {
	type slot struct {
		field       string
		entry, real key
	}
	have := map[slot]string{}
	for _, p := range Programs(old) {
		e, r := programEntry(old, p)
		have[slot{p.Field, e, r}] = p.Command
	}
	var out []Program
	for _, p := range Programs(next) {
		e, r := programEntry(next, p)
		if cmd, ok := have[slot{p.Field, e, r}]; !ok || cmd != p.Command {
			out = append(out, p)
		}
	}
	return out
}

// programEntry is the entry p belongs to in c: the global settings, or its
// virtual server, or its real server (none: key{id: -1}). A real server
// the store gave an id is itself wherever it moves (ids are unique across
// virtual servers): its programs still run on its own transitions.
func programEntry(c *Config, p Program) (virtual, real key) {
	none := key{id: -1} // ids the store gives are positive
	if p.Virtual < 0 {
		return none, none
	}
	vs := &c.Virtuals[p.Virtual]
	if p.Real < 0 {
		return entryKey(vs.ID, vs.Name), none
	}
	rs := &vs.Reals[p.Real]
	if rs.ID != 0 {
		return none, key{id: rs.ID}
	}
	return entryKey(vs.ID, vs.Name), key{name: rs.Name}
}
