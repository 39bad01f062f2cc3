package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

// bigLive is an engine with 1,000 live services of 10 destinations each,
// with counters, and an hour of rates for every virtual server.
type bigLive struct {
	st   engine.Status
	hist []engine.Point
}

func (b *bigLive) Status() engine.Status              { return b.st }
func (b *bigLive) History(name string) []engine.Point { return b.hist }
func (b *bigLive) Busiest(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("vs%04d", i))
	}
	return out
}

type bigHealth struct{}

func (bigHealth) Of(vs *config.VirtualServer, rs *config.RealServer) (engine.ServerHealth, bool) {
	return engine.ServerHealth{State: "up", Reason: "connected", Since: time.Now()}, true
}
func (bigHealth) Events(n int) []engine.Event {
	evs := make([]engine.Event, n)
	for i := range evs {
		evs[i] = engine.Event{Time: time.Now(), Server: "10.1.0.1:80", From: "up", To: "down", Reason: "connect refused"}
	}
	return evs
}

// dashboard1000x10 is a console over a real database holding 1,000 virtual
// servers of 10 real servers, with bigLive and bigHealth as its sources.
func dashboard1000x10(b *testing.B) (*Console, *httptest.Server, *http.Client) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "big.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.SetPassword(ctx, "admin", testPassword); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	tbl := &engine.Table{}
	for i := range 1000 {
		vs := config.NewVirtual(fmt.Sprintf("vs%04d", i))
		vs.Active, vs.Address = true, netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i%250 + 1)})
		key := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vs.Address, Port: 80}
		svc := &engine.Service{Service: ipvs.Service{ServiceKey: key, Scheduler: "wlc", Stats: ipvs.Stats{Conns: 1 << 40, CPS: 1000, InBPS: 1 << 20}}, Virtual: vs.Name}
		for j := range 10 {
			rs := config.NewReal(fmt.Sprintf("rs%d", j))
			rs.Active, rs.Address = true, netip.AddrFrom4([4]byte{10, 1 + byte(j), byte(i / 250), byte(i%250 + 1)})
			vs.Reals = append(vs.Reals, rs)
			svc.Dests = append(svc.Dests, ipvs.Destination{Addr: rs.Address, Port: 80, Forward: ipvs.Masquerade, Weight: 1,
				ActiveConns: 100, InactiveConns: 1000, Stats: ipvs.Stats{Conns: 1 << 30, CPS: 100}})
		}
		cfg.Virtuals = append(cfg.Virtuals, vs)
		tbl.Services = append(tbl.Services, svc)
	}
	saved, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "bench"}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	live := &bigLive{st: engine.Status{Running: true, Available: true, Serial: saved.Serial, Desired: tbl, Kernel: tbl}}
	for i := range 720 {
		live.hist = append(live.hist, engine.Point{At: time.Now().Add(time.Duration(i-720) * 5 * time.Second), CPS: float64(i), BPS: float64(i) * 1e6})
	}
	c, err := New(ctx, Options{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Engine: live, History: live, Health: bigHealth{}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(c)
	b.Cleanup(srv.Close)
	e := &testEnv{store: st, console: c, srv: srv}
	return c, srv, e.login(b)
}

// BenchmarkDashboard1000x10 is the benchmark: CONTROL/MONITORING
// for 1,000 virtual servers x 10 real servers with live counters, health,
// charts and events. It reports the page's render time over HTTP (p50,
// p99), the cost of one live update (the fragment the stream sends), and
// the heap the console holds.
func BenchmarkDashboard1000x10(b *testing.B) {
	c, srv, client := dashboard1000x10(b)
	b.Run("page", func(b *testing.B) {
		var times []time.Duration
		var size int64
		for b.Loop() {
			start := time.Now()
			resp, err := client.Get(srv.URL + "/control")
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("GET /control: %s", resp.Status)
			}
			times = append(times, time.Since(start))
			size = n
		}
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(size)/(1<<20), "page-MB")
	})
	b.Run("update", func(b *testing.B) {
		b.ReportAllocs()
		buf := new(bytes.Buffer)
		for b.Loop() {
			buf.Reset()
			if err := c.writeUpdate(context.Background(), buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len())/(1<<20), "event-MB")
	})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("heap in use after the runs: %.1f MB (Sys %.1f MB)", float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20))
}
