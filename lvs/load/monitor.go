package load

import (
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
// Each target has one goroutine while Run runs, which sleeps between
// readings and ends when Set removes the target or Run ends; at most
// MaxConcurrent readings are in flight, each bounded by its interval (at
// most Timeout). A target that stays keeps its state across Sets.
type Monitors struct {
	o       Options
	changes chan struct{}
	sem     chan struct{}
	wg      sync.WaitGroup // the targets' goroutines

	mu      sync.Mutex
	mons    map[Target]*monitor
	ctx     context.Context // of Run; nil when not running
	ruptime bool            // a target is ruptime's
	rwho    *rwho.Listener  // open while a target is ruptime's and Run runs
	rwhoErr string          // why it could not be opened, last time
}

type monitor struct {
	t      Target
	st     State
	key    string             // uptime: the host key pinned
	cancel context.CancelFunc // of its goroutine; nil when none runs
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
		sem:     make(chan struct{}, o.MaxConcurrent),
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
			if mon.cancel != nil {
				mon.cancel()
			}
			delete(m.mons, t)
		}
	}
	for t := range want {
		if m.mons[t] != nil {
			continue
		}
		mon := &monitor{t: t, st: Initial(t)}
		m.mons[t] = mon
		if m.ctx != nil {
			m.start(mon)
		}
	}
	m.ruptime = ruptime
	switch {
	case !ruptime && m.rwho != nil:
		m.rwho.Close()
		m.rwho = nil
	case ruptime && m.ctx != nil && m.o.RwhoListen != "":
		m.listenLocked() // a failure is logged, and tried again at each reading
	}
}

// Run reads the targets until ctx ends, then waits for the readings in
// flight (cancelled) and returns nil. Calling Run while it runs is an
// error.
func (m *Monitors) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.ctx != nil {
		m.mu.Unlock()
		return errors.New("load: Run is already running")
	}
	m.ctx = ctx
	for _, mon := range m.mons {
		m.start(mon)
	}
	if m.ruptime && m.o.RwhoListen != "" {
		m.listenLocked()
	}
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	m.ctx = nil
	for _, mon := range m.mons {
		if mon.cancel != nil {
			mon.cancel()
			mon.cancel = nil
		}
	}
	if m.rwho != nil {
		m.rwho.Close()
		m.rwho = nil
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// start starts mon's goroutine; m.mu is held and Run runs.
func (m *Monitors) start(mon *monitor) {
	ctx, cancel := context.WithCancel(m.ctx)
	mon.cancel = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.loop(ctx, mon)
	}()
}

// loop reads mon's target once per interval until ctx ends.
func (m *Monitors) loop(ctx context.Context, mon *monitor) {
	t := mon.t
	timer := time.NewTimer(time.Duration(rand.Int64N(int64(t.Interval))))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		began := time.Now()
		select {
		case m.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		rctx, cancel := context.WithTimeout(ctx, min(t.Interval, m.o.Timeout))
		r, err := m.o.Read(rctx, t)
		if err == nil && rctx.Err() != nil {
			err = rctx.Err() // a reader that ignored its deadline
		}
		cancel()
		<-m.sem
		if ctx.Err() != nil {
			return // removed, or Run ended: the result is not wanted
		}
		m.record(mon, r, err)
		// One interval after the previous start, as the health checks.
		timer.Reset(max(t.Interval-time.Since(began), 0))
	}
}

// record takes one reading of mon's target.
func (m *Monitors) record(mon *monitor, r Reading, err error) {
	var key string
	if mon.t.Kind == Uptime && m.o.HostKeys != nil {
		key, _ = m.o.HostKeys.Pinned(sshAddr(mon.t))
	}
	m.mu.Lock()
	if m.mons[mon.t] != mon {
		m.mu.Unlock()
		return // removed meanwhile
	}
	was := mon.st
	st, changed := Step(mon.t, mon.st, r, err, m.o.Now())
	mon.st, mon.key = st, key
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
