package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestHealthzCopiesNothing: /healthz, which anyone may call, reads the
// store's own configuration: it copied the whole of it for every request
// (24 MB and some 20 ms of CPU at 10,000 x 10), an easy way to load a
// director from outside.
func TestHealthzCopiesNothing(t *testing.T) {
	// Not newEnv: its guard on shared configurations digests each one
	// lent, which is what this measures.
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "console.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	console, err := New(ctx, Options{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SetupCode: testSetupCode})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	for i := range 2000 {
		vs := config.NewVirtual(fmt.Sprintf("vs%d", i))
		vs.Address, vs.Port = netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(1 + i%250)}), 80
		for j := range 10 {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Address = netip.AddrFrom4([4]byte{10, 2, byte(i / 25), byte(1 + j + 10*(i%25))})
			vs.Reals = append(vs.Reals, rs)
		}
		cfg.Virtuals = append(cfg.Virtuals, vs)
	}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}
	get := func() {
		w := httptest.NewRecorder()
		console.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET /healthz: %d %s", w.Code, w.Body)
		}
	}
	get() // the store reads the configuration once
	const n = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		get()
	}
	runtime.ReadMemStats(&after)
	// A copy of 2,000 x 10 is some 5 MB; a request without one, a few kB.
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 512<<10 {
		t.Errorf("GET /healthz allocates %d kB a request: it copies the configuration", per>>10)
	}
}
