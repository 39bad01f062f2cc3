package pulse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Loopback addresses of the two directors and of a stranger. Linux routes
// all of 127.0.0.0/8 to lo, so each can be bound without setup.
var (
	addrA     = netip.MustParseAddr("127.0.0.1")
	addrB     = netip.MustParseAddr("127.0.0.2")
	addrOther = netip.MustParseAddr("127.0.0.3")
)

// Timing of most tests: fast, with room for a loaded machine under -race.
const (
	keepalive = 50 * time.Millisecond
	deadtime  = 300 * time.Millisecond
	patience  = 10 * time.Second // how long a test waits for what must happen
)

func settings(self, peer netip.Addr, bind, peerPort uint16, primary bool) Settings {
	return Settings{
		Self: self, Peer: peer,
		Bind: netip.AddrPortFrom(self, bind), Port: peerPort,
		Key: testKey, Primary: primary,
		Keepalive: keepalive, Deadtime: deadtime,
		Console: 3636,
	}
}

// freePort finds a UDP port that is free on every address.
func freePort(t testing.TB, addrs ...netip.Addr) uint16 {
	t.Helper()
	for range 100 {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addrs[0], 0)))
		if err != nil {
			t.Fatal(err)
		}
		port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
		held := []*net.UDPConn{c}
		ok := true
		for _, a := range addrs[1:] {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, port)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, c)
		}
		for _, c := range held {
			c.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// testNode is a Node whose every handled datagram is signalled on handled,
// for tests that wait for a refusal to be counted.
type testNode struct {
	*Node
	set     Settings // as New normalized them
	name    string
	handled chan struct{}
	cancel  context.CancelFunc
	done    chan error
	started time.Time // when start was called
}

func newNode(t *testing.T, name string, s Settings) *testNode {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	n, err := New(s, Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{Node: n, set: n.c.set, name: name, handled: make(chan struct{}, 1)}
	n.afterPacket = func() {
		select {
		case tn.handled <- struct{}{}:
		default:
		}
	}
	return tn
}

// start runs the node until stop, kill or the end of the test.
func (n *testNode) start(t *testing.T) *testNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	n.started = time.Now()
	go func() {
		err := n.Run(ctx)
		if err != nil {
			t.Errorf("%s: Run: %v", n.name, err)
		}
		n.done <- err
	}()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop ends Run as a clean shutdown does, with the goodbye.
func (n *testNode) stop(t *testing.T) {
	t.Helper()
	if n.cancel == nil {
		return
	}
	n.cancel()
	select {
	case <-n.done:
	case <-time.After(patience):
		t.Fatalf("%s: Run did not return", n.name)
	}
	n.cancel = nil
}

// kill ends Run without the goodbye, as if the process died.
func (n *testNode) kill(t *testing.T) {
	t.Helper()
	n.noGoodbye.Store(true)
	n.stop(t)
}

func (n *testNode) is(r Role) bool {
	st := n.Status()
	return st.Decided && st.Role == r
}

// waitFor waits until cond holds, re-checking it whenever one of the
// nodes signals Changes or handles a datagram, and every few milliseconds
// for what signals neither; it fails the test after patience.
func waitFor(t *testing.T, what string, cond func() bool, nodes ...*testNode) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline.C)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(poll.C)}}
	for _, n := range nodes {
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(n.Changes())},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(n.handled)})
	}
	for !cond() {
		if i, _, _ := reflect.Select(cases); i == 0 {
			t.Fatalf("after %v still not %s:\n%s", patience, what, describeNodes(nodes))
		}
	}
	return time.Since(start)
}

// steady fails if a node's role changes during d: an observation window
// for what must not happen, not a synchronisation.
func steady(t *testing.T, d time.Duration, nodes ...*testNode) {
	t.Helper()
	before := make([]Status, len(nodes))
	for i, n := range nodes {
		before[i] = n.Status()
	}
	window := time.NewTimer(d)
	defer window.Stop()
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(window.C)}}
	for _, n := range nodes {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(n.Changes())})
	}
	for {
		i, _, _ := reflect.Select(cases)
		for j, n := range nodes {
			if st := n.Status(); st.Role != before[j].Role || st.Decided != before[j].Decided || !st.Since.Equal(before[j].Since) {
				t.Fatalf("%s changed role within %v: was %v (%s), now %v (%s)", n.name, d,
					before[j].Role, before[j].Reason, st.Role, st.Reason)
			}
		}
		if i == 0 {
			return
		}
	}
}

