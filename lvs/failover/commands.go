package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/proc"
)

// commands runs active_cmd and inactive_cmd off the failover loop, so that
// no command, however it behaves, holds up a role change: one at a time,
// in the order of the role changes, each through proc.Run (only a trusted
// program, its process group killed at the timeout, its output capped).
//
// At most one command waits: a burst of role changes runs only the
// command of the role the burst ends in, and none when that role's
// command is the last one that ran to success. A command still running
// when the role changes away from its role is killed (with its group)
// rather than waited for: what it was doing is now to be undone, the
// opposite command must not run beside it, and waiting out its timeout
// (30 s) would keep the new role's command waiting as long.
type commands struct {
	log     *slog.Logger
	warn    func(topic, msg string)
	timeout time.Duration
	kick    chan struct{} // cap 1: a command is waiting, or close was called

	mu      sync.Mutex
	pending *command // the next to run
	running *command
	done    Role // whose command last ran to success, nothing since; "" unknown
	closed  bool
}

type command struct {
	role   Role
	field  string // active_cmd or inactive_cmd
	argv   []string
	cancel context.CancelCauseFunc // while it runs
}

// maxCommandOutput is what is kept of each of a command's output streams.
const maxCommandOutput = 4 << 10

func newCommands(log *slog.Logger, warn func(topic, msg string), timeout time.Duration) *commands {
	return &commands{log: log, warn: warn, timeout: timeout, kick: make(chan struct{}, 1)}
}

// want asks for role's command (field, argv; none when argv is empty) to
// run next, in place of any command still waiting, and kills the running
// command when it is another role's.
func (c *commands) want(role Role, field string, argv []string) {
	c.mu.Lock()
	if c.running != nil && c.running.role != role {
		c.running.cancel(fmt.Errorf("this director became %s before it finished", role))
	}
	c.pending = &command{role: role, field: field, argv: argv}
	c.mu.Unlock()
	c.poke()
}

func (c *commands) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// close makes run return once the waiting command, if any, has run.
func (c *commands) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.poke()
}

// run runs the commands asked for until close, or until ctx ends; ending
// ctx kills the running command.
func (c *commands) run(ctx context.Context) {
	for {
		c.mu.Lock()
		next, closed := c.pending, c.closed
		c.pending = nil
		if next == nil {
			c.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-c.kick:
			case <-ctx.Done():
				return
			}
			continue
		}
		if next.role == c.done {
			c.mu.Unlock() // still in effect: nothing to do
			continue
		}
		cctx, cancel := context.WithCancelCause(ctx)
		next.cancel = cancel
		c.running, c.done = next, ""
		c.mu.Unlock()

		ok := c.exec(cctx, next)
		cancel(nil)

		c.mu.Lock()
		c.running = nil
		if ok {
			c.done = next.role
		}
		c.mu.Unlock()
	}
}

// exec runs one command and reports it; it returns whether it succeeded.
func (c *commands) exec(ctx context.Context, cmd *command) bool {
	if len(cmd.argv) == 0 {
		c.warn(cmd.field, "")
		return true
	}
	name := strconv.Quote(strings.Join(cmd.argv, " "))
	r, err := proc.Run(ctx, cmd.argv, proc.Options{Timeout: c.timeout, MaxOutput: maxCommandOutput})
	if err != nil {
		if ctx.Err() != nil {
			// Killed before it started: nothing ran.
			c.log.Info(cmd.field+" not run", "argv", cmd.argv, "reason", context.Cause(ctx).Error())
			return false
		}
		if errors.Is(err, proc.ErrUntrusted) {
			c.warn(cmd.field, fmt.Sprintf("%s %s was not run: %v", cmd.field, name, err))
		} else {
			c.warn(cmd.field, fmt.Sprintf("%s %s: %v", cmd.field, name, err))
		}
		return false
	}
	if r.Success() {
		c.warn(cmd.field, "")
		c.log.Info("ran "+cmd.field, "argv", cmd.argv, "status", r.Status(),
			"stdout", strings.TrimSpace(r.Stdout.String()), "stderr", strings.TrimSpace(r.Stderr.String()))
		return true
	}
	status := r.Status()
	switch {
	case r.TimedOut:
		status = "did not finish within " + c.timeout.String() + ": killed with its process group"
	case r.Canceled:
		status = "was killed with its process group: " + context.Cause(ctx).Error()
	}
	c.warn(cmd.field, fmt.Sprintf("%s %s %s%s", cmd.field, name, status, firstLines(3, r.Stderr.Data, r.Stdout.Data)))
	if len(r.Stdout.Data) > 0 || len(r.Stderr.Data) > 0 {
		c.log.Warn(cmd.field+" output", "argv", cmd.argv,
			"stdout", strings.TrimSpace(r.Stdout.String()), "stderr", strings.TrimSpace(r.Stderr.String()))
	}
	return false
}

// firstLines returns ": " and up to n non-blank lines of outs, in order,
// each shown printable and cut at 120 characters, joined by " | "; or "".
func firstLines(n int, outs ...[]byte) string {
	var lines []string
	for _, out := range outs {
		for line := range strings.Lines(string(out)) {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if len(lines) == n {
				return ": " + strings.Join(lines, " | ") + " ..."
			}
			lines = append(lines, printable(line, 120))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return ": " + strings.Join(lines, " | ")
}

// printable returns s with what is not printable escaped, cut at max bytes.
func printable(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		q := strconv.QuoteRuneToGraphic(r)
		q = q[1 : len(q)-1]
		if r == '\'' {
			q = "'"
		}
		if b.Len()+len(q) > max {
			b.WriteString("...")
			break
		}
		b.WriteString(q)
	}
	return b.String()
}
