//go:build !guest

package engine

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/internal/loadtest"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
	"github.com/lvsconsole/lvsconsole/lvs/load"
	"github.com/lvsconsole/lvsconsole/store"
)

// The load monitors' tests (issue 18): each runs the engine on the fake
// kernel with real health checks and real load monitors (load.Monitors)
// against a real server that is a network namespace behind a veth pair
// (lvs/internal/loadtest), where Debian's daemons or the test's agents
// answer; it changes what they say and waits, reconcile by reconcile, for
// the table to show the weight the documented rule gives.

// loadLab is the engine, its checks and load monitors, and one real
// server, h.Addr:80, of the virtual server 192.0.2.10:80.
type loadLab struct {
	t      *testing.T
	h      *loadtest.Host
	k      *ipvstest.Kernel
	e      *Engine
	checks *Checks
	cfg    *config.Config
	key    ipvs.ServiceKey
	rs     netip.AddrPort
	svc    net.Listener // the health check's target
}

// newLoadLab starts the engine with vs's load monitor kind reading h,
// once a second (the shortest load_interval); set adjusts the virtual server and its real server
// (weight, max_weight, load settings) before the store takes it.
func newLoadLab(t *testing.T, h *loadtest.Host, kind load.Kind, weight, maxWeight int64, set func(*config.VirtualServer), o load.Options) *loadLab {
	return newLoadLabEvery(t, h, kind, time.Second, weight, maxWeight, set, o)
}

// newLoadLabEvery is newLoadLab reading every interval.
func newLoadLabEvery(t *testing.T, h *loadtest.Host, kind load.Kind, interval time.Duration, weight, maxWeight int64, set func(*config.VirtualServer), o load.Options) *loadLab {
	t.Helper()
	st := openStore(t)
	cfg := config.Default()
	vs := config.NewVirtual("web")
	vs.Active, vs.Address, vs.Port = true, a("192.0.2.10"), 80
	vs.CheckKind, vs.CheckTimeout, vs.CheckInterval, vs.CheckFailures = "tcp", 2*time.Second, 200*time.Millisecond, 3
	vs.Reentry = 200 * time.Millisecond
	vs.LoadMonitor, vs.LoadInterval = string(kind), interval
	vs.Reals = []config.RealServer{{Name: "r", Active: true, Address: h.Addr, Port: 80, Weight: weight, MaxWeight: maxWeight}}
	if set != nil {
		set(&vs)
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, cfg); err != nil {
		t.Fatal(err)
	}
	k, c := fakeKernel(t)
	checks := NewChecks()
	mons := load.NewMonitors(o)
	checks.SetLoads(mons)
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil },
		Health: checks, Wake: checks.Changes(), Log: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{mons.Run, checks.Run, e.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); run(runCtx) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	l := &loadLab{t: t, h: h, k: k, e: e, checks: checks, cfg: cfg,
		key: Desired(cfg, Configured{}).Services[0].ServiceKey, rs: netip.AddrPortFrom(h.Addr, 80)}
	l.serve()
	return l
}

// serve opens the health check's target, a TCP port that accepts, until
// the test ends or closes it.
func (l *loadLab) serve() net.Listener {
	ln := l.h.Listen(80)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	l.svc = ln
	return ln
}

// health is what the console would show of the real server.
func (l *loadLab) health() ServerHealth {
	vs := &l.cfg.Virtuals[0]
	sh, _ := l.checks.Of(vs, &vs.Reals[0])
	return sh
}

// weight is the server's weight in the table, false when it is not there.
func (l *loadLab) weight() (int32, bool) {
	w, in := destsOf(l.k, l.key)[l.rs]
	return w, in
}

// waitWeight waits until the table gives the server weight w.
func (l *loadLab) waitWeight(what string, w int32) {
	l.t.Helper()
	waitFor(l.t, l.e, fmt.Sprintf("%s: weight %d", what, w), func() bool { got, in := l.weight(); return in && got == w })
}

// writes are the requests that changed the table since the last Reset.
func (l *loadLab) writes() []ipvstest.Request {
	var ws []ipvstest.Request
	for _, r := range l.k.Requests() {
		if !r.Dump && r.Cmd != cmdGetDest && r.Cmd != cmdGetService && r.Cmd != cmdGetInfo && r.Cmd != cmdGetConfig && r.Cmd != cmdGetDaemon { // not a read
			ws = append(ws, r)
		}
	}
	return ws
}

// piranhaChain is the weights piranha's rule goes through from the
// configured weight's monitor state `from` at a steady load, to where it
// stays.
func piranhaChain(weight, ceiling, from int64, loadavg float64) []int64 {
	chain := []int64{from}
	for {
		next, changed := load.Piranha(weight, ceiling, chain[len(chain)-1], loadavg)
		if !changed {
			return chain
		}
		chain = append(chain, next)
	}
}

