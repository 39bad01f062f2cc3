package pulse

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Status is a snapshot of a Node.
type Status struct {
	Role Role
	// Decided is false while starting (and before Run): the node claims no
	// role yet and its callers should leave things as they are, so that a
	// restart of the active director does not take its addresses down.
	Decided  bool
	Since    time.Time // when Role or Decided last changed
	Reason   string    // why
	LinkDown bool      // SetLink(false) is in force
	Peer     PeerStatus
	Counters Counters
}

// PeerStatus is what the last valid heartbeat of the peer said.
type PeerStatus struct {
	Addr      netip.Addr // the configured peer
	Role      Role
	Primary   bool
	LinkDown  bool
	Serial    int64
	Console   uint16
	Boot      uint64
	LastHeard time.Time
	// Heard says the peer is alive: a valid heartbeat came less than
	// Deadtime ago. The other fields keep the last news after that.
	Heard  bool
	Source netip.Addr // the address the last heartbeat came from
}

// Counters count datagrams. Each refused datagram is counted once, by the
// first check it fails, in this order: Malformed, UnknownSource (not from
// one of the peer's addresses), BadAuth (wrong MAC, or a From that is not
// the peer), Replayed (a Seq below the last accepted one) or Duplicate (the
// last accepted heartbeat again).
type Counters struct {
	Sent          uint64 // datagrams sent (one per peer address per heartbeat)
	Received      uint64 // heartbeats accepted
	Malformed     uint64
	UnknownSource uint64
	BadAuth       uint64
	Replayed      uint64
	// Duplicate is normal when both the public and the private path work:
	// each heartbeat comes twice. Counting it apart keeps Replayed for what
	// only an attacker (or a clock stepped back at the peer) sends.
	Duplicate uint64
}

// Node is one director's side of the heartbeat. Its methods are safe for
// concurrent use.
type Node struct {
	log     *slog.Logger
	boot    uint64
	changes chan struct{}
	poke    chan struct{} // wakes Run after a change of settings or link

	mu       sync.Mutex
	set      Settings
	st       state
	since    time.Time
	reason   string
	sendNow  bool // the role changed: Run sends a heartbeat at once
	serial   int64
	seq      uint64 // last Seq sent
	peer     peerExtra
	alive    bool // Status.Peer.Heard
	counters Counters
	run      *runState
	sendErr  map[netip.AddrPort]string // last error per destination, to log changes only

	// Test hooks, set before Run.
	noGoodbye   atomic.Bool // end Run without the Leaving message, as if killed
	afterPacket func()      // called after each datagram was handled
}

// peerExtra is what Status shows of the peer beyond the decision's view,
// and the replay state.
type peerExtra struct {
	serial  int64
	console uint16
	boot    uint64
	source  netip.Addr
	seq     uint64 // last accepted Seq
}

// runState is one call of Run.
type runState struct {
	ctx     context.Context
	conn    *net.UDPConn
	packets chan packet
	done    chan struct{} // closed when Run ends: readers stop
	failed  chan error    // a rebind lost the socket: Run ends with it
	readers sync.WaitGroup
}

type packet struct {
	data []byte
	from netip.AddrPort
	at   time.Time
}

// New checks s and returns a Node that does nothing until Run.
func New(s Settings, o Options) (*Node, error) {
	s, err := s.normalize()
	if err != nil {
		return nil, err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("pulse: drawing the boot id: %w", err)
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	return &Node{
		log:     log,
		boot:    binary.BigEndian.Uint64(b[:]),
		changes: make(chan struct{}, 1),
		poke:    make(chan struct{}, 1),
		set:     s,
		reason:  "not running",
		sendErr: map[netip.AddrPort]string{},
	}, nil
}

// Changes is signalled (capacity 1, never closed) whenever our role or
// decidedness changes, or the peer's role, serial or liveness (among other
// things it reports). Status is the truth; the signal only says to look.
func (n *Node) Changes() <-chan struct{} { return n.changes }

// Status returns a snapshot.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.st.Peer
	return Status{
		Role:     n.st.Role,
		Decided:  n.st.Decided,
		Since:    n.since,
		Reason:   n.reason,
		LinkDown: n.st.LinkDown,
		Peer: PeerStatus{
			Addr:      n.set.Peer,
			Role:      p.Role,
			Primary:   p.Primary,
			LinkDown:  p.LinkDown,
			Serial:    n.peer.serial,
			Console:   n.peer.console,
			Boot:      n.peer.boot,
			LastHeard: p.Last,
			Heard:     n.alive,
			Source:    n.peer.source,
		},
		Counters: n.counters,
	}
}

