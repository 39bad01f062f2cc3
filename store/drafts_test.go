package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// withUsers opens a store with console users alice and bob, whose drafts
// the tests make, and a virtual server www with real server web1.
func withUsers(t *testing.T) *Store {
	t.Helper()
	st := openTest(t)
	for _, u := range []string{"alice", "bob"} {
		if err := st.SetPassword(ctx, u, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "root"}, func(c *config.Config) error {
		www := config.NewVirtual("www")
		www.Active, www.Address, www.Device = true, netip.MustParseAddr("192.0.2.10"), "eth0"
		web1 := config.NewReal("web1")
		web1.Active, web1.Address = true, netip.MustParseAddr("10.0.0.1")
		www.Reals = []config.RealServer{web1}
		c.Virtuals = []config.VirtualServer{www}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

func weight(w int64) func(*config.Config) error {
	return func(c *config.Config) error { c.Virtuals[0].Reals[0].Weight = w; return nil }
}

// A draft is its owner's: the running configuration and other users'
// drafts do not see it, until APPLY makes it one revision.
func TestDraftsArePerUserUntilApplied(t *testing.T) {
	st := withUsers(t)
	before, _ := st.Config(ctx)
	d, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice", Base: before.Serial}, 0, weight(7))
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 1 || d.Base.Serial != before.Serial || d.Config.Virtuals[0].Reals[0].Weight != 7 {
		t.Fatalf("draft version %d on %d, weight %d", d.Version, d.Base.Serial, d.Config.Virtuals[0].Reals[0].Weight)
	}
	if n, _ := st.Serial(ctx); n != before.Serial {
		t.Fatalf("an edit of a draft moved the serial to %d", n)
	}
	if _, err := st.Draft(ctx, "bob"); !errors.Is(err, ErrNoDraft) {
		t.Fatalf("bob's draft: %v, want ErrNoDraft", err)
	}
	if got := d.Changes(before); len(got) != 1 || !strings.Contains(got[0], "web1: Weight (weight) 1 -> 7") {
		t.Fatalf("changes %q", got)
	}
	saved, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, Apply{Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if saved.Serial != before.Serial+1 || saved.Virtuals[0].Reals[0].Weight != 7 {
		t.Fatalf("applied serial %d, weight %d", saved.Serial, saved.Virtuals[0].Reals[0].Weight)
	}
	if _, err := st.Draft(ctx, "alice"); !errors.Is(err, ErrNoDraft) {
		t.Fatalf("after APPLY: %v, want ErrNoDraft", err)
	}
	revs, _ := st.Revisions(ctx, 0, 1)
	if revs[0].Author != "alice" || !strings.Contains(revs[0].Summary, "Weight (weight) 1 -> 7") {
		t.Fatalf("revision %+v", revs[0])
	}
}

// Pending changes survive a restart.
func TestDraftSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lvs.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPassword(ctx, "alice", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, 0, func(c *config.Config) error {
		c.Global.Primary = netip.MustParseAddr("192.0.2.1")
		c.Virtuals = append(c.Virtuals, config.NewVirtual("new"))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.Draft(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if d.Config.Global.Primary.String() != "192.0.2.1" || d.Config.Virtuals[len(d.Config.Virtuals)-1].ID >= 0 {
		t.Fatalf("after reopening: primary %v, new entry id %d (want a provisional id below 0)",
			d.Config.Global.Primary, d.Config.Virtuals[len(d.Config.Virtuals)-1].ID)
	}
	saved, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, Apply{Version: AnyVersion})
	if err != nil {
		t.Fatal(err)
	}
	if id := saved.Virtuals[len(saved.Virtuals)-1].ID; id <= 0 {
		t.Fatalf("applied new entry has id %d", id)
	}
}

// An edit made on an older version of the draft (another window) is
// refused, as is one made on the running configuration of an older serial
// when there is no draft; an edit that brings the draft back to the
// running configuration removes it.
func TestDraftConflicts(t *testing.T) {
	st := withUsers(t)
	cur, _ := st.Config(ctx)
	alice := Change{Role: ScopeAdmin, Author: "alice", Base: cur.Serial}
	if _, err := st.EditDraft(ctx, alice, 0, weight(5)); err != nil {
		t.Fatal(err)
	}
	var dc *DraftConflictError
	if _, err := st.EditDraft(ctx, alice, 0, weight(6)); !errors.As(err, &dc) || !errors.Is(err, ErrConflict) || dc.Current != 1 {
		t.Fatalf("an edit of version 0 over version 1: %v", err)
	}
	if _, err := st.EditDraft(ctx, alice, 1, weight(5)); !errors.Is(err, ErrNoChange) {
		t.Fatalf("an edit that changes nothing: %v", err)
	}
	d, err := st.EditDraft(ctx, alice, 1, weight(1))
	if err != nil || d.Version != 0 {
		t.Fatalf("back to the running value: version %v, %v; want the draft removed", d, err)
	}
	if _, err := st.Draft(ctx, "alice"); !errors.Is(err, ErrNoDraft) {
		t.Fatalf("draft: %v, want ErrNoDraft", err)
	}
	var ce *ConflictError
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "bob", Base: cur.Serial - 1}, 0, weight(3)); !errors.As(err, &ce) {
		t.Fatalf("an edit on an old serial without a draft: %v", err)
	}
	// A draft refuses what Update refuses, all of it at once.
	var ve *config.ValidationError
	_, err = st.EditDraft(ctx, alice, 0, func(c *config.Config) error {
		c.Virtuals[0].Port, c.Virtuals[0].Reals[0].Weight = 0, -1
		return nil
	})
	if !errors.As(err, &ve) || len(ve.Fields) < 2 {
		t.Fatalf("an invalid draft: %v", err)
	}
}

// When the running configuration moves on under a draft, APPLY rebases it:
// both changes are kept.
func TestApplyDraftRebases(t *testing.T) {
	st := withUsers(t)
	cur, _ := st.Config(ctx)
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice", Base: cur.Serial}, 0, weight(9)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "bob", Base: cur.Serial}, 0, func(c *config.Config) error {
		c.Virtuals[0].Port = 8443
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "bob"}, Apply{Version: 1}); err != nil {
		t.Fatal(err)
	}
	d, err := st.Draft(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if d.Base.Serial != cur.Serial+1 || len(d.Changes(d.Base)) != 1 {
		t.Fatalf("alice's draft on %d changes %q", d.Base.Serial, d.Changes(d.Base))
	}
	saved, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, Apply{Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if saved.Virtuals[0].Port != 8443 || saved.Virtuals[0].Reals[0].Weight != 9 {
		t.Fatalf("port %d weight %d: one change was lost", saved.Virtuals[0].Port, saved.Virtuals[0].Reals[0].Weight)
	}
}

// A field both changed differently is a conflict: APPLY refuses and names
// it; the owner resolves it by editing the draft.
func TestApplyDraftConflict(t *testing.T) {
	st := withUsers(t)
	cur, _ := st.Config(ctx)
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice", Base: cur.Serial}, 0, weight(9)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "bob", Base: cur.Serial}, weight(4)); err != nil {
		t.Fatal(err)
	}
	var me *MergeError
	_, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, Apply{Version: 1})
	if !errors.As(err, &me) || !errors.Is(err, ErrConflict) || len(me.Conflicts) != 1 || me.Running.Author != "bob" {
		t.Fatalf("APPLY over a conflict: %v", err)
	}
	if n, _ := st.Serial(ctx); n != cur.Serial+1 {
		t.Fatalf("a refused APPLY moved the serial to %d", n)
	}
	// Taking the running value resolves it: the draft is then empty.
	d, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, 1, weight(4))
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 0 {
		t.Fatalf("resolved draft still pending (version %d)", d.Version)
	}
}

