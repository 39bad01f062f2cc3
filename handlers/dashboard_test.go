package handlers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lvsconsole/lvsconsole/internal/testnet"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
	"github.com/lvsconsole/lvsconsole/store"
)

// liveStatus is an engine with a live table and a rate history.
type liveStatus struct{ st engine.Status }

func (l liveStatus) Status() engine.Status  { return l.st }
func (l liveStatus) Busiest(n int) []string { return []string{"www"} }
func (l liveStatus) History(name string) []engine.Point {
	if name != "www" && name != "" {
		return nil
	}
	var pts []engine.Point
	for i := range 720 {
		pts = append(pts, engine.Point{At: time.Now().Add(time.Duration(i-720) * 5 * time.Second), CPS: float64(i % 60), BPS: float64(1000 * (i % 30))})
	}
	return pts
}

func liveTable(cfg *config.Config) engine.Status {
	vs := &cfg.Virtuals[0]
	key := ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: vs.Address, Port: uint16(vs.Port)}
	svc := &engine.Service{Service: ipvs.Service{ServiceKey: key, Scheduler: "wlc",
		Stats: ipvs.Stats{Conns: 123456, InPkts: 1000, OutPkts: 900, InBytes: 5 << 20, CPS: 42, InBPS: 2048}}, Virtual: "www",
		Dests: []ipvs.Destination{{Addr: vs.Reals[0].Address, Port: 80, Forward: ipvs.Masquerade, Weight: 1,
			ActiveConns: 17, InactiveConns: 4, Stats: ipvs.Stats{Conns: 99999}}}}
	t := &engine.Table{Services: []*engine.Service{svc}}
	return engine.Status{Running: true, Available: true, Serial: cfg.Serial, Desired: t, Kernel: t}
}

// TestControlShowsCountersAndCharts: the live table has the kernel's
// counters and rates, and the charts of the last hour are drawn.
func TestControlShowsCountersAndCharts(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	e.console.engine = liveStatus{liveTable(cfg)}
	e.console.traffic = liveStatus{liveTable(cfg)}
	page := get(t, e.login(t), e.srv.URL+"/control?auto=0").body
	for _, want := range []string{"123456", "99999", ">42<", "5.0M", `id="charts"`, "all virtual servers", "<svg", `d="M0.0,`} {
		if !strings.Contains(page, want) {
			t.Errorf("the control page lacks %q", want)
		}
	}
	if strings.Contains(page, "http-equiv") {
		t.Error("a refresh without auto update")
	}
	reals := get(t, e.login(t), fmt.Sprintf("%s/virtual/%d/real", e.srv.URL, cfg.Virtuals[0].ID)).body
	if !strings.Contains(reals, `id="charts"`) || !strings.Contains(reals, "<svg") {
		t.Error("the REAL SERVER tab has no chart of its virtual server")
	}
	page = get(t, e.login(t), e.srv.URL+"/control?auto=1&every=7").body
	if !strings.Contains(page, `<noscript><meta http-equiv="refresh" content="7">`) {
		t.Error("with auto update every 7 s, no reload for browsers without JavaScript")
	}
}

// TestControlStream: the stream sends the live part as server-sent
// events, again after each period, and needs a session like every page.
func TestControlStream(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	e.console.engine = liveStatus{liveTable(cfg)}
	e.console.traffic = liveStatus{liveTable(cfg)}
	if a := get(t, e.client(t), e.srv.URL+"/control/stream"); a.code != http.StatusSeeOther {
		t.Errorf("the stream without a session: %d, want 303 to the login", a.code)
	}
	c := e.login(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/control/stream?every=1", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	rd := bufio.NewReader(resp.Body)
	for n := range 2 {
		event, data := readEvent(t, rd)
		if event != "update" || !strings.Contains(data, `id="ipvs"`) || !strings.Contains(data, "123456") || strings.Contains(data, "<html") {
			t.Fatalf("event %d: %q with %d bytes of data, want an update with the live fragment only", n, event, len(data))
		}
	}
}

// readEvent reads one server-sent event.
func readEvent(t *testing.T, rd *bufio.Reader) (event, data string) {
	t.Helper()
	var lines []string
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			return event, strings.Join(lines, "\n")
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			lines = append(lines, line[len("data: "):])
		}
	}
}

// TestBrowserDashboardUpdatesItself: with the real engine (on the fake
// kernel) and real TCP checks, a real server whose listener closes shows
// as down on CONTROL/MONITORING in the browser without a reload.
func TestBrowserDashboardUpdatesItself(t *testing.T) {
	ln := testnet.Listen(t, "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port

	e := newEnv(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := e.store.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		vs := config.NewVirtual("www")
		vs.Active, vs.Address, vs.CheckKind = true, netip.MustParseAddr("192.0.2.10"), "tcp"
		vs.CheckTimeout, vs.Reentry = 200*time.Millisecond, 200*time.Millisecond
		rs := config.NewReal("web1")
		rs.Active, rs.Address, rs.Port = true, netip.MustParseAddr("127.0.0.1"), port
		vs.Reals = append(vs.Reals, rs)
		c.Virtuals = append(c.Virtuals, vs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	k := ipvstest.New()
	kc, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	checks := engine.NewChecks()
	eng := engine.New(engine.Options{Source: e.store, Ledger: e.store, Dial: func() (engine.Kernel, error) { return kc, nil },
		Health: checks, Wake: checks.Changes(), Log: quiet})
	done := make(chan struct{}, 2)
	go func() { checks.Run(ctx); done <- struct{}{} }()
	go func() { eng.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()
	cctx, ccancel := context.WithCancel(ctx)
	console, err := New(cctx, Options{Store: e.store, Log: quiet, Engine: eng, History: eng, Health: checks})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	defer srv.Close()
	defer ccancel() // ends the dashboard's stream, as serve's shutdown does

	b := browser(t)
	step(t, b, "opening the login page", chromedp.Navigate(srv.URL+"/login?next=/control%3Fauto%3D1%26every%3D1"))
	fill(t, b, map[string]string{"user": "admin", "password": testPassword})
	submit(t, b, "logging in", "#login")
	// Up: in the routing table (the engine added it after its first good
	// check), not among the servers that need attention.
	dest := fmt.Sprintf(`tr[data-dest="127.0.0.1:%d"]`, port)
	step(t, b, "waiting for web1 to be up", chromedp.WaitVisible(chromedp.CSS(dest)))
	run(t, b, "marking the page", chromedp.Evaluate[bool](`(window.__sameDocument = true)`))
	shot(t, b, "dashboard-up")

	ln.Close() // the real server goes away
	step(t, b, "waiting for web1 to show down", chromedp.WaitVisible(chromedp.CSS(`tr[data-server="www/web1"] .badge.bad`)))
	// The badge (the health check) and the routing table (the engine's
	// reconcile, then its next sample of the kernel) change at different
	// moments: wait for each, never both at one instant.
	step(t, b, "waiting for web1 to leave the routing table", chromedp.WaitNotPresent(chromedp.CSS(dest)))
	shot(t, b, "dashboard-down")
	if same := run(t, b, "checking for a reload", chromedp.Evaluate[bool](`window.__sameDocument === true`)); !same {
		t.Error("the page was reloaded: the update should come in place")
	}
}
