package pulse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxBatch bounds the datagrams read between two looks at the clock, so
// that a flood cannot hold back our own heartbeats.
const maxBatch = 64

// readPause is how long the heartbeat thread leaves its socket alone after
// an error reading it.
const readPause = 10 * time.Millisecond

// mailRetry is how soon the heartbeat thread looks at the mailbox again
// when another goroutine held it: the thread never waits for a lock.
const mailRetry = 100 * time.Microsecond

// runState is one call of Run.
type runState struct {
	efd    int           // eventfd: wakes the heartbeat thread
	stop   atomic.Bool   // Run's context ended
	exited chan struct{} // closed when the heartbeat thread is done
	err    error         // why it ended, if not asked to
	mmu    sync.Mutex    // guards mail
	mail   mailbox       // requests for the heartbeat thread
	wakes  atomic.Uint32 // wake-ups not yet read, to write the eventfd once
	closed bool          // efd closed, guarded by Node.mu

	// Owned by the heartbeat thread.
	sock       *socket
	fds        [2]unix.PollFd
	dests      []dest
	out        []byte
	nextTick   time.Time
	lastEmpty  time.Time // when the socket was last found empty
	handshake  bool      // the peer should hear from us soon
	handshakes bucket
	retryMail  bool
	readErr    string    // the last error reading the socket, to log changes only
	readPause  time.Time // after an error, the socket is left alone until then
	goodbye    bool
}

