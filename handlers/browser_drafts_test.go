package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
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

// director is serve's parts over one database file: the store, the
// engine on a fake kernel with real health checks, the rollback watcher
// and the console.
type director struct {
	st   *store.Store
	srv  *httptest.Server
	stop func() // as serve stops: idempotent
}

func startDirector(t *testing.T, ctx context.Context, path string, k *ipvstest.Kernel) *director {
	t.Helper()
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	st.GuardShared() // checked as it stops
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	kc, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatal(err)
	}
	checks := engine.NewChecks()
	eng := engine.New(engine.Options{Source: st, Ledger: st, Dial: func() (engine.Kernel, error) { return kc, nil },
		Health: checks, Wake: checks.Changes(), Log: quiet})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 3)
	go func() { checks.Run(ctx); done <- struct{}{} }()
	go func() { eng.Run(ctx); done <- struct{}{} }()
	go func() {
		st.WatchConfirmations(ctx, func(_ *config.Config, c *store.Confirmation, err error) {
			if err != nil {
				t.Errorf("rolling back serial %d: %v", c.Serial, err)
			}
		})
		done <- struct{}{}
	}()
	console, err := New(ctx, Options{Store: st, Log: quiet, Engine: eng, History: eng, Health: checks,
		Preview: eng, RollbackUnit: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := &director{st: st, srv: httptest.NewServer(console)}
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			cancel()
			d.srv.CloseClientConnections()
			d.srv.Close()
			<-done
			<-done
			<-done
			kc.Close()
			if err := st.SharedChanged(); err != nil {
				t.Error(err)
			}
			st.Close()
		})
	}
	t.Cleanup(d.stop)
	return d
}

// waitKernel waits until the kernel's destinations of svc satisfy ok.
func waitKernel(t *testing.T, k *ipvstest.Kernel, svc ipvs.ServiceKey, what string, ok func([]ipvs.Destination) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok(k.Destinations(svc)) {
		if time.Now().After(deadline) {
			t.Fatalf("the kernel never had %s: %+v", what, k.Destinations(svc))
		}
		time.Sleep(20 * time.Millisecond) // polling the fake kernel, with a deadline
	}
}

func weightOf(ds []ipvs.Destination, port int) int32 {
	for _, d := range ds {
		if int(d.Port) == port {
			return d.Weight
		}
	}
	return -1
}

