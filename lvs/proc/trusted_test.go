package proc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestTrusted(t *testing.T) {
	testenv.Root(t) // it makes files as root and gives them away

	base := t.TempDir() // root's, 0700
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), mode))
		must(os.Chmod(p, mode)) // past the umask
		return p
	}
	good := write("good", 0o755)
	groupW := write("groupw", 0o775)
	otherW := write("otherw", 0o757)
	noExec := write("noexec", 0o644)
	theirs := write("theirs", 0o755)
	must(os.Chown(theirs, 1000, 1000))
	inOpen := write("open/prog", 0o755)
	must(os.Chmod(filepath.Dir(inOpen), 0o777))
	inSticky := write("sticky/prog", 0o755)
	must(os.Chmod(filepath.Dir(inSticky), 0o777|os.ModeSticky))
	inTheirs := write("theirdir/prog", 0o755)
	must(os.Chown(filepath.Dir(inTheirs), 1000, 1000))
	must(os.Chmod(filepath.Dir(inTheirs), 0o755))
	// A link in a directory anyone can write, to a good program: the link
	// can be pointed elsewhere.
	must(os.Symlink(good, filepath.Join(base, "open", "link")))
	// A good link to a program in a bad directory.
	must(os.Symlink(inOpen, filepath.Join(base, "link-to-open")))
	must(os.Symlink(good, filepath.Join(base, "link-to-good")))
	must(os.Mkdir(filepath.Join(base, "dir"), 0o755))

	for _, tc := range []struct {
		path string
		want string // "" trusted, else part of the error
	}{
		{good, ""},
		{"/bin/true", ""}, // /bin is a link to usr/bin on Debian
		{filepath.Join(base, "link-to-good"), ""},
		{inSticky, ""},
		{"relative/prog", "not an absolute path"},
		{groupW, "writable by its group (mode 0775)"},
		{otherW, "writable by others (mode 0757)"},
		{noExec, "not executable"},
		{theirs, "owned by uid 1000, not root"},
		{inOpen, "its group and others can write (mode 0777)"},
		{inTheirs, "owned by uid 1000"},
		{filepath.Join(base, "open", "link"), "can write (mode 0777)"},
		{filepath.Join(base, "link-to-open"), "can write (mode 0777)"},
		{filepath.Join(base, "missing"), "cannot be found"},
		{filepath.Join(base, "dir"), "not a regular file"},
		{filepath.Join(good, "x"), "is not one"},
	} {
		err := Trusted(tc.path)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Trusted(%s) = %v, want trusted", tc.path, err)
		case tc.want != "" && err == nil:
			t.Errorf("Trusted(%s) = nil, want %q", tc.path, tc.want)
		case tc.want != "" && (!errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Trusted(%s) = %v, want ErrUntrusted saying %q", tc.path, err, tc.want)
		}
	}
}
