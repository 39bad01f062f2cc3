package store

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestAdopt: a configuration from the peer is saved at the peer's serial,
// keeps local ids by name, is refused when not newer, and is saved even
// when only the serial differs (so that both directors agree on it).
func TestAdopt(t *testing.T) {
	st := openTest(t)
	cur, err := st.Replace(ctx, Change{Role: ScopeAdmin, Author: "test", Elevated: true}, rich())
	if err != nil {
		t.Fatal(err)
	}
	peer := cur.Clone()
	peer.Virtuals[0].Reals[0].Weight = 77
	peer.Virtuals[0].ID, peer.Virtuals[0].Reals[0].ID = 9999, 8888 // the peer's own ids
	peer.Serial = cur.Serial + 5

	got, err := st.Adopt(ctx, Change{Role: ScopeAdmin, Author: "peer 192.0.2.2"}, peer)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != cur.Serial+5 {
		t.Errorf("adopted at serial %d, want the peer's %d", got.Serial, cur.Serial+5)
	}
	if got.Virtuals[0].ID != cur.Virtuals[0].ID || got.Virtuals[0].Reals[0].ID != cur.Virtuals[0].Reals[0].ID {
		t.Errorf("ids %d/%d, want the local %d/%d", got.Virtuals[0].ID, got.Virtuals[0].Reals[0].ID, cur.Virtuals[0].ID, cur.Virtuals[0].Reals[0].ID)
	}
	if w := got.Virtuals[0].Reals[0].Weight; w != 77 {
		t.Errorf("weight %d, want the peer's 77", w)
	}
	if n, err := st.Serial(ctx); err != nil || n != peer.Serial {
		t.Errorf("Serial = %d, %v; want %d", n, err, peer.Serial)
	}
	rev, _, err := st.Revision(ctx, peer.Serial)
	if err != nil || rev.Author != "peer 192.0.2.2" {
		t.Errorf("revision %d: %+v, %v", peer.Serial, rev, err)
	}

	// Not newer: refused, nothing written.
	if _, err := st.Adopt(ctx, Change{Role: ScopeAdmin, Author: "peer"}, peer); !errors.Is(err, ErrStale) {
		t.Errorf("adopting the same serial again: %v, want ErrStale", err)
	}
	// Same content, higher serial: saved for the serial.
	same := got.Clone()
	same.Serial = got.Serial + 1
	if _, err := st.Adopt(ctx, Change{Role: ScopeAdmin, Author: "peer"}, same); err != nil {
		t.Errorf("adopting only a newer serial: %v", err)
	}
	// Invalid: refused like any change.
	bad := same.Clone()
	bad.Serial = same.Serial + 1
	bad.Virtuals[0].Port = 70000
	var ve *config.ValidationError
	if _, err := st.Adopt(ctx, Change{Role: ScopeAdmin, Author: "peer"}, bad); !errors.As(err, &ve) {
		t.Errorf("adopting an invalid configuration: %v, want a validation error", err)
	}
	if n, _ := st.Serial(ctx); n != same.Serial {
		t.Errorf("serial %d after a refused adoption, want %d", n, same.Serial)
	}
}

func TestPeerSecret(t *testing.T) {
	st := openTest(t)
	if _, _, err := st.PeerSecret(ctx); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("PeerSecret on a new database: %v, want ErrNoSecret", err)
	}
	if err := st.SetPeerSecret(ctx, []byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
	key := bytes.Repeat([]byte{7}, 32)
	serial, _ := st.Serial(ctx)
	if err := st.SetPeerSecret(ctx, key); err != nil {
		t.Fatal(err)
	}
	got, at, err := st.PeerSecret(ctx)
	if err != nil || !bytes.Equal(got, key) || at.IsZero() {
		t.Errorf("PeerSecret = %x, %v, %v", got, at, err)
	}
	if n, _ := st.Serial(ctx); n != serial {
		t.Errorf("setting the secret moved the serial from %d to %d: it is not configuration", serial, n)
	}
}
