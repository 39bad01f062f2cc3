package check

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/proc"
)

// runProgram runs piranha's send_program: argv with %h and %p substituted,
// through proc.Run: only a program only root can change, no shell, in its
// own process group that is killed whole at the timeout (a hung program is
// DOWN, not UP as in piranha).
func (p *Probe) runProgram(a *attempt, t Target) Result {
	subst := strings.NewReplacer("%h", t.Addr.String(), "%p", strconv.Itoa(int(t.Port)))
	args := make([]string, len(p.argv))
	for i, s := range p.argv {
		args[i] = subst.Replace(s)
	}
	r, err := proc.Run(a.ctx, args, proc.Options{MaxOutput: maxOutput, WaitDelay: reapMargin})
	switch {
	case a.parent.Err() != nil:
		return down(cancelled(a.parent))
	case err != nil:
		return down("cannot run program: " + err.Error())
	case r.TimedOut:
		return down(a.timedOut())
	case r.Canceled:
		return down(cancelled(a.ctx))
	case p.spec.ProgramWeight && r.Signal == 0:
		// keepalived's misc_dynamic: the status says up or down, and the
		// weight. Expect is not looked at.
		ok, set, w := config.ProgramWeight(r.Exit)
		switch {
		case !ok:
			return down("program " + r.Status() + firstLine(r.Stderr.Data, r.Stdout.Data))
		case set:
			return Result{OK: true, Reason: "program " + r.Status() + ": weight " + strconv.FormatInt(w, 10), Weighted: true, Weight: w}
		}
		return up("program exited 0: the configured weight")
	case !r.Success():
		return down("program " + r.Status() + firstLine(r.Stderr.Data, r.Stdout.Data))
	}
	if !p.expect.isSet() {
		return up("program exited 0")
	}
	out := r.Stdout.Data
	out = bytes.TrimSuffix(out, []byte("\n"))
	out = bytes.TrimSuffix(out, []byte("\r"))
	var ok bool
	if p.expect.re != nil {
		ok = p.expect.re.Match(out)
	} else {
		ok = r.Stdout.Cut == 0 && bytes.Equal(out, p.expect.prefix) // piranha: equal, not prefix
	}
	if !ok {
		return down("expect mismatch: got " + quote(out))
	}
	return up("got " + quote(out))
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
