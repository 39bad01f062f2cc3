package pulse

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net/netip"
	"os/exec"
	"sync"
	"sync/atomic"
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
	Addr     netip.Addr // the configured peer
	Role     Role
	Primary  bool
	LinkDown bool
	Serial   int64
	Console  uint16
	// ConsolePin is the SHA-256 of the certificate of the peer's console
	// (zero: it serves plain HTTP).
	ConsolePin [32]byte
	Boot       uint64
	LastHeard  time.Time // when it arrived, by the kernel's timestamp
	// Heard says the peer is alive: a valid heartbeat came less than
	// Deadtime ago. The other fields keep the last news after that.
	Heard  bool
	Source netip.Addr // the address the last heartbeat came from
}

// Counters count datagrams. Each refused datagram is counted once, by the
// first check it fails, in this order: Malformed, UnknownSource (not from
// one of the peer's addresses), BadAuth (wrong MAC, or a From that is not
// the peer), Replayed (from a boot of the peer that a later one replaced,
// or older than the last accepted heartbeat of its boot), Duplicate (the
// last accepted heartbeat again) or Stale (it does not answer one of our
// last two challenges).
type Counters struct {
	Sent          uint64 // datagrams sent (one per peer address per heartbeat)
	Received      uint64 // heartbeats accepted
	Malformed     uint64
	UnknownSource uint64
	BadAuth       uint64
	Replayed      uint64
	// Duplicate is normal when both the public and the private path work:
	// each heartbeat comes twice. Counting it apart keeps Replayed for what
	// only an attacker sends.
	Duplicate uint64
	// Stale is normal for a heartbeat or two after either director starts
	// (neither knows the other's challenge yet) or a path comes back. A
	// steady count means recordings played back at us, or heartbeats
	// delayed by more than about half the dead time.
	Stale uint64
}

// counters are Counters as the heartbeat thread keeps them: Status reads
// them without stopping it.
type counters struct {
	sent, received, malformed, unknownSource, badAuth, replayed, duplicate, stale atomic.Uint64
}

func (c *counters) load() Counters {
	return Counters{
		Sent: c.sent.Load(), Received: c.received.Load(), Malformed: c.malformed.Load(),
		UnknownSource: c.unknownSource.Load(), BadAuth: c.badAuth.Load(), Replayed: c.replayed.Load(),
		Duplicate: c.duplicate.Load(), Stale: c.stale.Load(),
	}
}

// Node is one director's side of the heartbeat. Its methods are safe for
// concurrent use.
//
// While Run runs, one goroutine locked to its OS thread owns the
// heartbeat's state: it sends, receives and decides, and never waits for a
// lock another goroutine holds. Status reads what it publishes (atomics and
// an immutable snapshot); SetSerial, SetLink and Configure leave requests in
// a mailbox and wake it. With Options.Helper, that goroutine runs in a
// helper process instead and the Node relays to it.
type Node struct {
	log     *slog.Logger
	boot    uint64
	base    time.Time // origin of lastHeard
	changes chan struct{}

	mu     sync.Mutex // serialises SetSerial, SetLink, Configure and Run's start and end
	c      core       // guarded by mu while not running; the heartbeat thread's while running
	run    *runState  // guarded by mu
	helper func() *exec.Cmd
	remote *remoteRun // guarded by mu: Run with a helper

	snap      atomic.Pointer[Status] // the last published Status, without Counters and LastHeard
	counters  counters
	lastHeard atomic.Int64 // arrival of the last accepted heartbeat, ns after base (0: none)

	// Test hooks, set before Run.
	noGoodbye   atomic.Bool      // end Run without the Leaving message, as if killed
	afterPacket func()           // called after each datagram was handled
	wall        func() time.Time // the wall clock (nil: time.Now), against the kernel's timestamps
	afterWait   func()           // called on the heartbeat thread each time it wakes up
}

// core is the protocol and decision state of a node.
type core struct {
	set     Settings
	seal    *sealer
	st      state
	since   time.Time
	reason  string
	serial  int64
	counter uint64     // Counter of the last heartbeat sent
	ours    challenges // what the peer must echo
	ticks   int        // keepalive ticks since ours rotated
	win     window
	echo    Challenge // the peer's challenge, to echo
	peer    peerExtra
	alive   bool // Status.Peer.Heard
	sendNow bool // something the peer should know at once changed
	running bool // Run decides; before and after it, nothing is decided
	sendErr map[netip.AddrPort]string
	logq    *logQueue // while running: the heartbeat thread logs through it
}

