package check_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// script writes an executable /bin/sh script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatalf("write script: %v", err)
	}
	return path
}

// TestProgramUntrusted: a send_program that someone other than root could
// have written is not run (the file it would write stays absent), and the
// check is DOWN saying why.
func TestProgramUntrusted(t *testing.T) {
	testenv.Root(t) // it gives files away
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, want string
		setup      func(path string) error
	}{
		{"writable by others", "writable by others", func(p string) error { return os.Chmod(p, 0o757) }},
		{"another owner's", "owned by uid 1000", func(p string) error { return os.Chown(p, 1000, 1000) }},
		{"in an open directory", "can write", func(p string) error { return os.Chmod(filepath.Dir(p), 0o777) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := filepath.Join(dir, strings.Map(func(r rune) rune {
				if r == ' ' || r == '\'' {
					return '-'
				}
				return r
			}, tc.name))
			marker := filepath.Join(dir, filepath.Base(sub)+".ran")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			prog := script(t, sub, "check.sh", "touch "+marker+"\necho ok\n")
			if err := tc.setup(prog); err != nil {
				t.Fatal(err)
			}
			spec := progSpec(prog)
			spec.Expect = "ok"
			r := check.Run(t.Context(), spec, progTarget)
			wantDown(t, r, tc.want)
			if !strings.Contains(r.Reason, "untrusted program") {
				t.Errorf("the reason %q does not say the program is untrusted", r.Reason)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the untrusted program ran: %s exists (stat: %v)", marker, err)
			}
		})
	}
}
