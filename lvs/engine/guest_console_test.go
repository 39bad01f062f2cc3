//go:build guest

package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/internal/testnet"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestGuestConsoleShowsTraffic: real traffic through a NAT service of the
// real kernel (namespaces cli - dir - r1, r2 of kernel_test.go) shows up
// in the console's routing table and in /metrics, read by the engine's
// sampler as serve runs it.
func TestGuestConsoleShowsTraffic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ns := range []string{"r1", "r2"} {
		var ln net.Listener
		if err := netns.Do(ns, func() (err error) { ln, err = net.Listen("tcp", ":80"); return err }); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		testnet.Serve(ln, func(c net.Conn) { fmt.Fprintln(c, ns) })
	}

	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "console.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SetPassword(ctx, "admin", "guest password"); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Global.Network = config.NAT
	vs := config.NewVirtual("web")
	// Port 8080: a service of its own, not one an earlier test left.
	vs.Active, vs.Address, vs.Port, vs.Scheduler = true, netip.MustParseAddr("10.1.0.1"), 8080, "rr"
	vs.Reals = []config.RealServer{
		{Name: "r1", Active: true, Address: netip.MustParseAddr("192.168.10.11"), Port: 80, Weight: 1},
		{Name: "r2", Active: true, Address: netip.MustParseAddr("192.168.10.12"), Port: 80, Weight: 1},
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/run/netns/dir")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := engine.New(engine.Options{Source: st, Ledger: st, Log: quiet, Sample: 200 * time.Millisecond,
		Dial: func() (engine.Kernel, error) { return ipvs.Dial(&ipvs.Options{NetNS: int(f.Fd())}) }})
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-eng.Applied():
	case <-time.After(30 * time.Second):
		t.Fatalf("the engine did not apply the configuration: %+v", eng.Status())
	}
	if s := eng.Status(); !s.Available {
		t.Fatalf("IPVS not available in the guest: %s", s.Reason)
	}

	// Services other tests left in this namespace are foreign to this
	// engine; count from what the first sample says of ours.
	key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: vs.Address, Port: 8080}
	conns := func() (svc uint64, dests map[string]uint64, ok bool) {
		st := eng.Status()
		if st.Kernel == nil || st.Sampled.IsZero() || st.Kernel.Lookup(key) == nil {
			return 0, nil, false
		}
		s := st.Kernel.Lookup(key)
		dests = map[string]uint64{}
		for _, d := range s.Dests {
			dests[d.Key().String()] = d.Stats.Conns
		}
		return s.Stats.Conns, dests, true
	}
	waitSample := func(what string, cond func(svc uint64, dests map[string]uint64) bool) (uint64, map[string]uint64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if svc, dests, ok := conns(); ok && cond(svc, dests) {
				return svc, dests
			}
			if time.Now().After(deadline) {
				t.Fatalf("no sample showed %s: %+v", what, eng.Status().Kernel)
			}
			time.Sleep(100 * time.Millisecond) // between samples: there is no event to wait on
		}
	}
	base, baseDests := waitSample("the service", func(uint64, map[string]uint64) bool { return true })

	// Twenty connections from the client, round robin over r1 and r2.
	for i := range 20 {
		var c net.Conn
		if err := netns.Do("cli", func() (err error) { c, err = net.DialTimeout("tcp", "10.1.0.1:8080", 5*time.Second); return err }); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		io.ReadAll(c)
		c.Close()
	}
	// The counters reach the console at the next sample.
	svc, dests := waitSample("20 more connections", func(svc uint64, _ map[string]uint64) bool { return svc >= base+20 })
	if svc != base+20 {
		t.Errorf("the service counted %d connections, want %d", svc-base, 20)
	}
	for d, n := range dests {
		if n-baseDests[d] != 10 {
			t.Errorf("%s counted %d connections, want 10 of the 20 (round robin)", d, n-baseDests[d])
		}
	}

	console, err := handlers.New(ctx, handlers.Options{Store: st, Log: quiet, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.PostForm(srv.URL+"/login", url.Values{"user": {"admin"}, "password": {"guest password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	get := func(path string) string {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return string(b)
	}

	page := get("/control")
	for _, want := range []string{`data-dest="192.168.10.11:80"`, `data-dest="192.168.10.12:80"`, "Current LVS routing table",
		fmt.Sprintf(`<td>%d</td>`, svc), fmt.Sprintf(`<td>%d</td>`, dests["192.168.10.12:80"])} {
		if !strings.Contains(page, want) {
			i := strings.Index(page, `id="ipvs"`)
			t.Errorf("the dashboard lacks %s; its routing table:\n%s", want, page[max(i, 0):min(max(i, 0)+3000, len(page))])
		}
	}

	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(get("/metrics")))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string, labels map[string]string) float64 {
		f := fams[name]
		if f == nil {
			t.Fatalf("/metrics has no %s", name)
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		t.Fatalf("/metrics has no %s with %v", name, labels)
		return 0
	}
	if v := value("lvs_service_connections_total", map[string]string{"virtual": "web"}); v != float64(svc) {
		t.Errorf("lvs_service_connections_total = %v, want %d", v, svc)
	}
	for _, d := range []string{"192.168.10.11:80", "192.168.10.12:80"} {
		if v := value("lvs_destination_connections_total", map[string]string{"virtual": "web", "destination": d}); v != float64(dests[d]) {
			t.Errorf("lvs_destination_connections_total{destination=%q} = %v, want %d", d, v, dests[d])
		}
	}
	if v := value("lvs_service_bytes_total", map[string]string{"virtual": "web", "direction": "out"}); v == 0 {
		t.Error("lvs_service_bytes_total{direction=out} is 0 after 20 answered connections")
	}
}