// peerExtra is what Status shows of the peer beyond the decision's view.
type peerExtra struct {
	serial  int64
	console uint16
	pin     [32]byte
	boot    uint64
	source  netip.Addr
}

// New checks s and returns a Node that does nothing until Run.
func New(s Settings, o Options) (*Node, error) {
	s, err := s.normalize()
	if err != nil {
		return nil, err
	}
	var b [8]byte
	for binary.BigEndian.Uint64(b[:]) == 0 { // zero is not a boot on the wire
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("pulse: drawing the boot id: %w", err)
		}
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	n := &Node{
		log:     log,
		boot:    binary.BigEndian.Uint64(b[:]),
		base:    time.Now(),
		changes: make(chan struct{}, 1),
		helper:  o.Helper,
		c: core{
			set:     s,
			seal:    newSealer(s.Key),
			reason:  "not running",
			sendErr: map[netip.AddrPort]string{},
		},
	}
	n.publish()
	return n, nil
}

// Changes is signalled (capacity 1, never closed) whenever our role or
// decidedness changes, or the peer's role, serial or liveness (among other
// things it reports). Status is the truth; the signal only says to look.
func (n *Node) Changes() <-chan struct{} { return n.changes }

// Status returns a snapshot.
func (n *Node) Status() Status {
	st := *n.snap.Load()
	st.Counters = n.counters.load()
	if d := n.lastHeard.Load(); d != 0 {
		st.Peer.LastHeard = n.base.Add(time.Duration(d))
	}
	return st
}

// publish makes what Status shows of c current, allocating only when it
// changed. Called by c's owner.
func (n *Node) publish() {
	c := &n.c
	p := c.st.Peer
	st := Status{
		Role: c.st.Role, Decided: c.st.Decided, Since: c.since, Reason: c.reason, LinkDown: c.st.LinkDown,
		Peer: PeerStatus{
			Addr: c.set.Peer, Role: p.Role, Primary: p.Primary, LinkDown: p.LinkDown,
			Serial: c.peer.serial, Console: c.peer.console, ConsolePin: c.peer.pin, Boot: c.peer.boot,
			Heard: c.alive, Source: c.peer.source,
		},
	}
	if old := n.snap.Load(); old == nil || *old != st {
		p := new(Status) // only now: st itself stays off the heap
		*p = st
		n.snap.Store(p)
	}
	if p.Heard {
		n.lastHeard.Store(max(1, int64(p.Last.Sub(n.base))))
	} else {
		n.lastHeard.Store(0)
	}
}

// SetSerial sets our configuration serial. A new serial is sent at once,
// not at the next tick: the standby learns of an edit on the active within
// a round trip, whatever the keepalive.
func (n *Node) SetSerial(serial int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.run; r != nil {
		r.post(func(m *mailbox) { m.serial, m.hasSerial = serial, true })
		return
	}
	n.c.setSerial(serial)
	if r := n.remote; r != nil {
		r.send(helperRequest{Op: opSerial, Serial: serial})
	}
}

func (c *core) setSerial(serial int64) {
	if c.serial != serial {
		c.serial = serial
		c.sendNow = true
	}
}

// SetLink reports the monitored links: false (a link is down) makes the
// node standby at once, before SetLink returns, and keeps it from becoming
// active until SetLink(true). After that it waits a Deadtime for the peer
// as at a start, rather than acting on news it may have missed.
func (n *Node) SetLink(ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.run; r != nil {
		reply := make(chan error, 1)
		r.post(func(m *mailbox) { m.link = &linkRequest{ok: ok, reply: reply} })
		if r.await(reply) == nil {
			return
		}
		// Run ended meanwhile: the state is ours again.
	}
	if r := n.remote; r != nil {
		n.c.st.LinkDown = !ok // for the next Run
		if _, err := r.call(helperRequest{Op: opLink, LinkOK: ok}); err == nil {
			return
		}
	}
	n.setLink(time.Now(), ok)
}

// setLink applies SetLink; called by c's owner.
func (n *Node) setLink(now time.Time, ok bool) time.Time {
	c := &n.c
	if c.st.LinkDown == !ok {
		return n.update(now, nil)
	}
	if ok {
		n.logAt(slog.LevelInfo, "pulse: monitored link up again")
	} else {
		n.logAt(slog.LevelWarn, "pulse: monitored link down: standby until it is up")
	}
	return n.update(now, func() {
		c.st.LinkDown = !ok
		if ok {
			c.st.Ref = now
		}
	})
}

