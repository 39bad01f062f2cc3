package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestGuardShared: a reader that changes what the store lent is caught,
// in the running configuration and in a draft.
func TestGuardShared(t *testing.T) {
	open := func() *Store { // not openTest, whose guard would fail the test
		st, err := Open(ctx, filepath.Join(t.TempDir(), "guard.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := open()
	st.GuardShared()
	if err := st.SetPassword(ctx, "admin", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	c, err := st.SharedConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SharedConfig(ctx); err != nil || st.SharedChanged() != nil {
		t.Fatalf("nothing changed: %v, %v", err, st.SharedChanged())
	}
	c.Global.TCPTimeout = 5
	if err := st.SharedChanged(); err == nil {
		t.Error("a change of the lent configuration was not seen")
	}

	other := open()
	other.GuardShared()
	if err := other.SetPassword(ctx, "admin", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "admin"}, AnyVersion, func(c *config.Config) error {
		c.Global.TCPTimeout = 7
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d, err := other.SharedDraft(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	d.Config.Virtuals = append(d.Config.Virtuals, config.NewVirtual("x"))
	if err := other.SharedChanged(); err == nil {
		t.Error("a change of the lent draft was not seen")
	}
}

// TestFollowSignalsOtherProcesses: a change another process writes (here
// another Store on the same file, as lvsconsole import is) reaches the
// subscribers while Follow runs, as the store's own changes do.
func TestFollowSignalsOtherProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "follow.db")
	serve, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer serve.Close()
	changes, stop := serve.Subscribe()
	defer stop()
	fctx, cancel := context.WithCancel(ctx)
	followed := make(chan error, 1)
	go func() { followed <- serve.Follow(fctx, 10*time.Millisecond) }()
	defer func() { cancel(); <-followed }()

	cli, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	saved, err := cli.Update(ctx, Change{Role: ScopeAdmin, Author: "import"}, func(c *config.Config) error {
		c.Global.TCPTimeout = 77
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A reader (the engine polls the serial too) may load the change
	// before Follow's tick: it is signalled all the same.
	if got, err := serve.SharedConfig(ctx); err != nil || got.Serial != saved.Serial {
		t.Fatalf("reading the change: %v, %v", got, err)
	}
	select {
	case <-changes:
	case <-time.After(10 * time.Second):
		t.Fatal("a change written by another process was not signalled")
	}
	if got, err := serve.SharedConfig(ctx); err != nil || got.Serial != saved.Serial || got.Global.TCPTimeout != 77 {
		t.Fatalf("after the signal: %v, %v", got, err)
	}
}
