package load

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lvsconsole/lvsconsole/lvs/load/rstat"
	"github.com/lvsconsole/lvsconsole/lvs/load/rwho"
	"github.com/lvsconsole/lvsconsole/lvs/load/sshload"
)

// DefaultTimeout bounds one reading when the interval is longer.
const DefaultTimeout = 10 * time.Second

// DefaultMaxConcurrent bounds the readings in flight at once.
const DefaultMaxConcurrent = 64

// Options configure Monitors; zero fields take the defaults.
type Options struct {
	// MaxConcurrent bounds the readings in flight (DefaultMaxConcurrent);
	// a reading whose turn comes waits for a slot.
	MaxConcurrent int
	// Timeout bounds one reading: the interval, at most this
	// (DefaultTimeout).
	Timeout time.Duration
	// Read reads a target once; nil: the protocols' clients (Reader).
	Read func(ctx context.Context, t Target) (Reading, error)
	// Now is the clock of the states' times (time.Now).
	Now func() time.Time
	// Log receives a line when a monitor starts failing or recovers.
	Log *slog.Logger

	// What the default reader needs.
	//
	// RwhoListen is where ruptime listens for rwhod's broadcasts
	// (":513"); the socket is open only while a target is ruptime's.
	// Empty: ruptime readings fail, saying so.
	RwhoListen string
	Rwho       rwho.Options
	Rstat      rstat.Client // rup's client (its portmapper's port)
	// DirectorKey is the director's own SSH key, for uptime targets
	// without a KeyFile (sshload.EnsureKey beside the database).
	DirectorKey func() (ssh.Signer, error)
	// HostKeys keeps the SSH host key pins of uptime targets.
	HostKeys sshload.HostKeys
}

// Monitors reads the load of many real servers, each once per its
// interval, and keeps what each monitor says (Status). It follows the
// shape of lvs/health.Monitor: Set gives it the complete set of targets,
// Run reads them until its context ends, Changes says that a weight or a
// verdict changed. Its methods are safe for concurrent use.
//
// One scheduler goroutine (Run) keeps the idle monitors in a heap ordered
// by their next reading; a reading runs in a goroutine of its own that
// ends with it, at most MaxConcurrent at once, each bounded by its
// interval (at most Timeout). A monitor is never read twice at once: its
// next reading is one interval after the start of the previous, or at
// once if that has passed. Set removes a monitor at once (a reading in
// flight is cancelled and its result ignored); a target that stays keeps
// its state across Sets.
type Monitors struct {
	o       Options
	changes chan struct{}
	wake    chan struct{}  // pokes the scheduler
	wg      sync.WaitGroup // the readings in flight

	mu       sync.Mutex
	mons     map[Target]*monitor
	sched    schedule        // idle monitors by next reading, while Run runs
	inflight int             // readings in flight
	ctx      context.Context // of Run; nil when not running
	ruptime  bool            // a target is ruptime's
	rwho     *rwho.Listener  // open while a target is ruptime's and Run runs
	rwhoErr  string          // why it could not be opened, last time
}

type monitor struct {
	t       Target
	st      State
	key     string             // uptime: the host key pinned
	due     time.Time          // the next reading, while in sched
	index   int                // in sched; -1 when not (reading, removed, not running)
	cancel  context.CancelFunc // of the reading in flight; nil when none
	removed bool
}

// Status is what a monitor says of its target now.
type Status struct {
	State
	Kind    Kind
	HostKey string // uptime: the SSH host key pinned ("SHA256:...")
}

// Why says why the monitor's weight is what it is (State.Why).
func (s Status) Why() string { return s.State.Why(s.Kind) }

// NewMonitors returns monitors without targets; give them some with Set
// and run them with Run.
func NewMonitors(o Options) *Monitors {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	m := &Monitors{
		o:       o,
		changes: make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
		mons:    map[Target]*monitor{},
	}
	if m.o.Read == nil {
		m.o.Read = m.read
	}
	return m
}

