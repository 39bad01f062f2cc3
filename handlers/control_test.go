package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/doctor"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/store"
)

type fixedStatus engine.Status

func (s fixedStatus) Status() engine.Status { return engine.Status(s) }

// TestControlShowsWhatTheEngineWouldProgram: without IPVS the page says so
// and shows the table the configuration asks for.
func TestControlShowsWhatTheEngineWouldProgram(t *testing.T) {
	e := newEnv(t, true)
	e.seed(t)
	if _, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c2 *config.Config) error {
		c2.Virtuals[0].Active = true
		c2.Virtuals[0].Reals[0].Active = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(t)
	st := engine.Status{Running: true, Available: false, Serial: cfg.Serial,
		Reason:  "IPVS is not available in this kernel (load the ip_vs module)",
		Desired: engine.Desired(cfg, engine.Configured{})}
	console, err := New(context.Background(), Options{Store: e.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Engine: fixedStatus(st)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	defer srv.Close()
	e.srv = srv
	a := get(t, e.login(t), srv.URL+"/control")
	if a.code != http.StatusOK {
		t.Fatalf("control = %d", a.code)
	}
	for _, want := range []string{"not available in this kernel", "table it would program", "TCP  192.0.2.10:80", "10.0.0.1:80", "Route", "(current)"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the control page lacks %q", want)
		}
	}
}

type fixedHealth struct{}

func (fixedHealth) Of(vs *config.VirtualServer, rs *config.RealServer) (engine.ServerHealth, bool) {
	return engine.ServerHealth{State: "down", Reason: "connect refused", Since: time.Now()}, true
}

func (fixedHealth) Events(n int) []engine.Event {
	return []engine.Event{{Time: time.Now(), Server: "10.0.0.1:80", From: "up", To: "down", Reason: "connect refused"}}
}

// TestHealthIsShown: the REAL SERVER tab and the control page show each
// server's check verdict and the recent changes with their reasons.
func TestHealthIsShown(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	console, err := New(context.Background(), Options{Store: e.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Health: fixedHealth{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	defer srv.Close()
	e.srv = srv
	c := e.login(t)
	a := get(t, c, fmt.Sprintf("%s/virtual/%d/real", srv.URL, cfg.Virtuals[0].ID))
	if !strings.Contains(a.body, `badge bad`) || !strings.Contains(a.body, "connect refused") {
		t.Errorf("the REAL SERVER tab does not show the failed check")
	}
	a = get(t, c, srv.URL+"/control")
	if !strings.Contains(a.body, "Recent events") || !strings.Contains(a.body, "10.0.0.1:80") || !strings.Contains(a.body, "up -&gt; down: connect refused") {
		t.Errorf("the control page does not show the health change")
	}
}

// checksFunc is DirectorChecks from a function.
type checksFunc func(context.Context) []doctor.Result

func (f checksFunc) Checks(ctx context.Context) []doctor.Result { return f(ctx) }

// TestControlShowsDirectorChecks: CONTROL/MONITORING lists the director's
// checks with their status and fix, made again at each load.
func TestControlShowsDirectorChecks(t *testing.T) {
	e := newEnv(t, true)
	e.seed(t)
	var loads atomic.Int32
	checks := checksFunc(func(context.Context) []doctor.Result {
		loads.Add(1)
		return []doctor.Result{
			{Name: "IPVS", Status: doctor.Pass, Detail: "IP Virtual Server version 1.2.1"},
			{Name: "net.ipv4.ip_forward", Status: doctor.Fail, Detail: "0, but the configuration has NAT real servers", Fix: "sysctl -w net.ipv4.ip_forward=1"},
			{Name: "clock", Status: doctor.Warn, Detail: "not synchronised <b>", Fix: "run an NTP client"},
		}
	})
	console, err := New(context.Background(), Options{Store: e.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Checks: checks})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console)
	defer srv.Close()
	e.srv = srv
	c := e.login(t)
	a := get(t, c, srv.URL+"/control")
	if a.code != http.StatusOK {
		t.Fatalf("control = %d", a.code)
	}
	for _, want := range []string{"Director checks", "IP Virtual Server version 1.2.1", `<span class="badge bad">fail</span>`,
		"sysctl -w net.ipv4.ip_forward=1", `<span class="badge off">warn</span>`, "not synchronised &lt;b&gt;", `<span class="badge on">pass</span>`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the control page lacks %q", want)
		}
	}
	get(t, c, srv.URL+"/control")
	if loads.Load() != 2 {
		t.Errorf("two loads ran the checks %d times, want 2", loads.Load())
	}
}