// newRun binds the socket and makes the eventfd; called with n.mu held.
func (n *Node) newRun() (*runState, error) {
	bind := n.c.set.Bind
	dests, err := destinations(n.c.set)
	if err != nil {
		return nil, err
	}
	sock, err := listen(bind)
	if err != nil {
		return nil, fmt.Errorf("pulse: listening for heartbeats on %v: %w", bind, err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		sock.close()
		return nil, fmt.Errorf("pulse: eventfd: %w", err)
	}
	for _, w := range sock.warn {
		n.logAt(slog.LevelWarn, "pulse: heartbeat socket: "+w)
	}
	r := &runState{
		efd:    efd,
		exited: make(chan struct{}),
		sock:   sock,
		dests:  dests,
		out:    make([]byte, 0, messageLen),
	}
	r.fds[1] = unix.PollFd{Fd: int32(efd), Events: unix.POLLIN}
	return r, nil
}

// close releases the eventfd; called with n.mu held, after the thread
// exited.
func (r *runState) close() {
	if !r.closed {
		r.closed = true
		unix.Close(r.efd)
		r.sock.close()
	}
}

// post leaves a request and wakes the heartbeat thread; called with
// Node.mu held (so the eventfd is open).
func (r *runState) post(f func(*mailbox)) {
	r.mmu.Lock()
	f(&r.mail)
	r.mmu.Unlock()
	r.wake()
}

// wake makes the heartbeat thread's ppoll return.
func (r *runState) wake() {
	if r.wakes.Add(1) > 1 {
		return // a wake-up is pending already
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(r.efd, one[:])
}

// bucket limits the heartbeats sent at once because of what came in (an
// unanswered challenge, a new one learnt): a handshake takes two or three
// in a row, but a flood of recordings must not make us send as many.
// Burst handshakeBurst, then one per quarter keepalive.
type bucket struct {
	tokens float64
	at     time.Time // when tokens was counted
}

const handshakeBurst = 4

func (b *bucket) fill(now time.Time, keepalive time.Duration) {
	if b.at.IsZero() {
		b.tokens = handshakeBurst
	} else {
		b.tokens = min(handshakeBurst, b.tokens+float64(now.Sub(b.at))/float64(keepalive/4))
	}
	b.at = now
}

// next is when a token is there: now, or later.
func (b *bucket) next(now time.Time, keepalive time.Duration) time.Time {
	b.fill(now, keepalive)
	if b.tokens >= 1 {
		return now
	}
	return now.Add(time.Duration((1 - b.tokens) * float64(keepalive/4)))
}

func (b *bucket) take(now time.Time, keepalive time.Duration) {
	b.fill(now, keepalive)
	b.tokens--
}

// readWakes empties the eventfd (non-blocking, on the heartbeat thread).
func (r *runState) readWakes() {
	var buf [8]byte
	unix.RawSyscall(unix.SYS_READ, uintptr(r.efd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	r.wakes.Store(0)
}

// await waits for a request's answer, or the end of the thread.
func (r *runState) await(reply chan error) error {
	select {
	case err := <-reply:
		return err
	case <-r.exited:
		select {
		case err := <-reply:
			return err
		default:
			return errRunEnded
		}
	}
}

// beat is the heartbeat thread.
func (n *Node) beat(r *runState) {
	// Never unlocked: the thread, and the priority given to it, end with
	// this goroutine instead of going back to run other goroutines.
	runtime.LockOSThread()
	defer close(r.exited)
	if err := realtime(); err != nil {
		n.logAt(slog.LevelWarn, "pulse: the heartbeat thread runs without real-time priority: on a busy machine heartbeats may be late and a short dead time may fail over falsely (it needs CAP_SYS_NICE or an RLIMIT_RTPRIO, and real-time time in its cgroup)", "err", err)
	} else {
		n.logAt(slog.LevelInfo, "pulse: heartbeat thread at real-time priority", "policy", "SCHED_RR", "priority", rtPriority)
	}
	r.err = n.loop(r)
}

// loop sends, receives and decides until asked to stop.
func (n *Node) loop(r *runState) error {
	c := &n.c
	now := time.Now()
	r.lastEmpty, r.nextTick = now, now // the first heartbeat at once
	wake := n.update(now, nil)
	for {
		if r.stop.Load() {
			n.stop(r)
			return nil
		}
		deadline := r.nextTick
		if !wake.IsZero() && wake.Before(deadline) {
			deadline = wake
		}
		if r.handshake {
			if at := r.handshakes.next(now, c.set.Keepalive); at.Before(deadline) {
				deadline = at
			}
		}
		if at := now.Add(mailRetry); r.retryMail && at.Before(deadline) {
			deadline = at
		}
		r.fds[0] = unix.PollFd{Fd: int32(r.sock.fd), Events: unix.POLLIN}
		if now.Before(r.readPause) {
			// A failing socket must not spin a real-time thread.
			r.fds[0].Fd = -1
			if r.readPause.Before(deadline) {
				deadline = r.readPause
			}
		}
		if err := waitReady(r.fds[:], time.Until(deadline)); err != nil {
			return fmt.Errorf("pulse: waiting for heartbeats: %w", err)
		}
		if n.afterWait != nil {
			n.afterWait()
		}
		now = time.Now()

		if r.fds[1].Revents != 0 || r.retryMail {
			r.readWakes()
			w, took, err := n.takeMail(r, now)
			if err != nil {
				n.stop(r)
				return err
			}
			if took {
				wake = w
			}
		}

		var w, horizon time.Time
		var handled bool
		if !now.Before(r.readPause) {
			w, handled, horizon = n.receive(r)
		}
		if handled {
			wake = w
		}
		// Only silence up to the horizon is proven: everything that came
		// before it has been read.
		if !wake.IsZero() && !horizon.Before(wake) {
			wake = n.update(horizon, nil)
		}

		now = time.Now()
		tick := !now.Before(r.nextTick)
		shake := r.handshake && !now.Before(r.handshakes.next(now, c.set.Keepalive))
		if tick || c.sendNow || shake {
			if shake {
				r.handshakes.take(now, c.set.Keepalive)
			}
			c.sendNow, r.handshake = false, false
			if err := n.send(r, false, tick); err != nil {
				n.stop(r)
				return err
			}
			if tick {
				// Keep the beat steady; after a stall, start afresh
				// rather than send a burst.
				if r.nextTick = r.nextTick.Add(c.set.Keepalive); !r.nextTick.After(now) {
					r.nextTick = now.Add(c.set.Keepalive)
				}
			}
		}
	}
}

// receive reads what is queued, up to maxBatch datagrams. horizon is the
// moment up to which everything that came has been read: now if the
// socket was emptied, else the arrival of the last datagram read. wake is
// the last decision's if handled.
func (n *Node) receive(r *runState) (wake time.Time, handled bool, horizon time.Time) {
	for range maxBatch {
		data, from, stamp, ok, err := r.sock.read()
		now := time.Now()
		if msg := errString(err); msg != r.readErr {
			if err != nil {
				n.logAt(slog.LevelWarn, "pulse: reading heartbeats", "err", err)
			}
			r.readErr = msg
		}
		if err != nil {
			r.readPause = now.Add(readPause)
			return wake, handled, time.Time{} // nothing proven
		}
		if !ok {
			r.lastEmpty = now
			return wake, handled, now
		}
		wallNow := now.UnixNano()
		if n.wall != nil {
			wallNow = n.wall().UnixNano()
		}
		p := packet{data: data, from: from, at: arrival(stamp, now, wallNow, r.lastEmpty)}
		var hs bool
		wake, hs = n.handle(p, p.at)
		handled, r.handshake = true, r.handshake || hs
		horizon = p.at
	}
	return wake, handled, horizon
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// takeMail applies the requests in the mailbox, if the thread can have it
// without waiting. took says whether it did (and wake is then current).
// An error is fatal: the socket is lost.
func (n *Node) takeMail(r *runState, now time.Time) (wake time.Time, took bool, err error) {
	if !r.mmu.TryLock() {
		r.retryMail = true
		return wake, false, nil
	}
	m := r.mail
	r.mail = mailbox{}
	r.mmu.Unlock()
	r.retryMail = false
	c := &n.c
	wake = n.update(now, nil)
	if q := m.conf; q != nil {
		replyErr, fatal := n.reconfigure(r, now, q.s)
		q.reply <- replyErr
		if fatal != nil {
			return wake, true, fatal
		}
		wake = n.update(now, nil)
	}
	if q := m.link; q != nil {
		wake = n.setLink(now, q.ok)
		q.reply <- nil
	}
	if m.hasSerial {
		c.setSerial(m.serial)
	}
	return wake, true, nil
}

// reconfigure applies new settings on the heartbeat thread: the socket
// first if Bind changed. err goes to Configure; fatal ends Run.
func (n *Node) reconfigure(r *runState, now time.Time, s Settings) (err, fatal error) {
	c := &n.c
	old := c.set
	dests, err := destinations(s)
	if err != nil {
		return err, nil
	}
	if s.Bind != old.Bind {
		if err, fatal := n.rebind(r, old.Bind, s.Bind); err != nil || fatal != nil {
			return err, fatal
		}
	}
	r.dests = dests
	n.configure(now, s)
	if s.Keepalive != old.Keepalive {
		r.nextTick = now
	}
	return nil, nil
}

// rebind moves the thread to a socket on to.
func (n *Node) rebind(r *runState, from, to netip.AddrPort) (err, fatal error) {
	sock, err := listen(to)
	if errors.Is(err, unix.EADDRINUSE) {
		// The new address overlaps the old (e.g. 0.0.0.0:539 to
		// 10.0.0.1:539): free it and try again, going back if that fails.
		r.sock.close()
		sock, err = listen(to)
		if err != nil {
			back, berr := listen(from)
			if berr != nil {
				return fmt.Errorf("pulse: binding %v: %w (and the old socket is lost)", to, err),
					fmt.Errorf("pulse: rebinding back to %v after failing to bind %v: %w", from, to, berr)
			}
			r.sock = back
			return fmt.Errorf("pulse: binding %v: %w", to, err), nil
		}
	} else if err != nil {
		return fmt.Errorf("pulse: binding %v: %w", to, err), nil
	} else {
		r.sock.close()
	}
	r.sock = sock
	for _, w := range sock.warn {
		n.logAt(slog.LevelWarn, "pulse: heartbeat socket: "+w)
	}
	n.logAt(slog.LevelInfo, "pulse: listening", "addr", to)
	return nil, nil
}

// destinations prepares the peer's addresses for sendto on a socket bound
// to s.Bind.
func destinations(s Settings) ([]dest, error) {
	family := unix.AF_INET6
	if s.Bind.Addr().Is4() {
		family = unix.AF_INET
	}
	var ds []dest
	for _, a := range []netip.Addr{s.Peer, s.PeerPrivate} {
		if !a.IsValid() {
			continue
		}
		d := dest{to: netip.AddrPortFrom(a, s.Port)}
		var err error
		if d.sa, d.salen, err = sockaddr(family, d.to); err != nil {
			return nil, fmt.Errorf("pulse: sending to %v: %w", d.to, err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// send sends one heartbeat to each of the peer's addresses. Only failing
// to draw a challenge is an error.
func (n *Node) send(r *runState, leaving, tick bool) error {
	m, err := n.next(leaving, tick)
	if err != nil {
		return err
	}
	r.out = n.c.seal.seal(r.out[:0], &m)
	for i := range r.dests {
		d := &r.dests[i]
		err := r.sock.send(r.out, d)
		if err == nil {
			n.counters.sent.Add(1)
		}
		n.noteSend(d.to, err)
	}
	return nil
}

// stop ends a run on the heartbeat thread: the goodbye, then standby.
func (n *Node) stop(r *runState) {
	c := &n.c
	r.goodbye = !n.noGoodbye.Load() && r.sock.fd >= 0
	if r.goodbye {
		if err := n.send(r, true, false); err != nil {
			n.logAt(slog.LevelWarn, "pulse: sending the goodbye", "err", err)
		}
	}
	now := time.Now()
	n.update(now, func() {
		c.reason = "stopped"
		if r.goodbye {
			c.reason = "stopped: asked the peer to take over"
		}
		if c.st.Role != Standby || !c.st.Decided {
			c.st.Role, c.st.Decided, c.since = Standby, true, now
		}
		c.running = false
	})
}
