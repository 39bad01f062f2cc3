package pulse

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The heartbeat in a helper process.
//
// Inside serve, the heartbeat thread runs at real-time priority, but after
// each wake-up it needs one of the process's Go schedulers (a P) to run Go
// code, and on a machine whose CPUs are busy with other work, a P can be
// held for tens of milliseconds, or seconds, by one of serve's other
// threads that the kernel is not running (BENCHMARKS.md has the trace).
// A helper process runs nothing but the heartbeat, with every thread at
// real-time priority, so whoever holds a P there runs at once and gives it
// back: the heartbeat never waits for the rest of serve.
//
// The parent's Node is then a proxy: Run starts the helper (Options.Helper)
// and talks to it over its stdin and stdout with encoding/gob; the helper
// (ServeHelper) runs an ordinary Node and sends back its Status, the
// answers to SetLink and Configure, and its log lines. The key travels on
// the pipe, never in the arguments or the environment. The helper ends
// with Run, or when its stdin closes (serve died): then without a goodbye,
// as serve itself would have.

// helperRequest is the parent's side. (gob leaves zero values out, so Op
// says what the request is, not which fields are set.)
type helperRequest struct {
	ID       uint64
	Op       helperOp
	Settings Settings   // opStart, opConfigure
	Serial   int64      // opStart, opSerial
	LinkOK   bool       // opStart, opLink
	LogLevel slog.Level // opStart: the least the parent logs
}

type helperOp uint8

const (
	opStart helperOp = iota + 1
	opConfigure
	opSerial
	opLink
	opStop
)

// helperEvent is the helper's side.
type helperEvent struct {
	Status *Status
	Reply  *helperReply
	Log    *helperLog
	Ended  string // the helper's Run ended with this error
}

type helperReply struct {
	ID  uint64
	Err string
}

type helperLog struct {
	Time  time.Time
	Level slog.Level
	Msg   string
	Attrs []helperAttr
}

type helperAttr struct{ Key, Value string }

// helperRTTime bounds the CPU time a helper thread may take without
// blocking: a runaway at real-time priority is killed rather than keep a
// CPU from everything else (RLIMIT_RTTIME).
const helperRTTime = time.Second

// ServeHelper runs the heartbeat for a parent Node whose Options.Helper
// started this process: requests on in, events on out (the process's
// stdin and stdout). It returns when the parent asks it to stop (after the
// goodbye) or goes away (without it).
func ServeHelper(in io.Reader, out io.Writer) error {
	events := make(chan helperEvent, 256)
	written := make(chan error, 1)
	go func() {
		enc := gob.NewEncoder(out)
		var err error
		for ev := range events {
			if err == nil {
				err = enc.Encode(&ev)
			}
		}
		written <- err
	}()
	defer func() {
		close(events)
		<-written
	}()
	fwd := &forwardHandler{ch: events, dropped: new(atomic.Uint64)}
	log := slog.New(fwd)

	if err := limitRTTime(helperRTTime); err != nil {
		log.Warn("pulse helper: RLIMIT_RTTIME", "err", err)
	}
	if err := realtimeProcess(); err != nil {
		log.Warn("pulse helper: its threads run without real-time priority: heartbeats may be late on a busy machine", "err", err)
	}

	dec := gob.NewDecoder(in)
	var first helperRequest
	if err := dec.Decode(&first); err != nil {
		return fmt.Errorf("pulse helper: reading the settings: %w", err)
	}
	if first.Op != opStart {
		return fmt.Errorf("pulse helper: the first request is %d, not the settings", first.Op)
	}
	fwd.level = first.LogLevel
	n, err := New(first.Settings, Options{Log: log})
	if err != nil {
		events <- helperEvent{Reply: &helperReply{ID: first.ID, Err: err.Error()}}
		return err
	}
	n.SetSerial(first.Serial)
	n.SetLink(first.LinkOK)
	events <- helperEvent{Reply: &helperReply{ID: first.ID}}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- n.Run(ctx) }()
	pushed := make(chan struct{})
	go pushStatus(n, events, ctx.Done(), pushed)
	reqs := make(chan helperRequest)
	go func() {
		defer close(reqs)
		for {
			var q helperRequest
			if err := dec.Decode(&q); err != nil {
				return
			}
			reqs <- q
		}
	}()

	var runErr error
	running := true