// The rule for programs holds through drafts: taking a program into a
// draft needs the password then, which the draft remembers for its
// owner's APPLY from the console; an APPLY without that proof (an API
// token's) is refused.
func TestDraftPrograms(t *testing.T) {
	st := withUsers(t)
	program := func(c *config.Config) error {
		c.Virtuals[0].SendProgram = "/usr/bin/true %h"
		return nil
	}
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, 0, program); !errors.Is(err, ErrNeedsPassword) {
		t.Fatalf("a program into a draft without the password: %v", err)
	}
	d, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice", Elevated: true}, 0, program)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Proved {
		t.Fatal("the draft forgot the password was given")
	}
	// Another edit, without the password, keeps the proof.
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, 1, weight(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, Apply{Version: 2}); !errors.Is(err, ErrNeedsPassword) {
		t.Fatalf("APPLY of a program without the proof (a token): %v", err)
	}
	if _, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, Apply{Version: 2, Proof: true}); err != nil {
		t.Fatalf("APPLY from the owner's session: %v", err)
	}
}

// An APPLY with rollback not confirmed by its deadline is rolled back, by
// a revision that says so; one confirmed is kept; the pending confirmation
// survives a restart, and a deadline passed meanwhile is due at once.
func TestRollBack(t *testing.T) {
	st := withUsers(t)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	st.now = func() time.Time { return now }
	cur, _ := st.Config(ctx)
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, 0, weight(8)); err != nil {
		t.Fatal(err)
	}
	applied, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, Apply{Version: 1, Rollback: 10 * time.Minute, Delay: "10 minutes"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Pending(ctx)
	if err != nil || c.Serial != applied.Serial || c.Previous != cur.Serial || !c.Deadline.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("pending %+v, %v", c, err)
	}
	if _, _, err := st.RollBack(ctx); !errors.Is(err, ErrNoConfirmation) {
		t.Fatalf("rollback before the deadline: %v", err)
	}
	now = now.Add(10 * time.Minute)
	saved, c, err := st.RollBack(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Virtuals[0].Reals[0].Weight != 1 || c.Serial != applied.Serial {
		t.Fatalf("after the rollback weight %d", saved.Virtuals[0].Reals[0].Weight)
	}
	revs, _ := st.Revisions(ctx, 0, 1)
	if revs[0].Author != RollbackAuthor || !strings.Contains(revs[0].Summary, "rolled back automatically") ||
		!strings.Contains(revs[0].Summary, "not confirmed within 10 minutes") {
		t.Fatalf("the rollback's revision %+v", revs[0])
	}
	// The audit trail: the APPLY, then the rollback, each with its serial.
	if es, _ := st.AuditQuery(ctx, AuditFilter{Kind: AuditRollback}); len(es) != 1 || es[0].Actor != RollbackAuthor ||
		es[0].Fields["serial"] != fmt.Sprint(saved.Serial) {
		t.Errorf("the rollback's audit entries: %+v", es)
	}
	if es, _ := st.AuditQuery(ctx, AuditFilter{Kind: AuditApply, Actor: "alice"}); len(es) != 1 || es[0].Fields["serial"] != fmt.Sprint(applied.Serial) {
		t.Errorf("the APPLY's audit entries: %+v", es)
	}
	if _, err := st.Pending(ctx); !errors.Is(err, ErrNoConfirmation) {
		t.Fatalf("after the rollback: %v", err)
	}

	// Confirmed: kept.
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, 0, weight(8)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, Apply{Version: 1, Rollback: time.Minute, Delay: "1 minute"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Confirm(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if _, _, err := st.RollBack(ctx); !errors.Is(err, ErrNoConfirmation) {
		t.Fatalf("rollback after CONFIRM: %v", err)
	}
}

// WatchConfirmations, serve's stage, rolls back at the deadline, with the
// real clock, and a change applied by someone else meanwhile is kept.
func TestWatchConfirmations(t *testing.T) {
	st := withUsers(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rolled := make(chan *Confirmation, 1)
	done := make(chan error, 1)
	go func() {
		done <- st.WatchConfirmations(ctx, func(_ *config.Config, c *Confirmation, err error) {
			if err != nil {
				t.Errorf("rollback failed: %v", err)
			}
			rolled <- c
		})
	}()
	if _, err := st.EditDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, 0, weight(8)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ApplyDraft(ctx, Change{Role: ScopeAdmin, Author: "alice"}, Apply{Version: 1, Rollback: 300 * time.Millisecond, Delay: "0.3 seconds"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(ctx, Change{Role: ScopeAdmin, Author: "bob"}, func(c *config.Config) error { c.Virtuals[0].Port = 8080; return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-rolled:
		if c.Owner != "alice" {
			t.Fatalf("rolled back %+v", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no rollback within 30 s of a 0.3 s deadline")
	}
	cur, _ := st.Config(ctx)
	if cur.Virtuals[0].Reals[0].Weight != 1 || cur.Virtuals[0].Port != 8080 {
		t.Fatalf("after the rollback: weight %d (want 1 again), port %d (bob's 8080 kept)", cur.Virtuals[0].Reals[0].Weight, cur.Virtuals[0].Port)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
