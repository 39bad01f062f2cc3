package failover_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
)

// The pair's configuration sync at 10,000 virtual servers x 10 real
// servers (issue 20): the standby's Fetch from the active over loopback
// HTTP (the request signed, the answer sealed, as handlers' peerConfig
// serves it: the active's store, lvs.cf written), parsed, and adopted into
// the standby's store.

func large20(nv, nr int) *config.Config {
	c := config.Default()
	for i := range nv {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Active = true
		vs.Address = netip.AddrFrom4([4]byte{198, 18, byte(i / 250), byte(1 + i%250)})
		for j := range nr {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active = true
			rs.Address = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(1 + j)})
			vs.Reals = append(vs.Reals, rs)
		}
		c.Virtuals = append(c.Virtuals, vs)
	}
	return c
}

type pair20 struct {
	active, standby *store.Store
	base            string
	secret          []byte
}

func newPair20(b *testing.B) *pair20 {
	b.Helper()
	ctx := context.Background()
	p := &pair20{secret: bytes.Repeat([]byte("s"), 32)}
	for _, s := range []struct {
		st   **store.Store
		name string
	}{{&p.active, "active.db"}, {&p.standby, "standby.db"}} {
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), s.name))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		if err := st.SetPeerSecret(ctx, p.secret); err != nil {
			b.Fatal(err)
		}
		*s.st = st
	}
	if _, err := p.active.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "bench"}, large20(10000, 10)); err != nil {
		b.Fatal(err)
	}
	v := failover.NewVerifier()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := v.Verify(r, p.secret, time.Now())
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		cfg, err := p.active.Config(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var buf bytes.Buffer
		if err := lvscf.Format(&buf, cfg); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(failover.SealAnswer(p.secret, q, buf.Bytes()))
	}))
	b.Cleanup(srv.Close)
	p.base = srv.URL
	return p
}

// sync is one sync of the standby: Fetch and Adopt, as the director's
// syncFetch does.
func (p *pair20) sync(b *testing.B) {
	ctx := context.Background()
	cfg, err := failover.Fetch(ctx, http.DefaultClient, p.base, p.secret, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.standby.Adopt(ctx, store.Change{Role: store.ScopeAdmin, Author: "peer", Note: "from the active director"}, cfg); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSync10000x10 is the sync of one edit (a weight) on the active.
func BenchmarkSync10000x10(b *testing.B) {
	p := newPair20(b)
	p.sync(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if _, err := p.active.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "bench"}, func(c *config.Config) error {
			c.Virtuals[5000].Reals[5].Weight = int64(2 + i%100)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p.sync(b)
	}
}

// BenchmarkSyncFirst10000x10 is the first sync of a standby that holds
// the default configuration: all 10,000 x 10 to write.
func BenchmarkSyncFirst10000x10(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		p := newPair20(b)
		b.StartTimer()
		p.sync(b)
	}
}