// Set makes targets the complete set of monitors. New ones start at their
// configured weight (Initial) and are first read at a random point of
// their first interval; ones that stay keep their state; removed ones stop
// (a reading in flight is cancelled, its result ignored).
func (m *Monitors) Set(targets []Target) {
	want := make(map[Target]bool, len(targets))
	ruptime := false
	for _, t := range targets {
		if t.Kind == None || t.Kind == "" || t.Interval <= 0 {
			continue
		}
		want[t] = true
		ruptime = ruptime || t.Kind == Ruptime
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for t, mon := range m.mons {
		if !want[t] {
			mon.removed = true
			if mon.index >= 0 {
				heap.Remove(&m.sched, mon.index)
			}
			if mon.cancel != nil {
				mon.cancel()
			}
			delete(m.mons, t)
		}
	}
	now := time.Now()
	for t := range want {
		if m.mons[t] != nil {
			continue
		}
		mon := &monitor{t: t, st: Initial(t), index: -1}
		m.mons[t] = mon
		if m.ctx != nil {
			mon.due = now.Add(spread(t.Interval))
			heap.Push(&m.sched, mon)
		}
	}
	m.poke()
	m.ruptime = ruptime
	switch {
	case !ruptime && m.rwho != nil:
		m.rwho.Close()
		m.rwho = nil
	case ruptime && m.ctx != nil && m.o.RwhoListen != "":
		m.listenLocked() // a failure is logged, and tried again at each reading
	}
}

// Run reads the targets until ctx ends, then cancels the readings in
// flight, waits for them and returns nil. Calling Run while it runs is an
// error; it may be called again after it returned.
func (m *Monitors) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.ctx != nil {
		m.mu.Unlock()
		return errors.New("load: Run is already running")
	}
	m.ctx = ctx
	now := time.Now()
	for _, mon := range m.mons {
		mon.due = now.Add(spread(mon.t.Interval))
		heap.Push(&m.sched, mon)
	}
	if m.ruptime && m.o.RwhoListen != "" {
		m.listenLocked()
	}
	m.mu.Unlock()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		m.mu.Lock()
		now := time.Now()
		for m.inflight < m.o.MaxConcurrent && len(m.sched) > 0 && !m.sched[0].due.After(now) {
			m.start(heap.Pop(&m.sched).(*monitor), now)
		}
		var next time.Duration = -1
		if m.inflight < m.o.MaxConcurrent && len(m.sched) > 0 {
			next = m.sched[0].due.Sub(now)
		}
		m.mu.Unlock()
		if next >= 0 {
			timer.Reset(next)
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			m.mu.Lock()
			m.ctx = nil
			for _, mon := range m.mons {
				if mon.cancel != nil {
					mon.cancel()
				}
			}
			for _, mon := range m.sched {
				mon.index = -1
			}
			m.sched = nil
			if m.rwho != nil {
				m.rwho.Close()
				m.rwho = nil
			}
			m.mu.Unlock()
			m.wg.Wait()
			return nil
		case <-timer.C:
		case <-m.wake:
		}
	}
}

// start starts a reading of mon; m.mu is held and Run runs.
func (m *Monitors) start(mon *monitor, now time.Time) {
	ctx, cancel := context.WithTimeout(m.ctx, min(mon.t.Interval, m.o.Timeout))
	mon.cancel = cancel
	m.inflight++
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.readOnce(ctx, mon, now)
	}()
}

// readOnce reads mon's target, records what it read and schedules the next
// reading one interval after began.
func (m *Monitors) readOnce(ctx context.Context, mon *monitor, began time.Time) {
	r, err := m.o.Read(ctx, mon.t)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err() // a reader that ignored its deadline
	}
	cancelled := errors.Is(ctx.Err(), context.Canceled) // removed, or Run ended
	var key string
	if !cancelled && mon.t.Kind == Uptime && m.o.HostKeys != nil {
		key, _ = m.o.HostKeys.Pinned(sshAddr(mon.t))
	}
	m.mu.Lock()
	mon.cancel()
	mon.cancel = nil
	m.inflight--
	m.poke()
	if cancelled || mon.removed || m.ctx == nil {
		m.mu.Unlock()
		return // the result is not wanted
	}
	was := mon.st
	st, changed := Step(mon.t, mon.st, r, err, m.o.Now())
	mon.st, mon.key = st, key
	mon.due = began.Add(mon.t.Interval)
	heap.Push(&m.sched, mon)
	m.mu.Unlock()
	switch {
	case err != nil && was.Failures == 0:
		m.o.Log.Warn("load monitor reading failed; the weight stays", "target", mon.t.String(), "weight", st.Weight, "err", err)
	case err == nil && was.Failures > 0:
		m.o.Log.Info("load monitor reading again", "target", mon.t.String(), "reading", st.Reading)
	}
	if changed {
		m.o.Log.Info("load monitor weight", "target", mon.t.String(), "from", was.Weight, "to", st.Weight,
			"verdict", st.Verdict.String(), "why", st.Why(mon.t.Kind))
		m.signal()
	}
}

// poke wakes the scheduler.
func (m *Monitors) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// spread is a random point of a first interval, so that monitors
// configured together do not all read at once.
func spread(iv time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(iv))) }

// schedule is a heap of monitors by their next reading (container/heap).
type schedule []*monitor

func (q schedule) Len() int           { return len(q) }
func (q schedule) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q schedule) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}

// Push adds a *monitor.
func (q *schedule) Push(x any) {
	mon := x.(*monitor)
	mon.index = len(*q)
	*q = append(*q, mon)
}

// Pop removes the last *monitor.
func (q *schedule) Pop() any {
	old := *q
	n := len(old) - 1
	mon := old[n]
	old[n] = nil
	mon.index = -1
	*q = old[:n]
	return mon
}

// Down tells that the health check took t's server down: a load average
// monitor restarts from the configured weight (see Down). It does not
// signal Changes: a server that is down is not in the table.
func (m *Monitors) Down(t Target) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mon := m.mons[t]; mon != nil {
		mon.st, _ = Down(t, mon.st, m.o.Now())
	}
}

// Status returns what t's monitor says now, false if t is not monitored.
func (m *Monitors) Status(t Target) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mon := m.mons[t]
	if mon == nil {
		return Status{}, false
	}
	return Status{State: mon.st, Kind: t.Kind, HostKey: mon.key}, true
}

// Changes is signalled when a monitor's weight or verdict changed. Signals
// coalesce: the receiver reads Status after it.
func (m *Monitors) Changes() <-chan struct{} { return m.changes }

func (m *Monitors) signal() {
	select {
	case m.changes <- struct{}{}:
	default:
	}
}
