//go:build !guest

package engine

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/health"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
	"github.com/lvsconsole/lvsconsole/lvs/load"
	"github.com/lvsconsole/lvsconsole/store"
)

// agentServer is an HAProxy agent on addr that answers its current line.
type agentServer struct {
	ln   net.Listener
	line atomic.Value // string
}

func newAgent(t *testing.T, addr, line string) *agentServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &agentServer{ln: ln}
	s.line.Store(line)
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, s.line.Load().(string)+"\n")
			c.Close()
		}
	}()
	return s
}

func (s *agentServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// writeRequests are the requests of the fake's log that change the table.
func writeRequests(k *ipvstest.Kernel) []ipvstest.Request {
	var out []ipvstest.Request
	for _, r := range k.Requests() {
		switch r.Cmd {
		case cmdGetService, cmdGetDest, cmdGetConfig, cmdGetInfo, cmdGetDaemon:
		default:
			out = append(out, r)
		}
	}
	return out
}

// TestAgentDrivesTheTable runs the engine with real TCP checks, the load
// monitors reading real HAProxy agents on loopback, and the fake kernel:
// the agent's share sets the weight, max_weight caps it, a share within
// 10 % changes nothing, drain keeps the server at weight 0, down takes it
// out, ready brings it back; each weight change is one request, an edit of
// the destination.
func TestAgentDrivesTheTable(t *testing.T) {
	chk1 := listen(t, "127.0.0.1:0")
	chk2 := listen(t, "127.0.0.2:0")
	ag1 := newAgent(t, "127.0.0.1:0", "up 75%")
	ag2 := newAgent(t, "127.0.0.2:0", "weight:100")
	rs1 := netip.MustParseAddrPort(chk1.Addr().String())
	rs2 := netip.MustParseAddrPort(chk2.Addr().String())

	st := openStore(t)
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Port = true, a("192.0.2.10"), 80
	vs.CheckKind, vs.CheckTimeout, vs.Reentry = config.CheckTCP, 50*time.Millisecond, 0
	vs.LoadMonitor, vs.LoadPort, vs.LoadInterval = "agent", ag1.port(), time.Second
	vs.Reals = []config.RealServer{
		{Name: "one", Active: true, Address: rs1.Addr(), Port: int(rs1.Port()), Weight: 32},
		{Name: "two", Active: true, Address: rs2.Addr(), Port: int(rs2.Port()), Weight: 32, MaxWeight: 40, LoadPort: ag2.port()},
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}
	cfg, err := st.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}

	k, c := fakeKernel(t)
	loads := load.NewMonitors(load.Options{Log: quiet()})
	checks := NewChecks()
	checks.SetLoads(loads)
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil },
		Health: checks, Wake: checks.Changes(), Log: quiet(), Sample: -1})
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{
		func(ctx context.Context) error { return checks.Run(ctx) }, e.Run, loads.Run,
	} {
		wg.Add(1)
		go func() { defer wg.Done(); run(runCtx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	key := Desired(cfg, Configured{}).Services[0].ServiceKey
	vsp, rsp := &cfg.Virtuals[0], &cfg.Virtuals[0].Reals[0]
	target, _ := targetOf(vsp, rsp)
	waitFor(t, e, "75% of 32, and weight:100 capped by max_weight 40", func() bool {
		d := destsOf(k, key)
		return d[rs1] == 24 && d[rs2] == 40
	})
	if h, _ := checks.Of(vsp, rsp); h.Weight != 24 || h.Configured != 32 || h.Why != "agent: up 75%" ||
		h.Load == nil || h.Load.Monitor != "agent" || h.Load.Weight != 24 || h.Load.At.IsZero() {
		t.Errorf("Of = %+v (load %+v)", h, h.Load)
	}

	// step sets the agent's line, waits for the table, and checks what it
	// took: one edit of the destination, or nothing.
	step := func(line, what string, cond func(map[netip.AddrPort]int32) bool, want []ipvstest.Request) {
		t.Helper()
		k.Reset()
		ag1.line.Store(line)
		waitFor(t, e, what, func() bool { return cond(destsOf(k, key)) })
		got := writeRequests(k)
		if len(got) != len(want) {
			t.Errorf("%s: %d requests changed the table: %+v, want %d", what, len(got), got, len(want))
			return
		}
		for i := range want {
			if got[i].Cmd != want[i].Cmd || got[i].Dest != want[i].Dest {
				t.Errorf("%s: request %d is %+v, want command %d for %v", what, i, got[i], want[i].Cmd, want[i].Dest)
			}
		}
	}
	edit := []ipvstest.Request{{Cmd: cmdSetDest, Dest: ipvsDest(rs1)}}
	step("100%", "100% of 32", func(d map[netip.AddrPort]int32) bool { return d[rs1] == 32 }, edit)

	// A share within 10 % of the weight: read, and nothing changes.
	k.Reset()
	before, _ := loads.Status(target)
	ag1.line.Store("95%")
	waitReadings(t, loads, target, before.Readings+2)
	if got := writeRequests(k); len(got) != 0 || destsOf(k, key)[rs1] != 32 {
		t.Errorf("95%% of 32 changed the table: %+v, weight %d", got, destsOf(k, key)[rs1])
	}

	step("drain", "drain: weight 0, in the table", func(d map[netip.AddrPort]int32) bool { w, in := d[rs1]; return in && w == 0 }, edit)
	if h, _ := checks.Of(vsp, rsp); h.Why != "agent says drain" {
		t.Errorf("drain: why %q", h.Why)
	}
	step("down", "down: out of the table", func(d map[netip.AddrPort]int32) bool { _, in := d[rs1]; return !in },
		[]ipvstest.Request{{Cmd: cmdDelDest, Dest: ipvsDest(rs1)}})
	step("up", "up, still draining: back at weight 0", func(d map[netip.AddrPort]int32) bool { w, in := d[rs1]; return in && w == 0 },
		[]ipvstest.Request{{Cmd: cmdNewDest, Dest: ipvsDest(rs1)}})
	step("ready", "ready: 32 again (95% of 32 is within 10 %)", func(d map[netip.AddrPort]int32) bool { return d[rs1] == 32 }, edit)
	if d := destsOf(k, key); d[rs2] != 40 {
		t.Errorf("the other server's weight moved: %v", d)
	}
}

// waitReadings waits until t's monitor has read n times.
func waitReadings(t *testing.T, loads *load.Monitors, tg load.Target, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(tg.Interval / 10)
	defer tick.Stop()
	for {
		if st, _ := loads.Status(tg); st.Readings >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %d readings of %s", n, tg)
		}
		<-tick.C
	}
}

// fakeLoads is a Loads whose statuses the test sets.
type fakeLoads struct {
	mu      sync.Mutex
	targets []load.Target
	status  map[load.Target]load.Status
	downs   int
}

func (f *fakeLoads) Set(ts []load.Target) { f.mu.Lock(); f.targets = ts; f.mu.Unlock() }
func (f *fakeLoads) Status(t load.Target) (load.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.status[t]
	return s, ok
}
func (f *fakeLoads) Down(load.Target)         { f.mu.Lock(); f.downs++; f.mu.Unlock() }
func (f *fakeLoads) Changes() <-chan struct{} { return nil }

// TestLoadWeight: for a server that is up, the effective weight is the
// monitor's, within max_weight, never above a slow start's ramp; drain is
// weight 0 in the table and counts nothing towards the quorum; out of
// service is out. Why says which.
func TestLoadWeight(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	ap := netip.MustParseAddrPort(ln.Addr().String())
	cfg := config.Default()
	cfg.Serial = 1
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Port = true, a("192.0.2.10"), 80
	vs.CheckKind, vs.CheckTimeout, vs.Reentry = config.CheckTCP, 50*time.Millisecond, 0
	vs.LoadMonitor, vs.LoadPort = "agent", 3334
	vs.Reals = []config.RealServer{{Name: "r", Active: true, Address: ap.Addr(), Port: int(ap.Port()), Weight: 32, MaxWeight: 200}}
	cfg.Virtuals = []config.VirtualServer{vs}
	vsp, rsp := &cfg.Virtuals[0], &cfg.Virtuals[0].Reals[0]

	fl := &fakeLoads{status: map[load.Target]load.Status{}}
	checks := NewChecks()
	// The clock the table sets; the real one until then. Set before Run:
	// Run's goroutines read it.
	var clock atomic.Int64
	checks.now = func() time.Time {
		if ns := clock.Load(); ns != 0 {
			return time.Unix(0, ns)
		}
		return time.Now()
	}
	checks.SetLoads(fl)
	checks.Configure(cfg)
	target, _ := targetOf(vsp, rsp)
	if len(fl.targets) != 1 || fl.targets[0] != target || target.Port != 3334 || target.Ceiling != 200 || target.Interval != load.DefaultInterval {
		t.Fatalf("targets %+v", fl.targets)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { checks.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()
	upSince := waitState(t, checks, vsp, rsp, health.Up).UpSince
	iv := policyOf(vsp).Interval
	agentSays := func(w int64, v load.Verdict, reading string) *load.Status {
		return &load.Status{Kind: load.Agent, State: load.State{Weight: w, Verdict: v, Readings: 1, Reading: reading, Word: v.String()}}
	}
	for _, c := range []struct {
		name     string
		up       time.Duration // how long it has been up
		status   *load.Status
		weight   int32
		presence Presence
		why      string
		quorum   int64
	}{
		{"no monitor status: the ramp", 0, nil, 1, In, "slow start", 32},
		{"before the first reading: the configured weight", 5 * iv, &load.Status{Kind: load.Agent, State: load.State{Weight: 32}}, 32, In, "", 32},
		{"the monitor's weight", 5 * iv, agentSays(100, load.Serve, "agent: 300%"), 100, In, "agent: 300%", 32},
		{"the same as configured: no why", 5 * iv, agentSays(32, load.Serve, "agent: 100%"), 32, In, "", 32},
		{"max_weight caps it", 5 * iv, agentSays(1000, load.Serve, "agent: weight:1000"), 200, In, "agent: weight:1000", 32},
		{"slow start not raised", 0, agentSays(100, load.Serve, "agent: 300%"), 1, In, "slow start", 32},
		{"slow start, third step", 3 * iv, agentSays(100, load.Serve, "agent: 300%"), 8, In, "slow start", 32},
		{"below the ramp: the monitor's", 3 * iv, agentSays(5, load.Serve, "agent: 15%"), 5, In, "agent: 15%", 32},
		{"drain: 0 in the table, no quorum", 5 * iv, agentSays(24, load.Drain, "agent: drain 75%"), 0, In, "agent says drain", 0},
		{"drain during the slow start", 0, agentSays(24, load.Drain, "agent: drain 75%"), 0, In, "agent says drain", 0},
		{"out of service", 5 * iv, &load.Status{Kind: load.Agent, State: load.State{Weight: 24, Verdict: load.Stop, Readings: 1, Word: "maint"}}, 0, Out, "agent says maint", 0},
	} {
		fl.mu.Lock()
		delete(fl.status, target)
		if c.status != nil {
			fl.status[target] = *c.status
		}
		fl.mu.Unlock()
		clock.Store(upSince.Add(c.up).UnixNano())
		w, p := checks.Weight(vsp, rsp)
		h, _ := checks.Of(vsp, rsp)
		if w != c.weight || p != c.presence || h.Why != c.why {
			t.Errorf("%s: weight %d, %v, why %q; want %d, %v, %q", c.name, w, p, h.Why, c.weight, c.presence, c.why)
		}
		if q := quorumWeight(checks, vsp, rsp); q != c.quorum {
			t.Errorf("%s: counts %d towards the quorum, want %d", c.name, q, c.quorum)
		}
		if (c.status == nil) != (h.Load == nil) || h.Configured != 32 {
			t.Errorf("%s: Of = %+v", c.name, h)
		}
	}

	// Down by its check: out, and its monitor is told (a load average
	// monitor restarts from the configured weight).
	clock.Store(0)
	ln.Close()
	waitState(t, checks, vsp, rsp, health.Down)
	if w, p := checks.Weight(vsp, rsp); p != Out || w != 0 {
		t.Errorf("down: %d, %v", w, p)
	}
	fl.mu.Lock()
	if fl.downs == 0 {
		t.Error("the monitor was not told the server is down")
	}
	fl.mu.Unlock()
}

// waitState waits until rs's check is in state want.
func waitState(t *testing.T, checks *Checks, vs *config.VirtualServer, rs *config.RealServer, want health.State) health.Status {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if st, _ := checks.status(vs, rs); st.State == want {
			return st
		}
		select {
		case <-checks.Changes():
		case <-deadline:
			t.Fatalf("%s never became %s", rs.Name, stateName(want))
		}
	}
}

// TestProgramWeightCappedByMaxWeight: the weight a check's exit status
// sets (program_weight) is capped by the real server's max_weight, in the
// table and in what the console shows.
func TestProgramWeightCappedByMaxWeight(t *testing.T) {
	st := openStore(t)
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Port = true, a("192.0.2.10"), 80
	vs.CheckKind, vs.CheckTimeout, vs.Reentry = config.CheckProgram, 50*time.Millisecond, 0
	vs.SendProgram, vs.ProgramWeight, vs.Expect = "/usr/bin/sh -c 'exit 102'", true, ""
	vs.Reals = []config.RealServer{{Name: "r", Active: true, Address: a("10.0.0.1"), Weight: 32, MaxWeight: 50}}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, cfg); err != nil {
		t.Fatal(err)
	}
	k, c := fakeKernel(t)
	checks := NewChecks()
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil },
		Health: checks, Wake: checks.Changes(), Log: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { checks.Run(runCtx); done <- struct{}{} }()
	go func() { e.Run(runCtx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()

	key := Desired(cfg, Configured{}).Services[0].ServiceKey
	rs := netip.AddrPortFrom(a("10.0.0.1"), 80)
	waitFor(t, e, "exit status 102's weight 100 capped at 50", func() bool { return destsOf(k, key)[rs] == 50 })
	if h, _ := checks.Of(&cfg.Virtuals[0], &cfg.Virtuals[0].Reals[0]); h.Why != "exit status sets 50 (program)" || h.Configured != 32 {
		t.Errorf("Of = %+v", h)
	}
}

func ipvsDest(ap netip.AddrPort) ipvs.DestKey { return ipvs.DestKey{Addr: ap.Addr(), Port: ap.Port()} }
