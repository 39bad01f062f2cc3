package store

import (
	"errors"
	"sync"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/load/sshload"
)

var _ sshload.HostKeys = (*Store)(nil)

const (
	fpA = "SHA256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	fpB = "SHA256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// TestHostKeys: a pin is kept in the file (seen after reopening), the first
// pin wins and is never overwritten, the list shows it, and forgetting it
// writes an audit entry naming the admin and the fingerprint.
func TestHostKeys(t *testing.T) {
	st := openTest(t)
	if fp, ok := st.Pinned("192.0.2.10:22"); ok {
		t.Fatalf("Pinned before any pin = %q, true", fp)
	}
	if err := st.Pin("192.0.2.10:22", fpA); err != nil {
		t.Fatal(err)
	}
	if err := st.Pin("192.0.2.10:22", fpA); err != nil {
		t.Errorf("pinning the same key again: %v", err)
	}
	var conflict *HostKeyConflictError
	if err := st.Pin("192.0.2.10:22", fpB); !errors.As(err, &conflict) || conflict.Pinned != fpA || conflict.Offered != fpB {
		t.Errorf("pinning another key: %v, want a HostKeyConflictError naming both", err)
	}
	for _, bad := range [][2]string{{"", fpA}, {"192.0.2.11:22", "MD5:00"}, {"192.0.2.11:22", "SHA256:a b"}, {"h\n:22", fpA}} {
		if err := st.Pin(bad[0], bad[1]); err == nil {
			t.Errorf("Pin(%q, %q) = nil, want an error", bad[0], bad[1])
		}
	}

	// Kept in the file.
	path := st.Path()
	st.Close()
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if fp, ok := st.Pinned("192.0.2.10:22"); !ok || fp != fpA {
		t.Errorf("after reopening: Pinned = %q, %v; want %s", fp, ok, fpA)
	}
	keys, err := st.HostKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Host != "192.0.2.10:22" || keys[0].Fingerprint != fpA || keys[0].Pinned.IsZero() {
		t.Fatalf("HostKeys = %+v, %v", keys, err)
	}

	actx := WithActor(ctx, Actor{Name: "alice", Client: "198.51.100.7"})
	if err := st.ForgetHostKey(actx, "192.0.2.10:22"); err != nil {
		t.Fatal(err)
	}
	if err := st.ForgetHostKey(actx, "192.0.2.10:22"); !errors.Is(err, ErrNoHostKey) {
		t.Errorf("forgetting again: %v, want ErrNoHostKey", err)
	}
	if _, ok := st.Pinned("192.0.2.10:22"); ok {
		t.Error("still pinned after ForgetHostKey")
	}
	// The next connection pins what it is offered.
	if err := st.Pin("192.0.2.10:22", fpB); err != nil {
		t.Errorf("pinning after forgetting: %v", err)
	}

	es, err := st.AuditQuery(ctx, AuditFilter{Kind: AuditHostKeyForgotten})
	if err != nil || len(es) != 1 {
		t.Fatalf("audit of the forget: %+v, %v", es, err)
	}
	if e := es[0]; e.Actor != "alice" || e.Client != "198.51.100.7" || e.Fields["host"] != "192.0.2.10:22" || e.Fields["fingerprint"] != fpA {
		t.Errorf("audit entry %+v", e)
	}
	pinned, err := st.AuditQuery(ctx, AuditFilter{Kind: AuditHostKeyPinned})
	if err != nil || len(pinned) != 2 || pinned[0].Actor != SystemActor {
		t.Errorf("audit of the pins: %+v, %v; want 2 by %s", pinned, err, SystemActor)
	}
}

// TestPinRace: of many concurrent first pins of different keys for one
// address exactly one wins, and every other is refused.
func TestPinRace(t *testing.T) {
	st := openTest(t)
	const n = 16
	var (
		wg   sync.WaitGroup
		errs [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fp := fpA
			if i%2 == 1 {
				fp = fpB
			}
			errs[i] = st.Pin("192.0.2.20:22", fp)
		}()
	}
	wg.Wait()
	won, _ := st.Pinned("192.0.2.20:22")
	for i, err := range errs {
		fp := fpA
		if i%2 == 1 {
			fp = fpB
		}
		var conflict *HostKeyConflictError
		switch {
		case fp == won && err != nil:
			t.Errorf("pin %d of the winning key %s: %v", i, fp, err)
		case fp != won && !errors.As(err, &conflict):
			t.Errorf("pin %d of the losing key %s: %v, want a HostKeyConflictError", i, fp, err)
		}
	}
	if won != fpA && won != fpB {
		t.Fatalf("pinned %q", won)
	}
}
