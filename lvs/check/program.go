package check

import (
	"bytes"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// runProgram runs piranha's send_program: argv with %h and %p substituted,
// no shell, in its own process group that is killed whole at the timeout
// (a hung program is DOWN, not UP as in piranha).
func (p *Probe) runProgram(a *attempt, t Target) Result {
	subst := strings.NewReplacer("%h", t.Addr.String(), "%p", strconv.Itoa(int(t.Port)))
	args := make([]string, len(p.argv))
	for i, s := range p.argv {
		args[i] = subst.Replace(s)
	}
	cmd := exec.CommandContext(a.ctx, args[0], args[1:]...)
	// Its own process group, so that the kill reaches what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = reapMargin
	cmd.Dir = "/" // not wherever the daemon happened to start
	var stdout, stderr capped
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	err := cmd.Run()
	if cmd.Process != nil {
		// Whatever it left running in its group goes too: the next check
		// must not meet the previous one's leftovers.
		killGroup(cmd.Process.Pid)
	}
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		var ee *exec.ExitError
		switch {
		case a.parent.Err() != nil:
			return down(cancelled(a.parent))
		case a.ctx.Err() != nil:
			return down(a.timedOut())
		case errors.As(err, &ee):
			ws, _ := ee.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				return down("program killed by signal " + strconv.Itoa(int(ws.Signal())) + " (" + ws.Signal().String() + ")" + firstLine(stderr.b, stdout.b))
			}
			return down("program exited " + strconv.Itoa(ee.ExitCode()) + firstLine(stderr.b, stdout.b))
		default:
			return down("cannot run program: " + err.Error())
		}
	}
	if !p.expect.isSet() {
		return up("program exited 0")
	}
	out := stdout.b
	out = bytes.TrimSuffix(out, []byte("\n"))
	out = bytes.TrimSuffix(out, []byte("\r"))
	var ok bool
	if p.expect.re != nil {
		ok = p.expect.re.Match(out)
	} else {
		ok = !stdout.cut && bytes.Equal(out, p.expect.prefix) // piranha: equal, not prefix
	}
	if !ok {
		return down("expect mismatch: got " + quote(out))
	}
	return up("got " + quote(out))
}

// killGroup kills process group pgid; a group already gone is not an error.
func killGroup(pgid int) error {
	if pgid <= 0 {
		return nil
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return err
	}
	return nil
}

// firstLine returns ": " and the first non-blank line of the first output
// that has one, shown printable, or "".
func firstLine(outs ...[]byte) string {
	for _, out := range outs {
		for line := range bytes.Lines(out) {
			line = bytes.TrimSpace(line)
			if len(line) > 0 {
				q := quote(line)
				return ": " + q[1:len(q)-1]
			}
		}
	}
	return ""
}

// capped keeps the first maxOutput bytes written to it and drops the rest,
// still reporting them written so that the program is not stopped by a
// broken pipe.
type capped struct {
	b   []byte
	cut bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := maxOutput - len(c.b)
	if len(p) > room {
		c.cut = true
		c.b = append(c.b, p[:max(room, 0)]...)
	} else {
		c.b = append(c.b, p...)
	}
	return len(p), nil
}
