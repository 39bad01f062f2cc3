package proc

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// Options bound a Run.
type Options struct {
	// Timeout, when positive, bounds the run; ctx's deadline does too.
	Timeout time.Duration
	// MaxOutput is how much of each of stdout and stderr is kept;
	// 0 is DefaultMaxOutput.
	MaxOutput int
	// WaitDelay is how long to wait, once the program has ended, for
	// processes it left behind to close its output; 0 is 500 ms. Then the
	// output is closed and they are killed.
	WaitDelay time.Duration
}

// DefaultMaxOutput is what Run keeps of each output stream by default.
const DefaultMaxOutput = 4 << 10

// Result is how a program ended and the start of what it wrote.
type Result struct {
	Exit     int            // exit status; -1 when a signal ended it
	Signal   syscall.Signal // the signal that ended it, else 0
	TimedOut bool           // Run killed it at the timeout (or ctx's deadline)
	Canceled bool           // Run killed it because ctx was cancelled
	Stdout   Output
	Stderr   Output
}

// Success reports whether the program ended by itself with status 0.
func (r *Result) Success() bool { return r.Exit == 0 && !r.TimedOut && !r.Canceled }

// Status says how the program ended: "exited 3", "killed by signal 15
// (terminated)", "killed at the timeout", "killed: cancelled".
func (r *Result) Status() string {
	switch {
	case r.TimedOut:
		return "killed at the timeout"
	case r.Canceled:
		return "killed: cancelled"
	case r.Signal != 0:
		return "killed by signal " + strconv.Itoa(int(r.Signal)) + " (" + r.Signal.String() + ")"
	}
	return "exited " + strconv.Itoa(r.Exit)
}

// Output is what a program wrote on one stream, up to a cap.
type Output struct {
	Data []byte // the first bytes written
	Cut  int64  // bytes written past the cap and dropped
}

// String returns the output as text, saying how much was cut.
func (o Output) String() string {
	if o.Cut == 0 {
		return string(o.Data)
	}
	return string(o.Data) + "[... " + strconv.FormatInt(o.Cut, 10) + " bytes cut]"
}

// capped keeps the first max bytes written to it and counts the rest,
// reporting them written so that the program is not stopped by a broken
// pipe.
type capped struct {
	out *Output
	max int
}

func (c capped) Write(p []byte) (int, error) {
	room := max(c.max-len(c.out.Data), 0)
	if len(p) > room {
		c.out.Data = append(c.out.Data, p[:room]...)
		c.out.Cut += int64(len(p) - room)
	} else {
		c.out.Data = append(c.out.Data, p...)
	}
	return len(p), nil
}

// env is all the environment a program gets. Nothing of the daemon's own
// environment (a service manager's sockets, credentials, proxies,
// LD_PRELOAD) reaches programs that the console's users configure; a
// fixed PATH makes what a script runs by name root's tools; LANG=C keeps
// messages in one language and plain ASCII, as the console shows them.
func env() []string {
	return []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
}

// Run runs argv (argv[0] an absolute path, no shell) as a director runs
// programs: only when Trusted, in "/" with a minimal environment and no
// input, with no capabilities and unable to gain any (on Linux; serve's
// own capabilities are for IPVS and the heartbeat, not for the programs
// the console's users configure), in a process group of its own that is killed whole at the
// timeout or when ctx ends, and also once the program has ended (what it
// left running in its group goes with it: programs run one after another,
// not beside their leftovers). Of each output stream the first
// MaxOutput bytes are kept.
//
// The error is nil when the program ran, whatever its end (see Result);
// otherwise it says why it could not run, wrapping ErrUntrusted when
// Trusted refused it.
func Run(ctx context.Context, argv []string, o Options) (*Result, error) {
	if len(argv) == 0 {
		return nil, errors.New("no program to run")
	}
	if err := Trusted(argv[0]); err != nil {
		return nil, err
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = DefaultMaxOutput
	}
	if o.WaitDelay <= 0 {
		o.WaitDelay = 500 * time.Millisecond
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	res := &Result{}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = ownGroup()
	var killed atomic.Bool
	cmd.Cancel = func() error {
		killed.Store(true)
		return killGroup(cmd.Process.Pid)
	}
	cmd.WaitDelay = o.WaitDelay
	cmd.Dir = "/"
	cmd.Env = env()
	cmd.Stdout = capped{&res.Stdout, o.MaxOutput}
	cmd.Stderr = capped{&res.Stderr, o.MaxOutput}

	err := start(cmd)
	if err == nil {
		err = cmd.Wait()
	}
	if cmd.ProcessState == nil {
		if err == nil {
			err = errors.New("it did not start")
		}
		return nil, fmt.Errorf("cannot run %s: %w", argv[0], err)
	}
	killGroup(cmd.Process.Pid)
	res.Exit = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal()
	}
	if killed.Load() {
		res.TimedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
		res.Canceled = !res.TimedOut
	}
	return res, nil
}