// SetSerial sets our configuration serial. A new serial is sent at once,
// not at the next tick: the standby learns of an edit on the active within
// a round trip, whatever the keepalive.
func (n *Node) SetSerial(serial int64) {
	n.mu.Lock()
	changed := n.serial != serial
	n.serial = serial
	if changed {
		n.sendNow = true
	}
	n.mu.Unlock()
	if changed {
		n.wakeRun()
	}
}

// SetLink reports the monitored links: false (a link is down) makes the
// node standby at once, before SetLink returns, and keeps it from becoming
// active until SetLink(true). After that it waits a Deadtime for the peer
// as at a start, rather than acting on news it may have missed.
func (n *Node) SetLink(ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.st.LinkDown == !ok {
		return
	}
	if ok {
		n.log.Info("pulse: monitored link up again")
	} else {
		n.log.Warn("pulse: monitored link down: standby until it is up")
	}
	n.update(time.Now(), func() {
		n.st.LinkDown = !ok
		if ok {
			n.st.Ref = time.Now()
		}
	})
	n.wakeRun()
}

// wakeRun makes Run send at once if the role changed, and rearm its timer.
func (n *Node) wakeRun() {
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

// Configure replaces the settings, while running too: a new Bind is bound
// before the old socket is closed (or, if the two collide, right after), a
// new Peer starts afresh, and the same Peer keeps what we know of it (its
// role, liveness and last sequence number). On error nothing changed,
// except in one unlikely case: if the new Bind collides with the old, the
// old socket is closed first, and if neither can then be bound, Run ends
// with that error.
func (n *Node) Configure(s Settings) error {
	s, err := s.normalize()
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.set
	if r := n.run; r != nil && s.Bind != old.Bind {
		if err := n.rebind(r, old.Bind, s.Bind); err != nil {
			return err
		}
	}
	n.update(time.Now(), func() {
		n.set = s
		if !samePeer(old, s) {
			n.log.Info("pulse: new peer", "peer", s.Peer, "old", old.Peer)
			n.st.Peer = peerView{}
			n.peer = peerExtra{}
			n.alive = false
			n.st.Ref = time.Now()
		}
	})
	n.wakeRun()
	return nil
}

// rebind moves r to a socket on to; called with n.mu held.
func (n *Node) rebind(r *runState, from, to netip.AddrPort) error {
	conn, err := listen(r.ctx, to)
	if err != nil && errors.Is(err, syscall.EADDRINUSE) {
		// The new address overlaps the old (e.g. 0.0.0.0:539 to
		// 10.0.0.1:539): free it and try again, going back if that fails.
		r.conn.Close()
		conn, err = listen(r.ctx, to)
		if err != nil {
			back, berr := listen(r.ctx, from)
			if berr != nil {
				select {
				case r.failed <- fmt.Errorf("pulse: rebinding back to %v after failing to bind %v: %w", from, to, berr):
				default:
				}
				return fmt.Errorf("pulse: binding %v: %w (and the old socket is lost)", to, err)
			}
			r.conn = back
			n.startReader(r, back)
			return fmt.Errorf("pulse: binding %v: %w", to, err)
		}
	} else if err != nil {
		return fmt.Errorf("pulse: binding %v: %w", to, err)
	} else {
		r.conn.Close()
	}
	r.conn = conn
	n.startReader(r, conn)
	n.log.Info("pulse: listening", "addr", to)
	return nil
}

func listen(ctx context.Context, bind netip.AddrPort) (*net.UDPConn, error) {
	network := "udp4"
	if bind.Addr().Is6() {
		network = "udp6"
		if bind.Addr().IsUnspecified() {
			network = "udp" // dual stack: IPv4 peers arrive as ::ffff:a.b.c.d
		}
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, network, bind.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// startReader reads conn until it is closed; called with n.mu held.
func (n *Node) startReader(r *runState, conn *net.UDPConn) {
	r.readers.Add(1)
	go func() {
		defer r.readers.Done()
		buf := make([]byte, 2*messageLen) // longer datagrams are malformed anyway
		for {
			nr, from, err := conn.ReadFromUDPAddrPort(buf)
			at := time.Now()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				n.log.Warn("pulse: reading heartbeats", "err", err)
				select { // don't spin on a persistent error
				case <-time.After(10 * time.Millisecond):
					continue
				case <-r.done:
					return
				}
			}
			select {
			case r.packets <- packet{data: append([]byte(nil), buf[:nr]...), from: from, at: at}:
			case <-r.done:
				return
			}
		}
	}()
}

// Run binds Settings.Bind and sends and receives heartbeats until ctx ends;
// then it sends the peer one Leaving message (role Standby), so that it
// takes over at once, sets the node standby and returns nil. It returns an
// error if it cannot bind, or if it is already running.
func (n *Node) Run(ctx context.Context) error {
	n.mu.Lock()
	if n.run != nil {
		n.mu.Unlock()
		return errors.New("pulse: Run is already running")
	}
	bind := n.set.Bind
	conn, err := listen(ctx, bind)
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("pulse: listening for heartbeats on %v: %w", bind, err)
	}
	r := &runState{
		ctx:     ctx,
		conn:    conn,
		packets: make(chan packet, 64),
		done:    make(chan struct{}),
		failed:  make(chan error, 1),
	}
	n.run = r
	now := time.Now()
	first := n.update(now, func() {
		n.st.Role, n.st.Decided, n.st.Ref = Standby, false, now
		n.since = now
		n.reason = fmt.Sprintf("starting: waiting up to %v for the peer", n.set.Deadtime)
	})
	n.startReader(r, conn)
	keepalive := n.set.Keepalive
	n.mu.Unlock()
	n.log.Info("pulse: listening", "addr", bind, "boot", n.boot)

	tick := time.NewTimer(0) // the first heartbeat at once
	defer tick.Stop()
	wake := time.NewTimer(time.Until(first))
	defer wake.Stop()
	for {
		var at time.Time
		select {
		case <-ctx.Done():
			n.stop(r)
			return nil
		case err := <-r.failed:
			n.stop(r)
			return err
		case p := <-r.packets:
			at = n.handle(p)
		case <-tick.C:
			n.send(false)
			tick.Reset(keepalive)
			continue
		case <-wake.C:
			// Heartbeats already read go first: a starved process must not
			// declare a peer dead whose heartbeat is waiting in the queue.
			for drained := false; !drained; {
				select {
				case p := <-r.packets:
					n.handle(p)
				default:
					drained = true
				}
			}
			at = n.evaluate()
		case <-n.poke:
			at = n.evaluate()
		}

		n.mu.Lock()
		sendNow := n.sendNow
		n.sendNow = false
		k := n.set.Keepalive
		n.mu.Unlock()
		if sendNow {
			n.send(false) // tell the peer now, not at the next tick
			tick.Reset(k)
		} else if k != keepalive {
			tick.Reset(0)
		}
		keepalive = k
		if at.IsZero() {
			wake.Stop()
		} else {
			wake.Reset(time.Until(at))
		}
	}
}

// stop ends a run: the goodbye, then the socket and its readers.
func (n *Node) stop(r *runState) {
	goodbye := !n.noGoodbye.Load()
	if goodbye {
		n.send(true)
	}
	n.mu.Lock()
	n.run = nil
	conn := r.conn
	now := time.Now()
	n.update(now, func() {
		n.reason = "stopped"
		if goodbye {
			n.reason = "stopped: asked the peer to take over"
		}
		if n.st.Role != Standby || !n.st.Decided {
			n.st.Role, n.st.Decided, n.since = Standby, true, now
		}
	})
	n.mu.Unlock()
	close(r.done)
	conn.Close()
	r.readers.Wait()
	n.log.Info("pulse: stopped", "goodbye", goodbye)
}

// evaluate decides again at the current time.
func (n *Node) evaluate() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.run == nil {
		return time.Time{}
	}
	return n.update(time.Now(), nil)
}

