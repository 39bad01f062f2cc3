//go:build unix

package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The database holds password hashes and the peer secret: no other local
// user may read it, whatever the umask, and an older database made
// world-readable is repaired when opened.
func TestDatabaseFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, under which SQLite makes 0644 files
	defer syscall.Umask(old)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lvs.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Repaired(); len(got) != 0 {
		t.Errorf("a new database reports repairs: %q", got)
	}
	if err := s.SetPassword(ctx, "admin", "a-long-password"); err != nil { // writes, so WAL and SHM exist
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), m)
		}
	}
	s.Close()

	// A database an older version left world-readable.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep := s.Repaired()
	if len(rep) == 0 || !strings.Contains(rep[0], "lvs.db was mode 0644, readable by others: now 0600") {
		t.Errorf("Repaired() = %q, want the main file's repair named", rep)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("after reopening, %s: mode %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}
