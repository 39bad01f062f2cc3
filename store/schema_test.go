package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenPrivateDirAndMigrations: Open makes a missing directory 0700,
// whatever the umask; AppliedMigration reads the migrations applied,
// LatestMigration's, and leaves no -wal or -shm behind.
func TestOpenPrivateDirAndMigrations(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	db := filepath.Join(dir, "lvs.db")
	st, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("the database's directory is %04o, want 0700", fi.Mode().Perm())
	}
	v, err := AppliedMigration(ctx, db)
	if err != nil || v != LatestMigration() || v < 1 {
		t.Errorf("AppliedMigration = %d, %v; LatestMigration %d", v, err, LatestMigration())
	}
	for _, f := range []string{db + "-wal", db + "-shm"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left behind", f)
		}
	}
}