// update applies f to the node, decides again, signals Changes if anything
// a caller watches changed, and returns when to decide next. Called with
// n.mu held.
func (n *Node) update(now time.Time, f func()) time.Time {
	before := n.watched()
	if f != nil {
		f()
	}
	var wake time.Time
	if n.run != nil {
		// A change can enable another at the same instant (starting, then
		// standby, then preempting with no delay): decide until it holds.
		for range 3 {
			v := decide(n.st, n.set, now)
			wake = v.Wake
			if v.Role == n.st.Role && v.Decided == n.st.Decided {
				break
			}
			n.log.Info("pulse: role change", "from", describe(n.st.Role, n.st.Decided), "to", describe(v.Role, v.Decided), "reason", v.Reason)
			n.st.Role, n.st.Decided = v.Role, v.Decided
			n.since, n.reason = now, v.Reason
			n.sendNow = true
		}
		p := n.st.Peer
		alive := p.Heard && now.Sub(p.Last) < n.set.Deadtime
		if alive != n.alive {
			if alive {
				n.log.Info("pulse: peer heard", "peer", n.set.Peer, "role", p.Role, "source", n.peer.source)
			} else {
				n.log.Warn("pulse: peer silent", "peer", n.set.Peer, "for", now.Sub(p.Last).Round(time.Millisecond))
			}
			n.alive = alive
		}
		if alive {
			// Wake when it falls silent, to show it even while active.
			if dead := p.Last.Add(n.set.Deadtime); wake.IsZero() || dead.Before(wake) {
				wake = dead
			}
		}
	}
	if n.watched() != before {
		select {
		case n.changes <- struct{}{}:
		default:
		}
	}
	return wake
}

