package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/store"
)

// TestAuditRetention: the stage prunes at start what is older than the
// retention, and keeps the rest.
func TestAuditRetention(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "lvs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, age := range []int{500, 401, 399, 1} {
		if err := st.Audit(ctx, store.AuditEntry{Kind: store.AuditLogin, Detail: "old", Time: now.AddDate(0, 0, -age)}); err != nil {
			t.Fatal(err)
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() {
		done <- auditRetention(st, 400*24*time.Hour, time.Hour, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))(sctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		es, err := st.AuditQuery(ctx, store.AuditFilter{Kind: store.AuditLogin})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 seconds %d entries, want the 2 younger than 400 days", len(es))
		}
		time.Sleep(10 * time.Millisecond) // polling for the stage's first prune
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// TestCLIAudit: passwd, secret and import at the command line are in the
// audit trail, as the user who ran them.
func TestCLIAudit(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lvs.db")
	src := filepath.Join("..", "..", "lvs", "lvscf", "testdata", "piranha-example.cf")
	if _, _, err := runCmd(t, "good password\ngood password\n", "passwd", "-db", db, "-user", "ops"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "", "secret", "-db", db, "-generate"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "", "import", "-db", db, src); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	es, err := st.AuditQuery(ctx, store.AuditFilter{Actor: cliAuthor()})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i := len(es) - 1; i >= 0; i-- {
		kinds = append(kinds, es[i].Kind)
	}
	if want := []string{store.AuditUser, store.AuditSecret, store.AuditImport}; !slices.Equal(kinds, want) {
		t.Errorf("the CLI's entries as %s: %v, want %v", cliAuthor(), kinds, want)
	}
}