// Configure replaces the settings, while running too: a new Bind is bound
// before the old socket is closed (or, if the two collide, right after), a
// new Peer starts afresh, and the same Peer keeps what we know of it (its
// role, liveness and the order of its heartbeats). On error nothing
// changed, except in one unlikely case: if the new Bind collides with the
// old, the old socket is closed first, and if neither can then be bound,
// Run ends with that error.
func (n *Node) Configure(s Settings) error {
	s, err := s.normalize()
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.run; r != nil {
		reply := make(chan error, 1)
		r.post(func(m *mailbox) { m.conf = &confRequest{s: s, reply: reply} })
		if err := r.await(reply); !errors.Is(err, errRunEnded) {
			return err
		}
		// Run ended meanwhile: the state is ours again.
	}
	if r := n.remote; r != nil {
		rep, err := r.call(helperRequest{Op: opConfigure, Settings: s})
		if err == nil && rep.Err != "" {
			return errors.New(rep.Err)
		}
	}
	n.configure(time.Now(), s)
	return nil
}

// configure applies settings that are bound already; called by c's owner.
func (n *Node) configure(now time.Time, s Settings) time.Time {
	c := &n.c
	old := c.set
	return n.update(now, func() {
		c.set = s
		if string(s.Key) != string(old.Key) {
			c.seal = newSealer(s.Key)
		}
		if !samePeer(old, s) {
			n.logAt(slog.LevelInfo, "pulse: new peer", "peer", s.Peer, "old", old.Peer)
			c.st.Peer = peerView{}
			c.peer = peerExtra{}
			c.win = window{}
			c.echo = Challenge{}
			c.alive = false
			c.st.Ref = now
		}
	})
}

// update applies f to the node, decides again at now, signals Changes if
// anything a caller watches changed, publishes, and returns when to decide
// next. Called by c's owner.
func (n *Node) update(now time.Time, f func()) time.Time {
	c := &n.c
	before := c.watched()
	if f != nil {
		f()
	}
	var wake time.Time
	if c.running {
		// A change can enable another at the same instant (starting, then
		// standby, then preempting with no delay): decide until it holds.
		for range 3 {
			v := decide(c.st, c.set, now)
			wake = v.Wake
			if v.Role == c.st.Role && v.Decided == c.st.Decided {
				break
			}
			n.logAt(slog.LevelInfo, "pulse: role change", "from", describe(c.st.Role, c.st.Decided), "to", describe(v.Role, v.Decided), "reason", v.Reason)
			c.st.Role, c.st.Decided = v.Role, v.Decided
			c.since, c.reason = now, v.Reason
			c.sendNow = true
		}
		p := c.st.Peer
		alive := p.Heard && now.Sub(p.Last) < c.set.Deadtime
		if alive != c.alive {
			if alive {
				n.logAt(slog.LevelInfo, "pulse: peer heard", "peer", c.set.Peer, "role", p.Role, "source", c.peer.source)
			} else {
				n.logAt(slog.LevelWarn, "pulse: peer silent", "peer", c.set.Peer, "for", now.Sub(p.Last).Round(time.Millisecond))
			}
			c.alive = alive
		}
		if alive {
			// Wake when it falls silent, to show it even while active.
			if dead := p.Last.Add(c.set.Deadtime); wake.IsZero() || dead.Before(wake) {
				wake = dead
			}
		}
	}
	if c.watched() != before {
		select {
		case n.changes <- struct{}{}:
		default:
		}
	}
	n.publish()
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
	pin              [32]byte
}

func (c *core) watched() watched {
	p := c.st.Peer
	return watched{c.st.Role, c.st.Decided, c.st.LinkDown, p.Role, p.Primary, p.Leaving, p.LinkDown, c.alive, c.peer.serial, c.peer.console, c.peer.pin}
}

func describe(r Role, decided bool) string {
	if !decided {
		return "undecided"
	}
	return r.String()
}

// packet is one datagram as the heartbeat thread read it.
type packet struct {
	data []byte // valid until the next read
	from netip.AddrPort
	at   time.Time // arrival, by the kernel's timestamp
}

