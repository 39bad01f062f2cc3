// Package proc runs the programs a director runs on an admin's behalf
// (piranha's send_program, active_cmd and inactive_cmd, keepalived's
// notify and quorum programs): only files that only root can change, never
// through a shell, with no capabilities (whatever serve's are), each in its
// own process group that is killed whole at its timeout, with its output
// capped.
//
// It needs a Unix (file owners, process groups): elsewhere Trusted refuses
// every program, so Run runs none.
package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrUntrusted is why a program may not be run: see Trusted.
var ErrUntrusted = errors.New("untrusted program")

// Trusted reports whether path names a program that only root can change:
// an absolute path to a regular, executable file owned by root and not
// writable by group or others, in directories (all the way up, along the
// path as written and as its symbolic links resolve) owned by root and
// writable by no one else (or sticky, as /tmp is, where nobody else can
// replace root's file). The console's users can change what a director
// runs, and it runs as root; this keeps them from writing the program they
// then have run. The error wraps ErrUntrusted and says what is wrong.
func Trusted(path string) error {
	if !filepath.IsAbs(path) {
		return untrusted(path, "is not an absolute path")
	}
	clean := filepath.Clean(path)
	if err := trustedDirs(path, filepath.Dir(clean)); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(clean)
	if err != nil {
		return untrusted(path, "cannot be found: %v", unwrapPath(err))
	}
	if real != clean {
		if err := trustedDirs(path, filepath.Dir(real)); err != nil {
			return err
		}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return untrusted(path, "cannot be read: %v", unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		return untrusted(path, "is not a regular file")
	}
	if err := ownedByRoot(path, real, fi); err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return untrusted(path, "is writable by %s (mode %04o): chmod go-w %s", writers(fi.Mode()), fi.Mode().Perm(), real)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return untrusted(path, "is not executable (mode %04o)", fi.Mode().Perm())
	}
	return nil
}

// trustedDirs checks dir and every directory above it.
func trustedDirs(path, dir string) error {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return untrusted(path, "cannot be found: %v", unwrapPath(err))
		}
		if !fi.IsDir() {
			return untrusted(path, "is not in a directory: %s is not one", dir)
		}
		if err := ownedByRoot(path, dir, fi); err != nil {
			return err
		}
		if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
			return untrusted(path, "is in %s, which %s can write (mode %04o): anyone who can write there can replace the program",
				dir, writers(fi.Mode()), fi.Mode().Perm())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

func ownedByRoot(path, name string, fi fs.FileInfo) error {
	uid, ok := owner(fi)
	if !ok {
		return untrusted(path, "has no owner this system can read")
	}
	if uid != 0 {
		what := "is"
		if name != path {
			what = name + " is"
		}
		return untrusted(path, "%s owned by uid %d, not root: only root's files may run as root (chown root %s)", what, uid, name)
	}
	return nil
}

func writers(m fs.FileMode) string {
	var w []string
	if m.Perm()&0o020 != 0 {
		w = append(w, "its group")
	}
	if m.Perm()&0o002 != 0 {
		w = append(w, "others")
	}
	return strings.Join(w, " and ")
}

// unwrapPath drops the path a *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func untrusted(path, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s", ErrUntrusted, path, fmt.Sprintf(format, args...))
}