// follow waits until the table's weight has gone through chain to its
// end, checking at every reconcile that the weight is one of chain's, in
// its order, and that each change was one edit of the destination (the
// engine may gather two readings' steps in one reconcile). From the start
// (entering): until the weight is first one of chain's, the server may
// still be entering the table (its first check) or in its slow start.
func (l *loadLab) follow(what string, chain []int64, entering bool) {
	l.t.Helper()
	pos := 0
	deadline := time.After(time.Duration(len(chain))*3*time.Second + 10*time.Second)
	for {
		w, in := l.weight()
		i := -1
		for j := pos; j < len(chain); j++ {
			if in && int64(w) == chain[j] {
				i = j
			}
		}
		switch {
		case i < 0 && entering:
		case i < 0:
			l.t.Fatalf("%s: weight %d (in the table: %v), want one of %v after %v", what, w, in, chain[pos:], chain[pos])
		case entering:
			entering, pos = false, i
			l.k.Reset()
		case i > pos:
			ws := l.writes()
			if len(ws) == 0 || len(ws) > i-pos {
				l.t.Errorf("%s: %d -> %d took %d table writes (%+v), want at most %d (one per step)", what, chain[pos], chain[i], len(ws), ws, i-pos)
			}
			for _, r := range ws {
				if r.Cmd != cmdSetDest {
					l.t.Errorf("%s: %d -> %d wrote %+v, want only edits of the destination", what, chain[pos], chain[i], r)
				}
			}
			l.k.Reset()
			pos = i
		}
		if pos == len(chain)-1 {
			return
		}
		select {
		case <-l.e.Applied():
		case <-deadline:
			l.t.Fatalf("%s: gave up at weight %d, want %v; %+v", what, w, chain[pos:], l.health().Load)
		}
	}
}

// stepOnce changes an agent's answer (change) and waits until the table
// shows want (in false: the server out of it), checking that the change
// was one netlink request, cmd.
func (l *loadLab) stepOnce(what string, change func(), want int32, in bool, cmd uint8) {
	l.t.Helper()
	l.k.Reset()
	change()
	waitFor(l.t, l.e, what, func() bool { w, ok := l.weight(); return ok == in && (!in || w == want) })
	if ws := l.writes(); len(ws) != 1 || ws[0].Cmd != cmd {
		l.t.Errorf("%s took the table writes %+v, want one request, command %d", what, ws, cmd)
	}
}

// loadReading waits until the monitor has read once and returns what it
// says.
func (l *loadLab) loadReading(what string) *LoadStatus {
	l.t.Helper()
	return l.loadStatus(what+": a reading", func(ls *LoadStatus) bool { return ls.Reading != "" })
}

// loadStatus polls what the monitor says until cond holds of it: a
// reading that changes no weight makes no reconcile to wait for.
func (l *loadLab) loadStatus(what string, cond func(*LoadStatus) bool) *LoadStatus {
	l.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ls := l.health().Load
		if ls != nil && cond(ls) {
			return ls
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("gave up waiting for %s; the monitor says %+v", what, ls)
		}
		<-tick.C
	}
}

// TestLoadRupWeights: rup reads Debian's rpc.rstatd, whose /proc/loadavg
// the test sets. At load 0.25 a server of weight 4 and max_weight 8 climbs
// by piranha's rule (4, 5, 6, 7, 8), each step one edit of the
// destination; down by its health check it restarts from its own weight;
// at load 3 it comes back (8, 5, 4), never below its own.
func TestLoadRupWeights(t *testing.T) {
	h := loadtest.NewHost(t)
	h.SetLoad(0.25, 0.5, 0.75)
	h.StartRstatd()
	l := newLoadLab(t, h, load.Rup, 4, 8, nil, load.Options{})
	up := piranhaChain(4, 8, 4, 0.25)
	l.follow("load 0.25", up, true)
	if sh := l.health(); sh.Why != "load 0.25 (rup)" || sh.Configured != 4 || sh.Load.Weight != 8 || sh.Load.Monitor != "rup" {
		t.Errorf("at load 0.25: %+v, load %+v", sh, sh.Load)
	}

	// The server goes down by its check: out of the table, and its
	// monitor's weight back at the configured one (piranha's nanny
	// restarts from it); back up, it climbs again from there.
	l.svc.Close()
	waitFor(t, l.e, "the server out after its check failed", func() bool { _, in := l.weight(); return !in })
	l.loadStatus("the monitor restarted at the configured weight", func(ls *LoadStatus) bool { return ls.Weight == 4 })
	l.serve()
	l.follow("load 0.25, after the server came back", up, true)

	h.SetLoad(3, 2, 1)
	down := piranhaChain(4, 8, up[len(up)-1], 3)
	l.follow("load 3", down, false)
	if sh := l.health(); sh.Load.Reading != "load 3.00" || sh.Why != "" {
		t.Errorf("at load 3: %+v, load %+v", sh, sh.Load)
	}
	t.Logf("load 0.25: %v; load 3: %v", up, down)
}

