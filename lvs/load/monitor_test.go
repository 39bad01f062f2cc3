package load

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/load/rwho"
)

// lineServer is an agent on 127.0.0.1 that writes its current line to each
// connection and closes it: an HAProxy agent or a TCP feedback agent.
type lineServer struct {
	ln    net.Listener
	line  atomic.Value // string
	conns atomic.Int64
}

func newLineServer(t *testing.T, line string) *lineServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{ln: ln}
	s.line.Store(line)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			io.WriteString(c, s.line.Load().(string)+"\n")
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *lineServer) port() uint16 { return uint16(s.ln.Addr().(*net.TCPAddr).Port) }

// waitStatus waits, change by change (and at most every interval), until
// cond holds of t's status.
func waitStatus(t *testing.T, m *Monitors, tg Target, what string, cond func(Status) bool) Status {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(tg.Interval)
	defer tick.Stop()
	for {
		st, ok := m.Status(tg)
		if ok && cond(st) {
			return st
		}
		select {
		case <-m.Changes():
		case <-tick.C: // a failure changes no weight: it is not signalled
		case <-deadline:
			t.Fatalf("gave up waiting for %s: %s is %+v (monitored %v)", what, tg, st, ok)
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestMonitorsReadAgents runs monitors against an HAProxy agent and
// feedback agents (TCP and HTTP) on loopback whose answers change.
func TestMonitorsReadAgents(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	ag := newLineServer(t, "up 75%")
	fb := newLineServer(t, "30%")
	var httpIdle atomic.Int64
	httpIdle.Store(50)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/idle" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "%d\n", httpIdle.Load())
	}))
	defer hs.Close()
	hport := uint16(hs.Listener.Addr().(*net.TCPAddr).Port)

	iv := 30 * time.Millisecond
	agt := Target{Kind: Agent, Addr: lo, Port: ag.port(), Interval: iv, Weight: 32, Ceiling: 320}
	tcp := Target{Kind: Feedback, Addr: lo, Port: fb.port(), Interval: iv, Weight: 20, Ceiling: 200}
	web := Target{Kind: Feedback, Addr: lo, Port: hport, HTTPPath: "/idle", Interval: iv, Weight: 20, Ceiling: 200}

	m := NewMonitors(Options{Log: quietLog()})
	m.Set([]Target{agt, tcp, web, {Kind: None, Addr: lo}})
	if st, ok := m.Status(agt); !ok || st.Weight != 32 || st.Readings != 0 {
		t.Fatalf("before a reading: %+v, %v; want the configured weight", st, ok)
	}
	if _, ok := m.Status(Target{Kind: None, Addr: lo}); ok {
		t.Error("a target without a monitor is monitored")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()

	waitStatus(t, m, agt, "75% of 32", func(s Status) bool { return s.Weight == 24 && s.Verdict == Serve })
	waitStatus(t, m, tcp, "30% of 20", func(s Status) bool { return s.Weight == 6 && s.Reading == "idle 30%" })
	waitStatus(t, m, web, "50% of 20", func(s Status) bool { return s.Weight == 10 })

	ag.line.Store("drain")
	waitStatus(t, m, agt, "drain", func(s Status) bool { return s.Verdict == Drain && s.Weight == 24 })
	ag.line.Store("ready weight:100")
	waitStatus(t, m, agt, "weight:100", func(s Status) bool { return s.Verdict == Serve && s.Weight == 100 })
	fb.line.Store("0%")
	waitStatus(t, m, tcp, "idle 0", func(s Status) bool { return s.Weight == 0 })
	httpIdle.Store(100)
	waitStatus(t, m, web, "idle 100", func(s Status) bool { return s.Weight == 20 })

	// An agent that stops answering: the weight stays, the error shows.
	fb.line.Store("down")
	st := waitStatus(t, m, tcp, "a failed reading", func(s Status) bool { return s.Error != "" })
	if st.Weight != 0 || !strings.Contains(st.Error, "agent protocol") || st.Reading != "idle 0%" {
		t.Errorf("after a failure: %+v; want weight 0, the error and the last reading", st)
	}
	ag.ln.Close()
	st = waitStatus(t, m, agt, "a refused connection", func(s Status) bool { return s.Error != "" })
	if st.Weight != 100 || st.Verdict != Serve {
		t.Errorf("after a refused connection: %+v; want weight 100 kept", st)
	}

	// Removed: no longer monitored, and no longer read.
	m.Set([]Target{web})
	if _, ok := m.Status(tcp); ok {
		t.Error("a removed target is still monitored")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A reading in flight at the removal may have been queued by the
	// kernel and accepted only now: one more connection of ours, accepted
	// after every one queued before it, has them all counted.
	probe, err := net.Dial("tcp", fb.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(probe)
	probe.Close()
	n := fb.conns.Load()
	// Run has returned: every goroutine has ended (wg). A Run again reads.
	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() { done <- m.Run(ctx2) }()
	httpIdle.Store(40)
	waitStatus(t, m, web, "idle 40 after a second Run", func(s Status) bool { return s.Weight == 8 })
	cancel2()
	<-done
	if fb.conns.Load() != n {
		t.Errorf("the removed feedback agent was read again")
	}
}

// TestMonitorsBound: readings are bounded in time (a reading that hangs
// fails at the timeout, the weight stays) and in number (at most
// MaxConcurrent in flight); a target removed while read is cancelled.
func TestMonitorsBound(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	var mu sync.Mutex
	inflight, most := 0, 0
	started := make(chan Target, 100)
	cancelled := make(chan Target, 100)
	release := make(chan struct{})
	read := func(ctx context.Context, tg Target) (Reading, error) {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		mu.Unlock()
		defer func() { mu.Lock(); inflight--; mu.Unlock() }()
		started <- tg
		select {
		case <-release:
			return Reading{Answer: answer(t, "50%")}, nil
		case <-ctx.Done():
			cancelled <- tg
			return Reading{}, ctx.Err()
		}
	}
	m := NewMonitors(Options{Read: read, MaxConcurrent: 2, Timeout: time.Hour, Log: quietLog()})
	var targets []Target
	for i := range 5 {
		targets = append(targets, Target{Kind: Agent, Addr: lo, Port: uint16(1000 + i), Interval: 20 * time.Millisecond, Weight: 10, Ceiling: 100})
	}
	m.Set(targets)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	for range 10 {
		<-started
		release <- struct{}{}
	}
	mu.Lock()
	if most > 2 {
		t.Errorf("%d readings in flight at once, want at most 2", most)
	}
	mu.Unlock()

	// Removed while read: its reading is cancelled.
	victim := <-started
	var keep []Target
	for _, tg := range targets {
		if tg != victim {
			keep = append(keep, tg)
		}
	}
	m.Set(keep)
	if got := <-cancelled; got != victim {
		t.Errorf("cancelled %v, want %v", got, victim)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A reading that hangs fails at its bound (the interval, at most
	// Timeout); the weight stays.
	bounds := make(chan time.Duration, 1)
	hang := func(ctx context.Context, tg Target) (Reading, error) {
		// The reading's bound, from its start: its context's deadline.
		if dl, ok := ctx.Deadline(); ok {
			select {
			case bounds <- time.Until(dl):
			default:
			}
		}
		<-ctx.Done()
		return Reading{}, fmt.Errorf("agent: %w", ctx.Err())
	}
	m = NewMonitors(Options{Read: hang, Timeout: 10 * time.Millisecond, Log: quietLog()})
	tg := Target{Kind: Rup, Addr: lo, Interval: time.Second, Weight: 10, Ceiling: 100}
	m.Set([]Target{tg})
	ctx, cancel = context.WithCancel(t.Context())
	go func() { done <- m.Run(ctx) }()
	st := waitStatus(t, m, Target(tg), "a timeout", func(s Status) bool { return s.Error != "" })
	if !strings.Contains(st.Error, "deadline exceeded") || st.Weight != 10 {
		t.Errorf("hung reading: %+v", st)
	}
	// Bounded by Timeout (10 ms), not by the interval (1 s): read from the
	// context rather than timed, which a busy machine would stretch.
	if b := <-bounds; b > 10*time.Millisecond {
		t.Errorf("the hung reading had %v to run, want at most the timeout, 10ms", b)
	}
	cancel()
	<-done
}

// whod is an rwhod status packet from host with load average load.
func whod(host string, load float64) []byte {
	b := make([]byte, 60)
	b[0], b[1] = 1, 1
	binary.BigEndian.PutUint32(b[4:], uint32(time.Now().Unix()))
	copy(b[12:44], host)
	for i := range 3 {
		binary.BigEndian.PutUint32(b[44+4*i:], uint32(int32(load*100)))
	}
	return b
}

// TestMonitorsRuptime: rwhod's broadcasts are listened for only while a
// target is ruptime's, and its load drives piranha's rule.
func TestMonitorsRuptime(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	m := NewMonitors(Options{RwhoListen: "127.0.0.1:0", Rwho: rwho.Options{AnySourcePort: true}, Log: quietLog()})
	addr := func() net.Addr {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.rwho == nil {
			return nil
		}
		return m.rwho.Addr()
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); ; runtime.Gosched() {
		m.mu.Lock()
		running := m.ctx != nil
		m.mu.Unlock()
		if running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not start")
		}
	}
	tg := Target{Kind: Ruptime, Addr: lo, Interval: 30 * time.Millisecond, Weight: 10, Ceiling: 100}
	m.Set([]Target{{Kind: Rup, Addr: lo, Interval: time.Hour, Weight: 1, Ceiling: 10}})
	if a := addr(); a != nil {
		t.Fatalf("listening on %v without a ruptime target", a)
	}
	m.Set([]Target{tg})
	a := addr()
	if a == nil {
		t.Fatal("not listening with a ruptime target")
	}
	st := waitStatus(t, m, tg, "no broadcast yet", func(s Status) bool { return s.Error != "" })
	if !strings.Contains(st.Error, "no rwhod broadcast") || st.Weight != 10 {
		t.Errorf("before a broadcast: %+v", st)
	}
	c, err := net.Dial("udp", a.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(whod("rs1", 0)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, tg, "an idle server's weight to climb", func(s Status) bool { return s.Weight == 15 && s.Reading == "load 0.00" })
	m.Set(nil)
	if a := addr(); a != nil {
		t.Errorf("still listening on %v without a ruptime target", a)
	}
}
