package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// script writes an executable script under dir (made 0755 as needed) with
// mode, and returns its path.
func script(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

// withPrograms is a small valid configuration with a send_program and an
// active_cmd that are root's programs (the system's: a test made by
// anyone but root cannot make one).
func withPrograms() *config.Config {
	c := config.Default()
	c.Global.ActiveCmd = `/usr/bin/logger -t lvs "became active"`
	web := config.NewVirtual("web")
	web.SendProgram = "/usr/bin/true %h %p"
	c.Virtuals = []config.VirtualServer{web}
	return c
}

// TestProgramsNeedElevation: without Change.Elevated a change can neither
// add nor alter a program, by any writer (Update, Replace, Restore), and
// the refusal names them and writes nothing; it can remove one, and change
// anything else beside the programs already there. With Elevated the same
// changes are saved; Adopt, the peer's, needs no elevation.
func TestProgramsNeedElevation(t *testing.T) {
	st := openTest(t)
	first, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "root", Elevated: true}, withPrograms())
	if err != nil {
		t.Fatal(err)
	}
	other := "/usr/bin/false"
	plain := Change{Role: ScopeAdmin, Author: "token"}

	refused := func(name string, err error, want ...string) {
		t.Helper()
		var pe *ProgramError
		if !errors.Is(err, ErrNeedsPassword) || !errors.As(err, &pe) {
			t.Fatalf("%s: %v, want ErrNeedsPassword", name, err)
		}
		var got []string
		for _, p := range pe.Programs {
			got = append(got, p.String())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: refused for %q, want %q", name, got, want)
		}
		if !strings.Contains(err.Error(), want[0]+": changing a program run as root needs your password") {
			t.Errorf("%s: the message says %q", name, err)
		}
		if n, _ := st.Serial(ctx); n != first.Serial {
			t.Fatalf("%s: a refused change moved the serial to %d", name, n)
		}
	}
	_, err = st.Update(ctx, plain, func(c *config.Config) error {
		c.Virtuals[0].SendProgram = other + " %h"
		return nil
	})
	refused("altering send_program", err, "send_program of virtual server web")
	_, err = st.Update(ctx, plain, func(c *config.Config) error {
		c.Global.InactiveCmd = "/usr/bin/logger standby"
		c.Global.ActiveCmd = "/usr/bin/logger active"
		return nil
	})
	refused("setting inactive_cmd, altering active_cmd", err, "active_cmd", "inactive_cmd")
	_, err = st.Update(ctx, plain, func(c *config.Config) error {
		vs := config.NewVirtual("new")
		vs.SendProgram = other
		c.Virtuals = append(c.Virtuals, vs)
		return nil
	})
	refused("a new virtual server with a program", err, "send_program of virtual server new")
	imported := first.Clone()
	imported.Global.ActiveCmd = other
	_, err = st.Replace(ctx, plain, imported)
	refused("an import", err, "active_cmd")

	// Anything else may change beside the programs already there, and a
	// program may go.
	if _, err := st.Update(ctx, plain, func(c *config.Config) error {
		c.Virtuals[0].Port, c.Virtuals[0].CheckKind = 8080, "program"
		return nil
	}); err != nil {
		t.Fatalf("a change beside the programs: %v", err)
	}
	saved, err := st.Update(ctx, plain, func(c *config.Config) error {
		c.Virtuals[0].SendProgram, c.Virtuals[0].CheckKind = "", "tcp"
		c.Global.ActiveCmd = ""
		return nil
	})
	if err != nil || saved.Virtuals[0].SendProgram != "" || saved.Global.ActiveCmd != "" {
		t.Fatalf("removing the programs: %v", err)
	}
	// Bringing them back by a restore is adding them.
	_, err = st.Restore(ctx, plain, first.Serial)
	var pe *ProgramError
	if !errors.As(err, &pe) || len(pe.Programs) != 2 {
		t.Fatalf("a restore that brings programs back: %v", err)
	}
	restored, err := st.Restore(ctx, Change{Role: ScopeAdmin, Author: "admin", Elevated: true}, first.Serial)
	if err != nil || restored.Global.ActiveCmd != first.Global.ActiveCmd {
		t.Fatalf("an elevated restore: %v", err)
	}
	if _, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "admin", Elevated: true}, func(c *config.Config) error {
		c.Virtuals[0].SendProgram = other + " %h"
		return nil
	}); err != nil {
		t.Fatalf("an elevated change of send_program: %v", err)
	}

	// The peer's configuration is adopted with its programs, even ones
	// this director cannot find: the standby checks a program when it
	// runs it.
	cur, _ := st.Config(ctx)
	peer := cur.Clone()
	peer.Serial = cur.Serial + 3
	peer.Global.InactiveCmd = "/nonexistent/notify standby"
	peer.Virtuals[0].SendProgram = other + " --peer"
	got, err := st.Adopt(ctx, Change{Role: ScopeAdmin, Author: "peer 192.0.2.2"}, peer)
	if err != nil || got.Global.InactiveCmd != peer.Global.InactiveCmd || got.Virtuals[0].SendProgram != peer.Virtuals[0].SendProgram {
		t.Fatalf("Adopt of new programs: %+v, %v", got, err)
	}
	// ... and a program already there, even one that would be refused
	// now, does not block other changes.
	if _, err := st.Update(ctx, plain, func(c *config.Config) error { c.Global.TCPTimeout = 77; return nil }); err != nil {
		t.Errorf("a change beside an adopted program: %v", err)
	}
}