// handle checks one datagram and, if it is news from the peer, takes it
// and decides again at now. It says whether to send a heartbeat soon (the
// peer does not know our current challenge, or we just learnt its), and
// returns when to decide next. Called by c's owner.
func (n *Node) handle(p packet, now time.Time) (wake time.Time, handshake bool) {
	defer func() {
		if n.afterPacket != nil {
			n.afterPacket()
		}
	}()
	c := &n.c
	s := c.set
	var m Message
	err := c.seal.open(p.data, &m)
	if errors.Is(err, ErrMalformed) {
		n.refuse(&n.counters.malformed, p, func() error { return err })
		return n.update(now, nil), false
	}
	src := p.from.Addr().Unmap().WithZone("")
	if src != s.Peer && (!s.PeerPrivate.IsValid() || src != s.PeerPrivate.WithZone("")) {
		n.refuse(&n.counters.unknownSource, p, func() error { return errors.New("not from a peer address") })
		return n.update(now, nil), false
	}
	if err != nil {
		n.refuse(&n.counters.badAuth, p, func() error { return err })
		return n.update(now, nil), false
	}
	if m.From.Unmap() != s.Peer {
		n.refuse(&n.counters.badAuth, p, func() error { return fmt.Errorf("from %v, not the peer (a reflected heartbeat?)", m.From) })
		return n.update(now, nil), false
	}

	prevBoot := c.win.boot
	j, learn := c.win.take(&m, &c.ours, c.alive)
	if learn {
		if c.echo != m.Challenge {
			handshake = j != accept || m.Boot != prevBoot
		}
		c.echo = m.Challenge
	}
	switch j {
	case duplicate:
		n.counters.duplicate.Add(1) // the other path's copy: harmless, not logged
		return n.update(now, nil), handshake
	case replayed:
		n.refuse(&n.counters.replayed, p, func() error {
			return fmt.Errorf("boot %d counter %d: older than boot %d counter %d, or from a boot that ended", m.Boot, m.Counter, c.win.boot, c.win.counter)
		})
		return n.update(now, nil), handshake
	case stale:
		if m.Echo.IsZero() {
			// A peer that has just started knows no challenge of ours
			// yet: counted, but normal, so not worth a warning.
			v := n.counters.stale.Add(1)
			n.logAt(slog.LevelDebug, "pulse: refused a datagram", "from", p.from, "why", "the peer's first heartbeats answer no challenge yet", "count", v)
		} else {
			n.refuse(&n.counters.stale, p, func() error {
				return fmt.Errorf("boot %d counter %d does not answer one of our last two challenges", m.Boot, m.Counter)
			})
		}
		return n.update(now, nil), true // tell the peer our challenge
	}
	n.counters.received.Add(1)
	return n.update(now, func() {
		v := &c.st.Peer
		// A continuous run of Active heartbeats from one process starts
		// the Preempt delay once; a restart or a gap starts it again.
		wasActive := v.Heard && v.Role == Active && c.peer.boot == m.Boot && p.at.Sub(v.Last) < s.Deadtime
		if m.Role == Active && !wasActive {
			v.ActiveSince = p.at
		}
		v.Heard = true
		if p.at.After(v.Last) {
			v.Last = p.at
		}
		v.Role, v.Primary, v.Leaving, v.LinkDown = m.Role, m.Primary, m.Leaving, m.LinkDown
		if m.Boot != c.peer.boot && c.peer.boot != 0 {
			n.logAt(slog.LevelInfo, "pulse: peer restarted", "peer", s.Peer, "boot", m.Boot)
		}
		c.peer = peerExtra{serial: m.Serial, console: m.Console, pin: m.ConsolePin, boot: m.Boot, source: src}
		if m.Leaving {
			n.logAt(slog.LevelInfo, "pulse: peer says it is leaving", "peer", s.Peer)
		}
	}), handshake
}

// logQueue carries the heartbeat thread's log lines to a goroutine that
// writes them: the thread must not wait for the logger's lock, nor for the
// pipe or file behind it.
type logQueue struct {
	ch      chan slog.Record // made on the thread: the time is the event's
	dropped atomic.Uint64
}