loop:
	for {
		select {
		case err := <-ran: // a lost socket, say
			runErr, running = err, false
			break loop
		case q, ok := <-reqs:
			if !ok {
				// The parent is gone: end as it did, without a goodbye.
				n.noGoodbye.Store(true)
				break loop
			}
			var reply *helperReply
			switch q.Op {
			case opStop:
				break loop
			case opConfigure:
				reply = &helperReply{ID: q.ID}
				if err := n.Configure(q.Settings); err != nil {
					reply.Err = err.Error()
				}
			case opLink:
				n.SetLink(q.LinkOK)
				reply = &helperReply{ID: q.ID}
			case opSerial:
				n.SetSerial(q.Serial)
			}
			if reply != nil {
				st := n.Status() // what the change made, before the answer
				events <- helperEvent{Status: &st, Reply: reply}
			}
		}
	}
	cancel()
	if running {
		runErr = <-ran
	}
	<-pushed
	st := n.Status()
	ev := helperEvent{Status: &st}
	if runErr != nil {
		ev.Ended = runErr.Error()
	}
	events <- ev
	return runErr
}

// pushStatus sends the node's Status whenever it signals a change, and
// every 100 ms if its counters moved, until done.
func pushStatus(n *Node, events chan<- helperEvent, done <-chan struct{}, pushed chan<- struct{}) {
	defer close(pushed)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last Status
	for {
		select {
		case <-done:
			return
		case <-n.Changes():
		case <-tick.C:
		}
		if st := n.Status(); st != last {
			last = st
			events <- helperEvent{Status: &st}
		}
	}
}

// forwardHandler is the helper's slog.Handler: records go to the parent,
// which logs them with its own logger. A full queue drops them.
type forwardHandler struct {
	ch      chan<- helperEvent
	level   slog.Level
	attrs   []helperAttr
	dropped *atomic.Uint64
}

func (h *forwardHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *forwardHandler) Handle(_ context.Context, r slog.Record) error {
	l := &helperLog{Time: r.Time, Level: r.Level, Msg: r.Message, Attrs: append([]helperAttr(nil), h.attrs...)}
	r.Attrs(func(a slog.Attr) bool {
		l.Attrs = append(l.Attrs, helperAttr{a.Key, a.Value.String()})
		return true
	})
	if d := h.dropped.Swap(0); d > 0 {
		l.Attrs = append(l.Attrs, helperAttr{"dropped_before", strconv.FormatUint(d, 10)})
	}
	select {
	case h.ch <- helperEvent{Log: l}:
	default:
		h.dropped.Add(1)
	}
	return nil
}

func (h *forwardHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]helperAttr(nil), h.attrs...)
	for _, a := range as {
		c.attrs = append(c.attrs, helperAttr{a.Key, a.Value.String()})
	}
	return &c
}

func (h *forwardHandler) WithGroup(string) slog.Handler { return h }

// remoteRun is one Run of a helper, on the parent's side.
type remoteRun struct {
	cmd    *exec.Cmd
	w      io.Closer
	encMu  sync.Mutex
	enc    *gob.Encoder
	nextID atomic.Uint64

	mu      sync.Mutex
	waiting map[uint64]chan helperReply
	exited  chan struct{} // closed when the helper's output ends
	readErr error
	ended   string // why the helper's Run ended, as it said
}

// send writes a request; a failure means the helper is gone.
func (r *remoteRun) send(q helperRequest) error {
	r.encMu.Lock()
	defer r.encMu.Unlock()
	return r.enc.Encode(&q)
}

// call sends a request and waits for its answer, or the helper's end.
func (r *remoteRun) call(q helperRequest) (helperReply, error) {
	q.ID = r.nextID.Add(1)
	ch := make(chan helperReply, 1)
	r.mu.Lock()
	r.waiting[q.ID] = ch
	r.mu.Unlock()
	if err := r.send(q); err != nil {
		return helperReply{}, errRunEnded
	}
	select {
	case rep := <-ch:
		return rep, nil
	case <-r.exited:
		return helperReply{}, errRunEnded
	}
}

// read takes the helper's events until its output ends.
func (n *Node) readHelper(r *remoteRun, out io.Reader) {
	defer close(r.exited)
	dec := gob.NewDecoder(out)
	for {
		var ev helperEvent
		if err := dec.Decode(&ev); err != nil {
			if !errors.Is(err, io.EOF) {
				r.readErr = err
			}
			return
		}
		if ev.Status != nil {
			n.setRemote(*ev.Status)
		}
		if ev.Ended != "" {
			r.ended = ev.Ended
		}
		if l := ev.Log; l != nil && n.log.Enabled(context.Background(), l.Level) {
			rec := slog.NewRecord(l.Time, l.Level, l.Msg, 0)
			for _, a := range l.Attrs {
				rec.AddAttrs(slog.String(a.Key, a.Value))
			}
			n.log.Handler().Handle(context.Background(), rec)
		}
		if rep := ev.Reply; rep != nil {
			r.mu.Lock()
			ch := r.waiting[rep.ID]
			delete(r.waiting, rep.ID)
			r.mu.Unlock()
			if ch != nil {
				ch <- *rep
			}
		}
	}
}