// TestUntrustedProgramsAreRefused: a program added or altered, even by an
// elevated author, must be a file only root can change (proc.Trusted); the
// refusal is a field error of the field, placed like Validate's, saying
// what is wrong.
func TestUntrustedProgramsAreRefused(t *testing.T) {
	testenv.Root(t) // it makes programs as root and gives them away
	st := openTest(t)
	dir := t.TempDir()
	groupW := script(t, dir, "groupw", 0o775)
	theirs := script(t, dir, "theirs", 0o755)
	if err := os.Chown(theirs, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	inOpen := script(t, dir, "open/prog", 0o755)
	if err := os.Chmod(filepath.Dir(inOpen), 0o777); err != nil {
		t.Fatal(err)
	}
	good := script(t, dir, "good", 0o755)
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "root", Elevated: true}, withPrograms()); err != nil {
		t.Fatal(err)
	}
	before, _ := st.Config(ctx)
	elevated := Change{Role: ScopeAdmin, Author: "admin", Elevated: true}

	for _, tc := range []struct {
		name    string
		set     func(*config.Config)
		section string
		field   string
		want    string
	}{
		{"group-writable send_program", func(c *config.Config) { c.Virtuals[0].SendProgram = groupW + " %h %p" },
			"virtual", "send_program", "writable by its group (mode 0775): chmod go-w " + groupW},
		{"someone else's active_cmd", func(c *config.Config) { c.Global.ActiveCmd = theirs },
			"global", "active_cmd", "owned by uid 1000, not root"},
		{"inactive_cmd in a world-writable directory", func(c *config.Config) { c.Global.InactiveCmd = inOpen + " standby" },
			"global", "inactive_cmd", "which its group and others can write (mode 0777)"},
		{"a program that is not there", func(c *config.Config) { c.Global.InactiveCmd = filepath.Join(dir, "missing") },
			"global", "inactive_cmd", "cannot be found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.Update(ctx, elevated, func(c *config.Config) error {
				tc.set(c)
				c.Virtuals[0].Port = 8443 // a good edit in the same change is not saved either
				return nil
			})
			var ve *config.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 {
				t.Fatalf("Update = %v, want one field error", err)
			}
			fe := ve.Fields[0]
			if fe.Section != tc.section || fe.Field != tc.field || !strings.Contains(fe.Msg, tc.want) || !strings.Contains(fe.Msg, "root") {
				t.Errorf("refused as %+v, want %s %s: ...%s...", fe, tc.section, tc.field, tc.want)
			}
			if tc.section == "virtual" && (fe.Virtual != 0 || fe.VirtualName != "web") {
				t.Errorf("placed at virtual %d %q", fe.Virtual, fe.VirtualName)
			}
			if c, _ := st.Config(ctx); !reflect.DeepEqual(c, before) {
				t.Error("a refused program changed the configuration")
			}
		})
	}
	if _, err := st.Update(ctx, elevated, func(c *config.Config) error {
		c.Global.InactiveCmd = good + " standby"
		return nil
	}); err != nil {
		t.Errorf("a trusted program: %v", err)
	}
}

// TestProgramsEditsInPlace: an edit that keeps the virtual servers where
// they are is checked on the entries it changed only (issue 20); a real
// server moved with its program from one virtual server to another adds
// no program, and a program added in place is still refused.
func TestProgramsEditsInPlace(t *testing.T) {
	st := openTest(t)
	c := withPrograms()
	mail := config.NewVirtual("mail")
	rs := config.NewReal("r1")
	rs.NotifyUp = "/usr/bin/true up"
	mail.Reals = append(mail.Reals, rs)
	c.Virtuals = append(c.Virtuals, mail, config.NewVirtual("dns"))
	if _, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "root", Elevated: true}, c); err != nil {
		t.Fatal(err)
	}
	plain := Change{Role: ScopeAdmin, Author: "token"}
	if _, err := st.Update(ctx, plain, func(c *config.Config) error {
		c.Virtuals[0].Reals = append(c.Virtuals[0].Reals, c.Virtuals[1].Reals[0])
		c.Virtuals[1].Reals = nil
		return nil
	}); err != nil {
		t.Fatalf("moving a real server with its program: %v", err)
	}
	_, err := st.Update(ctx, plain, func(c *config.Config) error {
		c.Virtuals[2].QuorumUp = "/usr/bin/true quorum"
		return nil
	})
	var pe *ProgramError
	if !errors.As(err, &pe) || len(pe.Programs) != 1 || pe.Programs[0].Field != "quorum_up" {
		t.Fatalf("a program added in place: %v", err)
	}
}
