package config

import (
	"fmt"
	"strings"
)

// Program is a command line a director runs as root: a virtual server's
// send_program (its health check), or the global active_cmd and
// inactive_cmd (run when the director becomes active or standby).
// Whoever sets one chooses what root runs on both directors, so the store
// asks more of a change that adds or alters one than of any other.
type Program struct {
	// Field is the lvs.cf key and form field: send_program, active_cmd or
	// inactive_cmd.
	Field string
	// Virtual is the index of the virtual server in Config.Virtuals, -1
	// for the global commands; VirtualName is its name.
	Virtual     int
	VirtualName string
	Command     string // the command line as configured
}

// String names the program as messages do: "send_program of virtual
// server web", or "active_cmd".
func (p Program) String() string {
	if p.Virtual < 0 {
		return p.Field
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
	return fe
}

// Programs lists the programs c configures, the registry's command fields
// (KindCommand): active_cmd and inactive_cmd, then each virtual server's
// send_program, in order. An empty field is none. A send_program is listed
// whatever the check kind: a later change of the kind, or an activation,
// makes it run without changing the program.
func Programs(c *Config) []Program {
	var ps []Program
	ps = commands(ps, GlobalFields, &c.Global, -1, "")
	ps = commands(ps, RedundancyFields, &c.Redundancy, -1, "")
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		ps = commands(ps, VirtualFields, vs, i, vs.Name)
	}
	return ps
}

// commands adds the command fields of fs set in t to ps.
func commands[T any](ps []Program, fs Fields[T], t *T, vi int, vname string) []Program {
	for i := range fs {
		f := &fs[i]
		if f.Kind != KindCommand {
			continue
		}
		if cmd := f.Text(t); strings.TrimSpace(cmd) != "" {
			ps = append(ps, Program{Field: f.Key, Virtual: vi, VirtualName: vname, Command: cmd})
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
		field string
		entry key
	}
	have := map[slot]string{}
	for _, p := range Programs(old) {
		have[slot{p.Field, programEntry(old, p)}] = p.Command
	}
	var out []Program
	for _, p := range Programs(next) {
		if cmd, ok := have[slot{p.Field, programEntry(next, p)}]; !ok || cmd != p.Command {
			out = append(out, p)
		}
	}
	return out
}

// programEntry is the entry p belongs to in c: the global settings, or its
// virtual server.
func programEntry(c *Config, p Program) key {
	if p.Virtual < 0 {
		return key{id: -1} // ids the store gives are positive
	}
	vs := &c.Virtuals[p.Virtual]
	return entryKey(vs.ID, vs.Name)
}
