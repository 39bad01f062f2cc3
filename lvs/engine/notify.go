package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/proc"
)

// Limits of the programs transitions run (quorum_up, quorum_down,
// notify_up, notify_down).
const (
	notifyTimeout   = 30 * time.Second // then killed with its process group
	notifyOutput    = 4 << 10          // kept of each output stream, for the log
	notifyAtOnce    = 4                // programs running at once, of all servers
	notifyLogOutput = 512              // logged of each output stream
)

// notifier runs the programs of transitions off the engine's loop, which
// never waits for them: one at a time per server (a virtual server's
// quorum, or a real server), in the order of its transitions, at most
// notifyAtOnce at once in all. Of a burst only the latest waits: a server
// that goes down and up again before its notify_down started runs only
// notify_up, and nothing when notify_up is what last ran for it.
type notifier struct {
	log  *slog.Logger
	ctx  context.Context // ends the programs when the engine stops
	slot chan struct{}   // notifyAtOnce tokens

	mu      sync.Mutex
	pending map[serverName]event  // the next to run, per server
	running map[serverName]bool   // a goroutine runs this server's programs
	last    map[serverName]string // the program last run in a drain
	wg      sync.WaitGroup
}

func newNotifier(ctx context.Context, log *slog.Logger) *notifier {
	return &notifier{log: log, ctx: ctx, slot: make(chan struct{}, notifyAtOnce),
		pending: map[serverName]event{}, running: map[serverName]bool{}, last: map[serverName]string{}}
}

// post queues the programs of evs, returning at once; a transition
// without a program runs nothing.
func (n *notifier) post(evs []event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ev := range evs {
		if strings.TrimSpace(ev.Command) == "" {
			continue
		}
		k := ev.key()
		n.pending[k] = ev
		if !n.running[k] {
			n.running[k] = true
			n.wg.Add(1)
			go n.drain(k)
		}
	}
}

// drain runs k's programs until none waits.
func (n *notifier) drain(k serverName) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		ev, ok := n.pending[k]
		delete(n.pending, k)
		if !ok {
			delete(n.running, k)
			delete(n.last, k)
			n.mu.Unlock()
			return
		}
		if n.last[k] == ev.Field {
			n.mu.Unlock() // still in effect: down and up again before it ran
			continue
		}
		n.last[k] = ev.Field
		n.mu.Unlock()
		n.run(ev)
	}
}

// wait returns once every program queued has run (tests).
func (n *notifier) wait() { n.wg.Wait() }

// run runs ev's program, if it has one, and logs how it went.
func (n *notifier) run(ev event) {
	attrs := []any{"virtual", ev.Virtual, "detail", ev.Detail}
	if ev.Real != "" {
		attrs = append(attrs, "real", ev.Real)
	}
	argv, err := config.CheckCommand(ev.Command)
	if err != nil {
		n.log.Warn(ev.Field+" not run", append(attrs, "command", ev.Command, "err", err)...)
		return
	}
	select {
	case n.slot <- struct{}{}:
	case <-n.ctx.Done():
		return
	}
	r, err := proc.Run(n.ctx, argv, proc.Options{Timeout: notifyTimeout, MaxOutput: notifyOutput})
	<-n.slot
	attrs = append(attrs, "argv", argv)
	switch {
	case errors.Is(err, proc.ErrUntrusted):
		n.log.Warn(ev.Field+" not run", append(attrs, "err", err)...)
	case err != nil:
		n.log.Warn(ev.Field+" failed", append(attrs, "err", err)...)
	default:
		attrs = append(attrs, "status", r.Status(), "stdout", clip(r.Stdout), "stderr", clip(r.Stderr))
		if r.Success() {
			n.log.Info("ran "+ev.Field, attrs...)
		} else {
			n.log.Warn(ev.Field+" failed", attrs...)
		}
	}
}

// clip is the start of a program's output, for the log.
func clip(o proc.Output) string {
	s := strings.TrimSpace(o.String())
	if len(s) > notifyLogOutput {
		s = s[:notifyLogOutput] + "..."
	}
	return s
}
