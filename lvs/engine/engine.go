package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// Source is where the engine reads the accepted configuration; *store.Store
// provides it.
type Source interface {
	Config(ctx context.Context) (*config.Config, error)
	Serial(ctx context.Context) (int64, error)
	Subscribe() (<-chan struct{}, func())
}

// lender is a Source that can lend its configuration instead of copying
// it (store.Store.SharedConfig): the engine, its checks and its previews
// only read the configuration they are given.
type lender interface {
	SharedConfig(ctx context.Context) (*config.Config, error)
}

// Options configure an Engine.
type Options struct {
	Source Source
	Ledger Ledger
	// Dial opens the kernel's IPVS; it is called again after a failure,
	// so that loading ip_vs later is noticed.
	Dial   func() (Kernel, error)
	Health Health // nil: Configured
	// Wake, when set, asks for a reconcile (health changes).
	Wake <-chan struct{}
	Log  *slog.Logger
	// Poll is how often the serial is checked for changes made by another
	// process (lvsconsole import). Default 2 s.
	Poll time.Duration
	// Resync is how often the kernel is re-read and repaired even when the
	// configuration did not change. Default 30 s.
	Resync time.Duration
	// Sample is how often the kernel's counters and rates are read for
	// the dashboard, the metrics and the rate history. Default 5 s;
	// negative: never.
	Sample time.Duration
}

// wakeSettle is how long the engine gathers health changes before it
// reconciles: a server that fails leaves the table that much later at most.
const wakeSettle = 50 * time.Millisecond

// reconcileTimeout bounds one reconcile; 1,000 x 10 takes about a second.
const reconcileTimeout = 2 * time.Minute

// Engine keeps IPVS programmed with the accepted configuration.
type Engine struct {
	o       Options
	run     sync.Mutex // one reconcile at a time; guards kernel and known
	kernel  Kernel
	known   *Table // the kernel's table after the last clean reconcile; nil: read it
	check   *Table // known before a resync: a re-read checks it (RefreshOwned); nil: read in full
	resyncs int
	mu      sync.Mutex // guards status and cfg
	status  Status
	cfg     *config.Config // the configuration of status.Desired
	applied chan int64     // serials applied, for whoever waits (tests, sync)
	hist    *history       // rates per virtual server
	memory  *memory        // quorums and real servers up, between reconciles; guarded by run
	last    lastDesired    // the last desired table and what it came from; guarded by run
	// sampleMu makes samples one at a time, on sampler: a socket of their
	// own, so that a reconcile's requests pass between a sample's dumps.
	sampleMu sync.Mutex
	sampler  Kernel
	notify   *notifier // runs the programs of their transitions
	stop     context.CancelFunc
}

// Status is what the engine last did, for the console.
type Status struct {
	Running   bool   // the engine's loop is running
	Available bool   // IPVS could be reached
	Reason    string // why not, in words
	Serial    int64  // the configuration serial last applied
	LastRun   time.Time
	Changes   []string  // what the last reconcile changed
	Errors    []string  // what failed in the last reconcile
	Desired   *Table    // the table the configuration asks for
	Kernel    *Table    // the kernel's table as last read (nil without IPVS)
	Sampled   time.Time // when Kernel's counters were read
}

// New returns an engine; Run starts it.
func New(o Options) *Engine {
	if o.Health == nil {
		o.Health = Configured{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Poll == 0 {
		o.Poll = 2 * time.Second
	}
	if o.Resync == 0 {
		o.Resync = 30 * time.Second
	}
	if o.Sample == 0 {
		o.Sample = 5 * time.Second
	}
	every := o.Sample
	if every < 0 {
		every = time.Hour
	}
	// The programs of transitions end with the engine (Close), not with
	// one reconcile's context.
	ctx, stop := context.WithCancel(context.Background())
	return &Engine{o: o, applied: make(chan int64, 1), hist: newHistory(every),
		memory: newMemory(), notify: newNotifier(ctx, o.Log), stop: stop}
}

// Close kills the programs of transitions still running (quorum_up,
// notify_down...) and waits for them to end.
func (e *Engine) Close() {
	e.stop()
	e.notify.wait()
}

// Status returns a copy of the engine's state.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.status
	s.Changes = append([]string(nil), s.Changes...)
	s.Errors = append([]string(nil), s.Errors...)
	return s
}

// Applied signals the serial of each reconciled configuration (coalesced).
func (e *Engine) Applied() <-chan int64 { return e.applied }

// Run reconciles at start, whenever the configuration changes, and every
// Resync to repair drift (a service deleted by hand), until ctx ends; then
// it kills the programs of transitions still running (see Close).
func (e *Engine) Run(ctx context.Context) error {
	changes, cancel := e.o.Source.Subscribe()
	defer cancel()
	defer e.Close()
	e.update(func(s *Status) { s.Running = true })
	defer e.update(func(s *Status) { s.Running = false })

	poll := time.NewTicker(e.o.Poll)
	defer poll.Stop()
	if e.o.Sample > 0 {
		// Beside the reconciles: a sample of 10,000 services is 10,000
		// dumps, which an edit must not wait for.
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); e.sampleLoop(sctx) }()
		defer func() { cancel(); <-done }()
	}
	resynced := time.Now()
	for {
		last, _ := e.o.Source.Serial(ctx)
		if time.Since(resynced) >= e.o.Resync {
			e.resync() // read the kernel afresh: repair what others changed
			resynced = time.Now()
		}
		e.Reconcile(ctx)
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-changes:
				break wait
			case <-e.o.Wake:
				// Health changes come in bursts (thousands of servers
				// checked at start, a switch failing): gather a burst into
				// one reconcile, which reads every server's weight.
				t := time.NewTimer(wakeSettle)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
				break wait
			case <-poll.C:
				// Another process (lvsconsole import) may have written.
				if serial, err := e.o.Source.Serial(ctx); err == nil && serial != last || time.Since(resynced) >= e.o.Resync {
					break wait
				}
			}
		}
	}
}