// TestLoadRuptimeWeights: ruptime hears Debian's rwhod, which broadcasts
// the kernel's real load (sysinfo(2): a test cannot set it): the weight is
// piranha's rule applied, reading after reading, to the load it reported.
func TestLoadRuptimeWeights(t *testing.T) {
	h := loadtest.NewHost(t)
	l := newLoadLab(t, h, load.Ruptime, 4, 8, nil, load.Options{RwhoListen: netip.AddrPortFrom(h.Broadcast, 513).String()})
	// The monitor listens from its first reading on: rwhod, which
	// broadcasts when it starts and then every 3 minutes, starts after.
	l.loadStatus("ruptime's first reading", func(ls *LoadStatus) bool { return ls.Error != "" })
	before := loadtest.MachineLoad(t)[0]
	h.StartRwhod()
	ls := l.loadReading("rwhod's broadcast")
	after := loadtest.MachineLoad(t)[0]
	reported, err := strconv.ParseFloat(strings.TrimPrefix(ls.Reading, "load "), 64)
	if err != nil {
		t.Fatalf("reading %q", ls.Reading)
	}
	if reported < min(before, after)-0.1 || reported > max(before, after)+0.1 {
		t.Errorf("ruptime read %.2f, /proc/loadavg said %.2f then %.2f", reported, before, after)
	}
	chain := piranhaChain(4, 8, 4, reported)
	l.follow(fmt.Sprintf("load %.2f", reported), chain, true)
	t.Logf("rwhod reported %.2f: weights %v", reported, chain)
}

// pins are SSH host key pins in memory (sshload.HostKeys).
type pins struct {
	mu sync.Mutex
	m  map[string]string
}

func (p *pins) Pinned(host string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fp, ok := p.m[host]
	return fp, ok
}

func (p *pins) Pin(host, fp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[host] = fp
	return nil
}

// TestLoadUptimeWeights: uptime logs in to Debian's sshd with the
// director's key (restricted on the server to cat /proc/loadavg, as the
// console tells admins to install it) and reads the /proc/loadavg the test
// sets: the weight climbs at load 0.25 as rup's; the host key of the first
// connection is pinned and shown. Then the server's host key changes and
// its load goes to 3: the readings are refused, naming both keys, and the
// weight stays.
func TestLoadUptimeWeights(t *testing.T) {
	h := loadtest.NewHost(t)
	h.SetLoad(0.25, 0.5, 0.75)
	_, dk, _ := ed25519.GenerateKey(rand.Reader)
	director, err := ssh.NewSignerFromKey(dk)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first, firstPub := loadtest.HostKey(t, dir, "host1")
	keys := loadtest.AuthorizedKey(`restrict,command="cat /proc/loadavg"`, director.PublicKey())
	sshd := h.StartSSHD(loadtest.SSHDConfig{HostKey: first, AuthorizedKeys: keys})
	p := &pins{}
	// A reading is bounded by the interval: an SSH login on a busy
	// machine takes longer than a second.
	l := newLoadLabEvery(t, h, load.Uptime, 4*time.Second, 4, 8, nil, load.Options{
		DirectorKey: func() (ssh.Signer, error) { return director, nil },
		HostKeys:    p,
	})
	chain := piranhaChain(4, 8, 4, 0.25)
	defer func() {
		if t.Failed() {
			t.Logf("sshd:\n%s", sshd.Log())
		}
	}()
	l.follow("load 0.25 over ssh", chain, true)
	pinned := ssh.FingerprintSHA256(firstPub)
	if fp, _ := p.Pinned(h.AddrPort(22)); fp != pinned {
		t.Errorf("pinned %q for %s, want the host key's %s", fp, h.AddrPort(22), pinned)
	}
	if sh := l.health(); sh.Load.HostKey != pinned || sh.Why != "load 0.25 (uptime)" {
		t.Errorf("the console would show %+v, load %+v; want the host key %s", sh, sh.Load, pinned)
	}

	sshd.Stop()
	second, secondPub := loadtest.HostKey(t, dir, "host2")
	h.StartSSHD(loadtest.SSHDConfig{HostKey: second, AuthorizedKeys: keys})
	h.SetLoad(3, 2, 1)
	ls := l.loadStatus("a refused reading", func(ls *LoadStatus) bool { return ls.Error != "" })
	offered := ssh.FingerprintSHA256(secondPub)
	if !strings.Contains(ls.Error, pinned) || !strings.Contains(ls.Error, offered) {
		t.Errorf("the refusal says %q, want the pinned %s and the offered %s", ls.Error, pinned, offered)
	}
	// At load 3 a reading that went through would have lowered it.
	if w, in := l.weight(); !in || w != 8 || ls.Weight != 8 {
		t.Errorf("after a refused host key the weight is %d (in %v, monitor %d), want 8 kept", w, in, ls.Weight)
	}
	if fp, _ := p.Pinned(h.AddrPort(22)); fp != pinned {
		t.Errorf("the refused key changed the pin to %s", fp)
	}
}

