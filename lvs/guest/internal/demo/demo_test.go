package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/guest"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// freePort is a port free on the loopback now: qemu's forward cannot take
// port 0 and say which it got. Another program could take it before qemu
// does; the lab then fails to start, loudly.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// TestDemoDashboard boots the lab as make demo does (one boot), logs in
// through the forwarded port with chromium, and waits until
// CONTROL/MONITORING shows the client's traffic through the virtual
// server: connections counted, a rate, both real servers taking their
// share; then web2 goes down in the lab's outage, and comes back. The
// screenshots are demo-dashboard.png and demo-web2-down.png among the
// artifacts.
func TestDemoDashboard(t *testing.T) {
	testenv.Guest(t, guest.Prepared(""))
	chromium := testenv.Chromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 9*time.Minute)
	defer cancel()

	start := time.Now()
	// A shorter outage than make demo's, so as to see one soon.
	lab, err := StartLab(ctx, LabOptions{Port: freePort(t), Console: guest.LogWriter(t.Logf), Dir: t.TempDir(),
		OutageEvery: 45 * time.Second, OutageFor: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Stop()
	if err := lab.WaitReady(ctx, readyTimeout); err != nil {
		t.Fatal(err)
	}
	t.Logf("the console answered %s after qemu started (lvsconsole built in %s)",
		time.Since(lab.Booted).Round(time.Millisecond), lab.Booted.Sub(start).Round(time.Millisecond))

	bctx := browser(t, ctx, chromium)
	step := func(doing string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, time.Minute) // TCG: a page takes a while
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			shot(t, bctx, "demo-failed")
			t.Fatalf("%s: %v", doing, err)
		}
	}
	step("opening the console", chromedp.Navigate(lab.URL+"/"), chromedp.WaitVisible(chromedp.ID("user")))
	// The user field comes filled in with admin: clear it, then type as a
	// person would.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(document.getElementById("user").value = "") === ""`)); err != nil {
		t.Fatalf("clearing the user field: %v", err)
	}
	step("typing the demo's login", chromedp.SendKeys(chromedp.ID("user"), User), chromedp.SendKeys(chromedp.ID("password"), Password))
	sctx, scancel := context.WithTimeout(bctx, time.Minute)
	_, err = chromedp.Run(sctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID("login"))))
	scancel()
	if err != nil {
		shot(t, bctx, "demo-failed")
		t.Fatalf("logging in: %v", err)
	}
	if loc, err := chromedp.Run(bctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/control") {
		shot(t, bctx, "demo-failed")
		t.Fatalf("after logging in the browser is at %q (%v), want /control", loc, err)
	}
	step("opening CONTROL/MONITORING", chromedp.Navigate(lab.URL+"/control?every=2"), chromedp.WaitVisible(chromedp.ID("live")))

	// The page updates itself (its stream); read the service's row and
	// its real servers' until they show traffic.
	poll := func(what string, within time.Duration, done func() (string, bool)) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			last, ok := done()
			if ok {
				t.Logf("%s: %s", what, last)
				return
			}
			if time.Now().After(deadline) {
				shot(t, bctx, "demo-failed")
				t.Fatalf("%s: not within %s; last read: %s", what, within, last)
			}
			select {
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			case <-lab.Done():
				t.Fatalf("the lab ended: %v", lab.Err())
			case <-time.After(time.Second):
			}
		}
	}
	poll("traffic on the dashboard", 3*time.Minute, func() (string, bool) {
		r, err := readTraffic(bctx)
		return fmt.Sprintf("%+v (%v)", r, err), err == nil && r.busy()
	})
	// The charts need the engine's history; wait for them too, so that the
	// screenshot shows them.
	step("waiting for the charts", chromedp.WaitVisible(`#charts svg path`))
	shot(t, bctx, "demo-dashboard")

	// The outage: web2 is listed as down, then, back up, no longer listed
	// (the dashboard lists what needs attention, and totals).
	poll("web2 down", 2*time.Minute, func() (string, bool) {
		s := web2Health(bctx)
		return s, strings.Contains(s, "down")
	})
	shot(t, bctx, "demo-web2-down")
	poll("web2 back", 2*time.Minute, func() (string, bool) {
		s := web2Health(bctx)
		return s, strings.HasPrefix(s, "not listed; ")
	})
}

// web2Health is web2's row of the dashboard's list of what needs
// attention, or when it is not listed (up) the dashboard's totals.
func web2Health(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Evaluate[string](`(() => {
		const row = document.querySelector('#table tr[data-server="www/web2"]');
		if (row) return row.textContent.replace(/\s+/g, " ").trim();
		const totals = document.querySelector('#totals-real');
		return totals ? "not listed; real servers: " + totals.textContent.replace(/\s+/g, " ").trim() : "no dashboard totals";
	})()`))
	if err != nil {
		return "reading the page: " + err.Error()
	}
	return s
}

// trafficRow is what CONTROL/MONITORING's routing table says of the
// demo's virtual server.
type trafficRow struct {
	Service string
	Conns   string   // the service's CONNS cell, e.g. "65" or "1234K"
	CPS     string   // its CPS cell
	Dests   []string // each real server's CONNS cell
}

// busy: connections counted, a rate, and both real servers served some.
func (r trafficRow) busy() bool {
	if !strings.Contains(r.Service, "192.0.2.100:80") || len(r.Dests) != 2 {
		return false
	}
	for _, c := range append([]string{r.Conns}, r.Dests...) {
		if n, err := strconv.ParseFloat(strings.TrimRight(c, "KMGT"), 64); err != nil || n <= 0 {
			return false
		}
	}
	cps, err := strconv.ParseFloat(r.CPS, 64)
	return err == nil && cps > 0
}

// readTraffic reads the routing table's first service, as the browser
// shows it: service, scheduler and flags cells, then CONNS, PACKETS,
// BYTES, CPS, BYTES/S; a real server's row has one empty cell (three
// columns wide), address,
// forward, weight, active, inactive, then the same counters.
func readTraffic(ctx context.Context) (trafficRow, error) {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cells, err := chromedp.Run(sctx, chromedp.Evaluate[[][]string](`(() => {
		const body = document.querySelector("#ipvs tbody");
		if (!body) return [];
		return [...body.querySelectorAll("tr")].map(tr => [...tr.cells].map(td => td.textContent.trim()));
	})()`))
	if err != nil {
		return trafficRow{}, err
	}
	if len(cells) == 0 || len(cells[0]) < 8 {
		return trafficRow{}, fmt.Errorf("no service in the routing table yet: %q", cells)
	}
	r := trafficRow{Service: cells[0][0], Conns: cells[0][3], CPS: cells[0][6]}
	for _, d := range cells[1:] {
		if len(d) < 7 {
			return r, fmt.Errorf("a real server's row has %d cells: %q", len(d), d)
		}
		r.Dests = append(r.Dests, d[6])
	}
	return r, nil
}

// browser starts headless chromium as the handlers' browser tests do.
func browser(t *testing.T, ctx context.Context, chromium string) context.Context {
	t.Helper()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
		// This machine reaches no network but package registries.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// shot keeps a screenshot in the test's artifact directory (out/_artifacts
// under make test).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name+".png"), buf, 0o644); err != nil {
		t.Errorf("saving screenshot: %v", err)
	}
}