// logAt logs through the queue while running, directly otherwise. A full
// queue drops the line and counts it. Called by c's owner.
func (n *Node) logAt(level slog.Level, msg string, args ...any) {
	q := n.c.logq
	if q == nil {
		n.log.Log(context.Background(), level, msg, args...)
		return
	}
	if !n.log.Enabled(context.Background(), level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.Add(args...)
	select {
	case q.ch <- r:
	default:
		q.dropped.Add(1)
	}
}

// writeLogs writes the queue's lines until it is closed.
func (n *Node) writeLogs(q *logQueue, done chan<- struct{}) {
	defer close(done)
	h := n.log.Handler()
	for r := range q.ch {
		h.Handle(context.Background(), r)
		if d := q.dropped.Swap(0); d > 0 {
			n.log.Warn("pulse: log lines dropped: the log could not keep up", "count", d)
		}
	}
}

// refuse counts a refused datagram. Each is logged at debug level, and at
// warning level the 1st, 2nd, 4th, 8th ... of a kind: visible, but a flood
// cannot fill the log.
func (n *Node) refuse(c *atomic.Uint64, p packet, why func() error) {
	v := c.Add(1)
	level := slog.LevelDebug
	if bits.OnesCount64(v) == 1 {
		level = slog.LevelWarn
	}
	if n.log.Enabled(context.Background(), level) {
		n.logAt(level, "pulse: refused a datagram", "from", p.from, "why", why(), "count", v)
	}
}

// next returns the heartbeat to send now. tick says it is the keepalive's:
// only those count towards drawing a new challenge, so that extra
// heartbeats (role changes, handshakes) cannot hurry a challenge out from
// under an answer on its way. Called by c's owner.
func (n *Node) next(leaving, tick bool) (Message, error) {
	c := &n.c
	if tick {
		c.ticks++
		if c.ticks >= rotateEvery(c.set) {
			if err := c.ours.rotate(); err != nil {
				return Message{}, err
			}
			c.ticks = 0
		}
	}
	c.counter++
	m := Message{
		From:       c.set.Self,
		Role:       c.st.Role,
		Primary:    c.set.Primary,
		Leaving:    leaving,
		LinkDown:   c.st.LinkDown,
		Serial:     c.serial,
		Console:    c.set.Console,
		ConsolePin: c.set.ConsolePin,
		Boot:       n.boot,
		Counter:    c.counter,
		Challenge:  c.ours.cur,
		Echo:       c.echo,
	}
	if !c.st.Decided || leaving {
		m.Role = Standby // claim nothing while starting or going
	}
	return m, nil
}

// rotateEvery is how many keepalive ticks a challenge lasts: about half the
// dead time, so that an answer is good for between a half and a whole dead
// time after we drew its challenge. A peer late by that much is as good as
// silent anyway, and a recording is worthless after it.
func rotateEvery(s Settings) int {
	return max(1, int(s.Deadtime/(2*s.Keepalive)))
}

// noteSend logs when sending to a destination starts or stops failing, not
// every heartbeat in between. Called by c's owner.
func (n *Node) noteSend(to netip.AddrPort, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if n.c.sendErr[to] == msg {
		return
	}
	if err != nil {
		n.logAt(slog.LevelWarn, "pulse: sending heartbeats", "to", to, "err", err)
	} else {
		n.logAt(slog.LevelInfo, "pulse: sending heartbeats again", "to", to)
	}
	n.c.sendErr[to] = msg
}

// Run binds Settings.Bind and sends and receives heartbeats until ctx ends;
// then it sends the peer one Leaving message (role Standby), so that it
// takes over at once, sets the node standby and returns nil. It returns an
// error if it cannot bind, or if it is already running.
func (n *Node) Run(ctx context.Context) error {
	if n.helper != nil {
		return n.runHelper(ctx)
	}
	n.mu.Lock()
	if n.run != nil || n.remote != nil {
		n.mu.Unlock()
		return errors.New("pulse: Run is already running")
	}
	r, err := n.newRun()
	if err != nil {
		n.mu.Unlock()
		return err
	}
	now := time.Now()
	c := &n.c
	if err := c.ours.rotate(); err != nil {
		r.close()
		n.mu.Unlock()
		return err
	}
	c.ticks = 0
	q := &logQueue{ch: make(chan slog.Record, 256)}
	logged := make(chan struct{})
	go n.writeLogs(q, logged)
	c.logq = q
	n.run = r
	n.update(now, func() {
		c.st.Role, c.st.Decided, c.st.Ref = Standby, false, now
		c.since, c.running = now, true
		c.reason = fmt.Sprintf("starting: waiting up to %v for the peer", c.set.Deadtime)
	})
	bind := c.set.Bind
	n.mu.Unlock() // the heartbeat thread owns c from here
	n.log.Info("pulse: listening", "addr", bind, "boot", n.boot)

	go n.beat(r)
	select {
	case <-ctx.Done():
		r.stop.Store(true)
		r.wake()
	case <-r.exited:
	}
	<-r.exited
	n.mu.Lock()
	n.run = nil
	c.logq = nil
	r.close()
	n.mu.Unlock()
	close(q.ch)
	<-logged
	n.log.Info("pulse: stopped", "goodbye", r.goodbye)
	return r.err
}