// TestBrowserPendingChanges is the Done-when of pending changes: an edit
// goes to the user's pending changes, which survive a restart of serve (a
// new store, engine and console on the same database file) and send
// nothing to the kernel; REVIEW lists the ipvsadm lines that the kernel
// then gets on APPLY; an APPLY with rollback that nobody confirms is
// rolled back, and the kernel's table is the previous one again.
func TestBrowserPendingChanges(t *testing.T) {
	web1, web2 := testnet.Listen(t, "127.0.0.1:0"), testnet.Listen(t, "127.0.0.1:0")
	port1, port2 := web1.Addr().(*net.TCPAddr).Port, web2.Addr().(*net.TCPAddr).Port
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lvs.db")
	k := ipvstest.New()
	svc := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}

	// The first serve: the running configuration, and an edit.
	first := startDirector(t, ctx, path, k)
	if err := first.st.SetPassword(ctx, "admin", testPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := first.st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Global.Network = config.NAT
		vs := config.NewVirtual("www")
		vs.Active, vs.Address, vs.CheckKind = true, svc.Addr, "tcp"
		vs.CheckTimeout, vs.Reentry = 200*time.Millisecond, 200*time.Millisecond
		rs := config.NewReal("web1")
		rs.Active, rs.Address, rs.Port = true, netip.MustParseAddr("127.0.0.1"), port1
		vs.Reals = append(vs.Reals, rs)
		c.Virtuals = append(c.Virtuals, vs)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitKernel(t, k, svc, "web1", func(ds []ipvs.Destination) bool { return weightOf(ds, port1) == 1 })
	cfg, _ := first.st.Config(ctx)
	vid := cfg.Virtuals[0].ID

	b := browser(t)
	step(t, b, "opening the login page", chromedp.Navigate(first.srv.URL+"/login"))
	fill(t, b, map[string]string{"user": "admin", "password": testPassword})
	submit(t, b, "logging in", "#login")
	step(t, b, "opening ADD of a real server", chromedp.Navigate(fmt.Sprintf("%s/virtual/%d/real/new", first.srv.URL, vid)))
	fill(t, b, map[string]string{"name": "web2", "address": "127.0.0.1", "port": fmt.Sprint(port2), "weight": "3"})
	step(t, b, "ticking Active", chromedp.Click(chromedp.ID("active")))
	submit(t, b, "accepting", "#accept")
	bar := run(t, b, "reading the pending bar", chromedp.Text(chromedp.ID("pending-bar")))
	if !strings.Contains(bar, "1 pending change") {
		t.Fatalf("the pending bar says %q", bar)
	}
	shot(t, b, "pending-bar")

	// A restart of serve: the pending change is still there, and did not
	// reach the kernel.
	step(t, b, "leaving the console", chromedp.Navigate("about:blank"))
	first.stop()
	second := startDirector(t, ctx, path, k)
	// The session is in the database too: still logged in.
	step(t, b, "opening VIRTUAL SERVERS", chromedp.Navigate(second.srv.URL+"/virtual"))
	if bar := run(t, b, "reading the pending bar", chromedp.Text(chromedp.ID("pending-bar"))); !strings.Contains(bar, "1 pending change") {
		t.Fatalf("after a restart the pending bar says %q", bar)
	}
	waitKernel(t, k, svc, "web1 again", func(ds []ipvs.Destination) bool { return weightOf(ds, port1) == 1 })

	submit(t, b, "opening REVIEW", "#review")
	shot(t, b, "review")
	lines := run(t, b, "reading the ipvsadm lines", chromedp.Text(chromedp.ID("ipvsadm")))
	want := fmt.Sprintf("ipvsadm -a -t 192.0.2.10:80 -r 127.0.0.1:%d -m -w 3", port2)
	if strings.TrimSpace(lines) != want {
		t.Fatalf("REVIEW lists\n%s\nwant\n%s", lines, want)
	}
	if ds := k.Destinations(svc); len(ds) != 1 {
		t.Fatalf("before APPLY the kernel has %d destinations: %+v", len(ds), ds)
	}
	submit(t, b, "pressing APPLY", "#apply")
	waitKernel(t, k, svc, "what REVIEW listed", func(ds []ipvs.Destination) bool {
		return len(ds) == 2 && weightOf(ds, port2) == 3 && weightOf(ds, port1) == 1
	})
	for _, d := range k.Destinations(svc) {
		if d.Forward != ipvs.Masquerade {
			t.Errorf("destination %v:%d forwards by %v, want -m", d.Addr, d.Port, d.Forward)
		}
	}

	// Apply with rollback, not confirmed: back to the previous table.
	cfg, _ = second.st.Config(ctx)
	rid := cfg.Virtuals[0].Reals[1].ID
	step(t, b, "opening web2", chromedp.Navigate(fmt.Sprintf("%s/virtual/%d/real/%d", second.srv.URL, vid, rid)))
	fill(t, b, map[string]string{"weight": "7"})
	submit(t, b, "accepting", "#accept")
	submit(t, b, "opening REVIEW", "#review")
	choose(t, b, "rollback", "5")
	submit(t, b, "pressing APPLY with rollback", "#apply")
	waitKernel(t, k, svc, "web2 at weight 7", func(ds []ipvs.Destination) bool { return weightOf(ds, port2) == 7 })
	if msg := run(t, b, "reading the confirmation bar", chromedp.Text(chromedp.ID("confirm-bar"))); !strings.Contains(msg, "rolls back") {
		t.Errorf("the confirmation bar says %q", msg)
	}
	shot(t, b, "confirm-bar")
	waitKernel(t, k, svc, "web2 back at weight 3", func(ds []ipvs.Destination) bool { return weightOf(ds, port2) == 3 })
	step(t, b, "opening HISTORY", chromedp.Navigate(second.srv.URL+"/history"))
	top := run(t, b, "reading the newest revision", chromedp.Text(chromedp.CSS("#history tbody tr")))
	if !strings.Contains(top, store.RollbackAuthor) || !strings.Contains(top, "rolled back automatically") ||
		!strings.Contains(top, "not confirmed within 5 seconds") {
		t.Errorf("HISTORY's newest revision: %q", top)
	}
	shot(t, b, "rollback-event")
	step(t, b, "opening CONTROL/MONITORING", chromedp.Navigate(second.srv.URL+"/control"))
	if page := run(t, b, "reading the page", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(page, "rolled back automatically") {
		t.Errorf("CONTROL/MONITORING does not say it was rolled back")
	}
	shot(t, b, "rollback-control")
}