// Reconcile applies the current configuration once and records the outcome.
func (e *Engine) Reconcile(ctx context.Context) {
	e.run.Lock()
	defer e.run.Unlock()
	var cfg *config.Config
	var err error
	if l, ok := e.o.Source.(lender); ok {
		cfg, err = l.SharedConfig(ctx)
	} else {
		cfg, err = e.o.Source.Config(ctx)
	}
	if err != nil {
		e.o.Log.Error("reading the configuration", "err", err)
		e.update(func(s *Status) { s.Errors = []string{err.Error()} })
		return
	}
	e.o.Health.Configure(cfg)
	// Which virtual servers' health answers changed since the last table,
	// asked before the answers are read: a change meanwhile is in the
	// next reconcile's.
	var mark HealthMark
	var answered []int
	tracked := false
	if ct, ok := e.o.Health.(changeTracker); ok {
		mark, answered, tracked = ct.Changed(cfg, e.last.mark)
	}
	var want *Table
	var events []event
	again := false
	if tracked {
		want, events, again = desiredAgain(cfg, e.o.Health, e.memory, &e.last, answered)
	}
	if !again {
		want, events = desired(cfg, e.o.Health, e.memory)
	}
	e.last = lastDesired{cfg: cfg, want: want, mark: mark}
	if !tracked {
		e.last.cfg = nil
	}
	for _, ev := range events {
		if ev.Real == "" {
			e.o.Log.Info("quorum "+ev.Detail, "virtual", ev.Virtual)
		}
	}
	e.notify.post(events) // never waited for
	e.mu.Lock()
	e.cfg = cfg
	e.mu.Unlock()
	if e.kernel == nil {
		k, err := e.o.Dial()
		if err != nil {
			reason := err.Error()
			if errors.Is(err, ipvs.ErrNoIPVS) {
				reason = "IPVS is not available in this kernel (load the ip_vs module); the console keeps working and shows the table it would program"
			} else if errors.Is(err, ipvs.ErrPermission) {
				reason = "no permission to program IPVS: run lvsconsole serve as root (CAP_NET_ADMIN)"
			}
			e.update(func(s *Status) {
				if s.Available || s.Reason != reason {
					e.o.Log.Warn("IPVS unavailable", "reason", reason)
				}
				s.Available, s.Reason, s.Desired, s.Kernel, s.Serial = false, reason, want, nil, cfg.Serial
				s.LastRun = time.Now()
			})
			e.signal(cfg.Serial)
			return
		}
		e.kernel = k
	}
	// A bound on one reconcile: a kernel that stops answering must not
	// stop the engine for good.
	rctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	res, err := reconcile(rctx, e.kernel, e.o.Ledger, want, e.known, e.check)
	e.known, e.check = nil, nil
	if err != nil {
		e.o.Log.Error("reconciling IPVS", "err", err)
		e.kernel = nil // dial again next time: the module may have gone
		e.update(func(s *Status) {
			s.Available, s.Reason, s.Desired, s.Errors = false, fmt.Sprintf("reading IPVS failed: %v", err), want, []string{err.Error()}
			s.LastRun = time.Now()
		})
		return
	}
	changes := make([]string, len(res.Changes))
	for i, c := range res.Changes {
		changes[i] = c.String()
	}
	errs := make([]string, len(res.Errors))
	for i, err := range res.Errors {
		errs[i] = err.Error()
		e.o.Log.Error("IPVS change failed", "serial", cfg.Serial, "err", err)
	}
	if len(changes) > 0 {
		e.o.Log.Info("IPVS reconciled", "serial", cfg.Serial, "changes", len(changes), "errors", len(errs))
	}
	e.known = res.After
	e.update(func(s *Status) {
		s.Available, s.Reason, s.Serial, s.LastRun = true, "", cfg.Serial, time.Now()
		carryStats(res.After, s.Kernel) // computed, not read: keep the last counters
		s.Desired, s.Kernel, s.Errors = want, res.After, errs
		if len(changes) > 0 {
			s.Changes = changes // the last reconcile that changed something
		}
	})
	e.signal(cfg.Serial)
}

// fullResyncs: every so many resyncs read the kernel in full; the others
// check what the engine believes against /proc/net/ip_vs and dump only the
// services that differ (RefreshOwned), which does not see a threshold or
// tunnel parameter changed by hand. At the default Resync, a full read
// every 5 minutes.
const fullResyncs = 10

// resync makes the next reconcile re-read the kernel.
func (e *Engine) resync() {
	e.run.Lock()
	defer e.run.Unlock()
	e.resyncs++
	e.check = nil
	if e.resyncs%fullResyncs != 0 {
		e.check = e.known
	}
	e.known = nil
}

// Forget drops what the engine believes the kernel holds, so that the next
// reconcile reads it.
func (e *Engine) Forget() {
	e.run.Lock()
	e.known, e.check = nil, nil
	e.run.Unlock()
}

func (e *Engine) update(fn func(*Status)) {
	e.mu.Lock()
	fn(&e.status)
	e.mu.Unlock()
}

func (e *Engine) signal(serial int64) {
	select {
	case <-e.applied:
	default:
	}
	e.applied <- serial
}