// TestLoadAgentWeights: an HAProxy agent (the test's, in the real
// server's namespace) answers one line after another; each change reaches
// the table as one netlink request: a share of the configured weight 20
// (75%, weight:30), drain (weight 0, in the table) until ready, down, fail,
// stopped and maint (out) until up or ready; what a line does not say
// stays. The checker sends agent-send first.
func TestLoadAgentWeights(t *testing.T) {
	h := loadtest.NewHost(t)
	ag := loadtest.ServeAgent(t, h.Listen(4444), "up 75%")
	l := newLoadLab(t, h, load.Agent, 20, 0, func(vs *config.VirtualServer) {
		vs.LoadPort, vs.LoadSend = 4444, `status\n`
	}, load.Options{})
	l.waitWeight("up 75%", 15)
	if sh := l.health(); sh.Why != "agent: up 75%" || sh.Configured != 20 {
		t.Errorf("at up 75%%: %+v", sh)
	}
	if got := ag.Sent(); got != "status\n" {
		t.Errorf("the agent got %q, want agent-send's status\\n", got)
	}
	for _, s := range []struct {
		line   string
		weight int32
		in     bool
		cmd    uint8
		why    string
	}{
		{"weight:30", 30, true, cmdSetDest, "agent: up weight:30"},
		{"drain", 0, true, cmdSetDest, "agent says drain"},
		{"ready", 30, true, cmdSetDest, "agent: up weight:30"},
		{"down #disk full", 0, false, cmdDelDest, ""},
		{"up", 30, true, cmdNewDest, "agent: up weight:30"},
		{"maint", 0, false, cmdDelDest, ""},
		{"ready 50%", 10, true, cmdNewDest, "agent: up 50%"},
		{"fail", 0, false, cmdDelDest, ""},
		{"up", 10, true, cmdNewDest, "agent: up 50%"},
		{"stopped", 0, false, cmdDelDest, ""},
		{"up 100%", 20, true, cmdNewDest, ""},
	} {
		l.stepOnce("agent says "+s.line, func() { ag.Set(s.line) }, s.weight, s.in, s.cmd)
		if sh := l.health(); s.in && sh.Why != s.why {
			t.Errorf("after %q the console says why %q, want %q", s.line, sh.Why, s.why)
		}
	}
}

// TestLoadFeedbackWeights: a feedback agent (over TCP on its default port
// 3333, and over HTTP) answers its idle percentage: 100% is the configured
// weight 20, 30 is 6, 0 is weight 0 (in the table), 100 again 20; each
// change one edit of the destination.
func TestLoadFeedbackWeights(t *testing.T) {
	for _, overHTTP := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "http"}[overHTTP], func(t *testing.T) {
			h := loadtest.NewHost(t)
			var fb *loadtest.Feedback
			set := func(*config.VirtualServer) {}
			if overHTTP {
				fb = loadtest.ServeFeedbackHTTP(t, h.Listen(8080), "/idle", "100")
				set = func(vs *config.VirtualServer) { vs.LoadPort, vs.LoadHTTPPath = 8080, "/idle" }
			} else {
				fb = loadtest.ServeFeedback(t, h.Listen(3333), "100%")
			}
			l := newLoadLab(t, h, load.Feedback, 20, 0, set, load.Options{})
			l.loadReading("the first answer")
			l.waitWeight("idle 100%", 20)
			for _, s := range []struct {
				answer string
				weight int32
				why    string
			}{{"30", 6, "idle 30% (feedback)"}, {"0%", 0, "idle 0% (feedback)"}, {"100", 20, ""}} {
				l.stepOnce("idle "+s.answer, func() { fb.Set(s.answer) }, s.weight, true, cmdSetDest)
				if sh := l.health(); sh.Why != s.why {
					t.Errorf("at idle %s the console says why %q, want %q", s.answer, sh.Why, s.why)
				}
			}
			if fb.Queries() < 4 {
				t.Errorf("the agent answered %d queries", fb.Queries())
			}
		})
	}
}