// watched is what Changes reports on.
type watched struct {
	role             Role
	decided, link    bool
	peerRole         Role
	primary, leaving bool
	peerLink, alive  bool
	serial           int64
	console          uint16
}

func (n *Node) watched() watched {
	p := n.st.Peer
	return watched{n.st.Role, n.st.Decided, n.st.LinkDown, p.Role, p.Primary, p.Leaving, p.LinkDown, n.alive, n.peer.serial, n.peer.console}
}

func describe(r Role, decided bool) string {
	if !decided {
		return "undecided"
	}
	return r.String()
}

// handle checks one datagram and, if it is a valid heartbeat, takes its
// news and decides again. It returns when to decide next.
func (n *Node) handle(p packet) time.Time {
	n.mu.Lock()
	defer func() {
		n.mu.Unlock()
		if n.afterPacket != nil {
			n.afterPacket()
		}
	}()
	if n.run == nil {
		return time.Time{}
	}
	s := n.set
	m, err := Unmarshal(s.Key, p.data)
	if errors.Is(err, ErrMalformed) {
		n.refuse(&n.counters.Malformed, p, err)
		return n.update(time.Now(), nil)
	}
	src := p.from.Addr().Unmap().WithZone("")
	if src != s.Peer && (!s.PeerPrivate.IsValid() || src != s.PeerPrivate.WithZone("")) {
		n.refuse(&n.counters.UnknownSource, p, errors.New("not from a peer address"))
		return n.update(time.Now(), nil)
	}
	if err != nil {
		n.refuse(&n.counters.BadAuth, p, err)
		return n.update(time.Now(), nil)
	}
	if m.From.Unmap() != s.Peer {
		n.refuse(&n.counters.BadAuth, p, fmt.Errorf("from %v, not the peer (a reflected heartbeat?)", m.From))
		return n.update(time.Now(), nil)
	}
	if m.Seq == n.peer.seq {
		n.counters.Duplicate++ // the other path's copy: harmless, not logged
		return n.update(time.Now(), nil)
	}
	if m.Seq < n.peer.seq {
		n.refuse(&n.counters.Replayed, p, fmt.Errorf("sequence %d, last accepted %d", m.Seq, n.peer.seq))
		return n.update(time.Now(), nil)
	}
	n.counters.Received++
	return n.update(time.Now(), func() {
		v := &n.st.Peer
		// A continuous run of Active heartbeats from one process starts
		// the Preempt delay once; a restart or a gap starts it again.
		wasActive := v.Heard && v.Role == Active && n.peer.boot == m.Boot && p.at.Sub(v.Last) < s.Deadtime
		if m.Role == Active && !wasActive {
			v.ActiveSince = p.at
		}
		v.Heard, v.Last = true, p.at
		v.Role, v.Primary, v.Leaving, v.LinkDown = m.Role, m.Primary, m.Leaving, m.LinkDown
		if m.Boot != n.peer.boot && n.peer.boot != 0 {
			n.log.Info("pulse: peer restarted", "peer", s.Peer, "boot", m.Boot)
		}
		n.peer = peerExtra{serial: m.Serial, console: m.Console, boot: m.Boot, source: src, seq: m.Seq}
		if m.Leaving {
			n.log.Info("pulse: peer says it is leaving", "peer", s.Peer)
		}
	})
}