// setRemote makes the helper's Status ours, and signals Changes as the
// node itself would.
func (n *Node) setRemote(st Status) {
	k := st.Counters
	c := &n.counters
	c.sent.Store(k.Sent)
	c.received.Store(k.Received)
	c.malformed.Store(k.Malformed)
	c.unknownSource.Store(k.UnknownSource)
	c.badAuth.Store(k.BadAuth)
	c.replayed.Store(k.Replayed)
	c.duplicate.Store(k.Duplicate)
	c.stale.Store(k.Stale)
	if st.Peer.LastHeard.IsZero() {
		n.lastHeard.Store(0)
	} else {
		n.lastHeard.Store(max(1, int64(st.Peer.LastHeard.Sub(n.base))))
	}
	st.Counters, st.Peer.LastHeard = Counters{}, time.Time{}
	old := n.snap.Swap(&st)
	if watchedOf(*old) != watchedOf(st) {
		select {
		case n.changes <- struct{}{}:
		default:
		}
	}
}

func watchedOf(st Status) watched {
	p := st.Peer
	return watched{st.Role, st.Decided, st.LinkDown, p.Role, p.Primary, false, p.LinkDown, p.Heard, p.Serial, p.Console, p.ConsolePin}
}

// runHelper is Run with Options.Helper.
func (n *Node) runHelper(ctx context.Context) error {
	n.mu.Lock()
	if n.run != nil || n.remote != nil {
		n.mu.Unlock()
		return errors.New("pulse: Run is already running")
	}
	cmd := n.helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("pulse: heartbeat helper: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("pulse: heartbeat helper: %w", err)
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr // its panics, if any
	}
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		return fmt.Errorf("pulse: starting the heartbeat helper: %w", err)
	}
	r := &remoteRun{cmd: cmd, w: in, enc: gob.NewEncoder(in), waiting: map[uint64]chan helperReply{}, exited: make(chan struct{})}
	go n.readHelper(r, out)
	c := &n.c
	s, serial, ok := c.set, c.serial, !c.st.LinkDown
	level := slog.LevelInfo
	if n.log.Enabled(ctx, slog.LevelDebug) {
		level = slog.LevelDebug
	}
	rep, err := r.call(helperRequest{Op: opStart, Settings: s, Serial: serial, LinkOK: ok, LogLevel: level})
	if err == nil && rep.Err != "" {
		err = errors.New(rep.Err)
	}
	if err != nil {
		in.Close()
		<-r.exited
		cmd.Wait()
		n.mu.Unlock()
		return fmt.Errorf("pulse: the heartbeat helper refused to start: %w", err)
	}
	n.remote = r
	n.mu.Unlock()
	n.log.Info("pulse: heartbeat helper started", "pid", cmd.Process.Pid)

	stopped := false
	select {
	case <-ctx.Done():
		if n.noGoodbye.Load() {
			stopped = in.Close() == nil // as if we died: no goodbye
		} else {
			stopped = r.send(helperRequest{Op: opStop}) == nil
		}
	case <-r.exited:
	}
	if stopped {
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-r.exited
		}
	}
	in.Close()
	werr := cmd.Wait()

	n.mu.Lock()
	defer n.mu.Unlock()
	n.remote = nil
	last := n.Status() // the helper's last word, kept for a next Run
	c.st.Role, c.st.Decided, c.since, c.reason = last.Role, last.Decided, last.Since, last.Reason
	if stopped && (werr == nil || n.noGoodbye.Load()) {
		return nil
	}
	// The helper died: nobody sends heartbeats any more.
	why := fmt.Errorf("pulse: the heartbeat helper ended: %v", werr)
	switch {
	case r.ended != "":
		why = fmt.Errorf("pulse: the heartbeat helper ended: %s", r.ended)
	case werr == nil:
		why = errors.New("pulse: the heartbeat helper ended")
	}
	now := time.Now()
	n.update(now, func() {
		c.reason = why.Error()
		if c.st.Role != Standby || !c.st.Decided {
			c.st.Role, c.st.Decided, c.since = Standby, true, now
		}
	})
	return why
}
