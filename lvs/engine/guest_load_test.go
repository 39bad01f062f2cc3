//go:build guest

package engine_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/internal/loadtest"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/load"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestGuestAgentSetsTheWeight: on the real kernel, a NAT service's real
// server r1 (kernel_test.go's namespaces) runs an HAProxy agent (the
// test's, on 192.168.10.11:4451); the engine, with real TCP checks and the
// agent monitor, gives r1 the share the agent says: ipvsadm -Ln, an
// independent reader, shows each new weight (100% of 10, then 50%, then
// drain's 0), and each change took one netlink request.
func TestGuestAgentSetsTheWeight(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const port = 8093 // a service of its own (8080, 8081, 8089 are others')
	var svc, agentLn net.Listener
	err := netns.Do("r1", func() (err error) {
		if svc, err = net.Listen("tcp", "192.168.10.11:"+strconv.Itoa(port)); err != nil {
			return err
		}
		agentLn, err = net.Listen("tcp", "192.168.10.11:4451")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	go func() { // the health check's target
		for {
			c, err := svc.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ag := loadtest.ServeAgent(t, agentLn, "up 100%")

	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "load.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Global.Network = config.NAT
	vs := config.NewVirtual("agent")
	vs.Active, vs.Address, vs.Port, vs.Scheduler = true, netip.MustParseAddr("10.1.0.1"), port, "wlc"
	vs.CheckKind, vs.CheckTimeout, vs.CheckInterval, vs.CheckFailures = "tcp", 2*time.Second, 500*time.Millisecond, 3
	vs.LoadMonitor, vs.LoadPort, vs.LoadInterval = "agent", 4451, time.Second
	vs.Reals = []config.RealServer{{Name: "r1", Active: true, Address: netip.MustParseAddr("192.168.10.11"), Weight: 10}}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}

	var client *ipvs.Client
	dialed := make(chan struct{})
	checks := engine.NewChecks()
	mons := load.NewMonitors(load.Options{})
	checks.SetLoads(mons)
	// No sampling and no resync during the test: the netlink requests
	// counted are the reconciles'.
	eng := engine.New(engine.Options{Source: st, Ledger: st, Health: checks, Wake: checks.Changes(),
		Sample: -1, Resync: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Dial: func() (engine.Kernel, error) {
			f, err := os.Open("/run/netns/dir")
			if err != nil {
				return nil, err
			}
			defer f.Close()
			c, err := ipvs.Dial(&ipvs.Options{NetNS: int(f.Fd())})
			if err == nil && client == nil {
				client = c
				close(dialed)
			}
			return c, err
		}})
	done := make(chan struct{}, 3)
	go func() { mons.Run(ctx); done <- struct{}{} }()
	go func() { checks.Run(ctx); done <- struct{}{} }()
	go func() { eng.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done; <-done }()

	re := regexp.MustCompile(`->\s+192\.168\.10\.11:` + strconv.Itoa(port) + `\s+Masq\s+(\d+)`)
	weight := func() (int, bool) {
		m := re.FindStringSubmatch(ipvsadm(t))
		if m == nil {
			return 0, false
		}
		w, _ := strconv.Atoi(m[1])
		return w, true
	}
	poll := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s; ipvsadm -Ln:\n%s", what, ipvsadm(t))
			}
			time.Sleep(50 * time.Millisecond) // polling the kernel, with a deadline
		}
	}
	poll("r1 at the agent's 100% of 10", 60*time.Second, func() bool { w, in := weight(); return in && w == 10 })
	<-dialed
	// The agent's answer has been read: what follows is a change.
	poll("a reading", 10*time.Second, func() bool { return ag.Queries() > 0 })
	for _, s := range []struct {
		line string
		want int
	}{{"up 50%", 5}, {"drain", 0}, {"ready 100%", 10}} {
		before := client.Requests()
		began := time.Now()
		ag.Set(s.line)
		poll("ipvsadm showing r1 at "+strconv.Itoa(s.want)+" after the agent said "+s.line, 30*time.Second,
			func() bool { w, in := weight(); return in && w == s.want })
		n := client.Requests() - before
		t.Logf("agent says %q: weight %d in the kernel after %v, %d netlink request(s)", s.line, s.want, time.Since(began).Round(time.Millisecond), n)
		if n != 1 {
			t.Errorf("agent says %q: the change took %d netlink requests, want 1", s.line, n)
		}
		if got := eng.Status().Changes; len(got) != 1 {
			t.Errorf("agent says %q: the engine made %v, want one edit", s.line, got)
		}
	}
	t.Logf("ipvsadm -Ln:\n%s", ipvsadm(t))
}