// refuse counts a refused datagram. Each is logged at debug level, and at
// warning level the 1st, 2nd, 4th, 8th ... of a kind: visible, but a flood
// cannot fill the log.
func (n *Node) refuse(c *uint64, p packet, why error) {
	*c++
	if bits.OnesCount64(*c) == 1 {
		n.log.Warn("pulse: refused a datagram", "from", p.from, "why", why, "count", *c)
		return
	}
	n.log.Debug("pulse: refused a datagram", "from", p.from, "why", why, "count", *c)
}

// send sends one heartbeat to each of the peer's addresses.
func (n *Node) send(leaving bool) {
	n.mu.Lock()
	if n.run == nil {
		n.mu.Unlock()
		return
	}
	s := n.set
	conn := n.run.conn
	m := Message{
		From:     s.Self,
		Role:     n.st.Role,
		Primary:  s.Primary,
		Leaving:  leaving,
		LinkDown: n.st.LinkDown,
		Serial:   n.serial,
		Console:  s.Console,
		Boot:     n.boot,
		Seq:      n.nextSeq(),
	}
	if !n.st.Decided || leaving {
		m.Role = Standby // claim nothing while starting or going
	}
	n.mu.Unlock()

	b := m.Marshal(s.Key)
	for _, a := range []netip.Addr{s.Peer, s.PeerPrivate} {
		if !a.IsValid() {
			continue
		}
		to := netip.AddrPortFrom(a, s.Port)
		_, err := conn.WriteToUDPAddrPort(b, to)
		n.mu.Lock()
		if err == nil {
			n.counters.Sent++
		}
		n.noteSend(to, err)
		n.mu.Unlock()
	}
}

// nextSeq returns the Seq of the next heartbeat. It must grow across
// restarts too, with no state on disk: the clock gives that, the +1 keeps
// it strict when the clock stands still. Called with n.mu held.
func (n *Node) nextSeq() uint64 {
	n.seq = max(n.seq+1, uint64(time.Now().UnixNano()))
	return n.seq
}

// noteSend logs when sending to a destination starts or stops failing, not
// every heartbeat in between. Called with n.mu held.
func (n *Node) noteSend(to netip.AddrPort, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if n.sendErr[to] == msg {
		return
	}
	if err != nil {
		n.log.Warn("pulse: sending heartbeats", "to", to, "err", err)
	} else {
		n.log.Info("pulse: sending heartbeats again", "to", to)
	}
	n.sendErr[to] = msg
}