func describeNodes(nodes []*testNode) string {
	s := ""
	for _, n := range nodes {
		st := n.Status()
		s += fmt.Sprintf("  %s: decided=%v role=%v reason=%q peer={role=%v heard=%v serial=%d} counters=%+v\n",
			n.name, st.Decided, st.Role, st.Reason, st.Peer.Role, st.Peer.Heard, st.Peer.Serial, st.Counters)
	}
	return s
}

// startPair starts a (primary, on 127.0.0.1) and waits for it to be active
// alone, then b, and waits for b to settle standby with both hearing each
// other. Starting them in turn keeps a slow machine from letting b decide
// by silence before a runs.
func startPair(t *testing.T, a, b *testNode) {
	t.Helper()
	a.start(t)
	waitFor(t, "a active", func() bool { return a.is(Active) }, a)
	b.start(t)
	waitFor(t, "a active, b standby, both heard", func() bool {
		return a.is(Active) && b.is(Standby) && a.Status().Peer.Heard && b.Status().Peer.Heard
	}, a, b)
}

// relay forwards heartbeats between a (127.0.0.1) and b (127.0.0.2) so that
// each still sees the other's own address as the source: what a sends to
// b's side (a socket on 127.0.0.2) leaves from a socket on 127.0.0.1, and
// the other way round. Forwarding can be stopped (a partition) and what a
// sent to b is recorded.
type relay struct {
	onA, onB *net.UDPConn // the relay's sockets on a's and b's addresses
	toA, toB netip.AddrPort
	forward  atomic.Bool

	mu    sync.Mutex
	fromA [][]byte
	wg    sync.WaitGroup
}

// newRelay returns a relay to the nodes listening on toA and toB; a must
// send to relay.onB's port, b to relay.onA's.
func newRelay(t *testing.T, toA, toB netip.AddrPort) *relay {
	t.Helper()
	r := &relay{toA: toA, toB: toB}
	var err error
	if r.onA, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(toA.Addr(), 0))); err != nil {
		t.Fatal(err)
	}
	if r.onB, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(toB.Addr(), 0))); err != nil {
		t.Fatal(err)
	}
	r.forward.Store(true)
	r.wg.Add(2)
	go r.pump(r.onB, r.onA, toB, true)  // from a, to b
	go r.pump(r.onA, r.onB, toA, false) // from b, to a
	t.Cleanup(func() {
		r.onA.Close()
		r.onB.Close()
		r.wg.Wait()
	})
	return r
}

func (r *relay) portOnA() uint16 { return uint16(r.onA.LocalAddr().(*net.UDPAddr).Port) }
func (r *relay) portOnB() uint16 { return uint16(r.onB.LocalAddr().(*net.UDPAddr).Port) }

func (r *relay) pump(in, out *net.UDPConn, to netip.AddrPort, record bool) {
	defer r.wg.Done()
	// A path, not a program: at the nodes' priority, so that a loaded
	// machine does not delay what a real network would not.
	runtime.LockOSThread()
	realtime()
	buf := make([]byte, 2048)
	for {
		n, _, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if record {
			r.mu.Lock()
			r.fromA = append(r.fromA, append([]byte(nil), buf[:n]...))
			r.mu.Unlock()
		}
		if r.forward.Load() {
			out.WriteToUDPAddrPort(buf[:n], to)
		}
	}
}

// recordedFromA returns the datagrams a sent towards b, oldest first.
func (r *relay) recordedFromA() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.fromA...)
}

// relayedPair sets up a (primary, 127.0.0.1) and b (127.0.0.2) talking
// through a relay, and starts them.
func relayedPair(t *testing.T, adjust func(a, b *Settings)) (a, b *testNode, r *relay) {
	t.Helper()
	pa, pb := freePort(t, addrA), freePort(t, addrB)
	r = newRelay(t, netip.AddrPortFrom(addrA, pa), netip.AddrPortFrom(addrB, pb))
	sa := settings(addrA, addrB, pa, r.portOnB(), true)
	sb := settings(addrB, addrA, pb, r.portOnA(), false)
	if adjust != nil {
		adjust(&sa, &sb)
	}
	a, b = newNode(t, "a", sa), newNode(t, "b", sb)
	startPair(t, a, b)
	return a, b, r
}

// direct sets up a (primary, 127.0.0.1) and b (127.0.0.2) on the same port.
func directPair(t *testing.T, adjust func(a, b *Settings)) (a, b *testNode) {
	t.Helper()
	port := freePort(t, addrA, addrB)
	sa := settings(addrA, addrB, port, port, true)
	sb := settings(addrB, addrA, port, port, false)
	if adjust != nil {
		adjust(&sa, &sb)
	}
	return newNode(t, "a", sa), newNode(t, "b", sb)
}

// forger sends datagrams from a socket of its own on addr.
func forger(t *testing.T, addr netip.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
