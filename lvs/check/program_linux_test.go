package check_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

// shell is a send_program that runs body (one line: a program is one) with
// /usr/bin/sh -c, as name ($0), the rest of the command line its
// arguments: a program only root can change, as Run wants, whoever runs
// the test.
func shell(name, body string) string {
	return "/usr/bin/sh -c '" + strings.ReplaceAll(body, "'", `'\''`) + "' " + name
}

func TestProgramArguments(t *testing.T) {
	t.Parallel()
	echo := shell("args.sh", `echo "$#:$1"`)
	for _, tc := range []struct {
		cmd    string
		target check.Target
		expect string
	}{
		{echo + " %h:%p", progTarget, "1:127.0.0.1:8080"},
		{echo + " %h:%p", check.Target{Addr: netip.MustParseAddr("::1"), Port: 443}, "1:::1:443"},
		{echo + " 'host %h' %p", progTarget, "2:host 127.0.0.1"},
		{echo + ` "--url=http://%h:%p/a b"`, progTarget, "1:--url=http://127.0.0.1:8080/a b"},
	} {
		spec := progSpec(tc.cmd)
		spec.Expect = tc.expect
		r := check.Run(t.Context(), spec, tc.target)
		if !r.OK {
			t.Errorf("%s: DOWN (%s), want output %q", tc.cmd, r.Reason, tc.expect)
		}
	}

	spec := progSpec(echo + " %h")
	spec.Expect = "1:127.0.0"
	wantDown(t, check.Run(t.Context(), spec, progTarget), "expect mismatch: got '1:127.0.0.1'") // equal, not a prefix
	spec.Expect, spec.UseRegex = `^1:127\.0\.0\.[0-9]+$`, true
	wantOK(t, check.Run(t.Context(), spec, progTarget))
}

// No shell: quotes, ;, $, *, `, | and > reach the program as they are.
func TestProgramNoShell(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "x")
	spec := progSpec(`/bin/echo "a; touch ` + marker + `"`)
	spec.Expect = "a; touch " + marker
	wantOK(t, check.Run(t.Context(), spec, progTarget))
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists (stat: %v): the command went through a shell", marker, err)
	}

	spec = progSpec("/bin/echo $HOME * $(id) `id` | cat > " + marker)
	spec.Expect = "$HOME * $(id) `id` | cat > " + marker
	wantOK(t, check.Run(t.Context(), spec, progTarget))
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists (stat: %v): the command went through a shell", marker, err)
	}
}

func TestProgramExitStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fail := shell("fail.sh", "echo 'backend down' >&2; echo 'ignored'; exit 1")
	wantDown(t, check.Run(t.Context(), progSpec(fail), progTarget), "program exited 1: backend down")

	quiet := shell("quiet.sh", "exit 3")
	r := check.Run(t.Context(), progSpec(quiet), progTarget)
	if r.OK || r.Reason != "program exited 3" {
		t.Errorf("got OK=%v %q, want DOWN %q", r.OK, r.Reason, "program exited 3")
	}

	killed := shell("killed.sh", "kill -TERM $$")
	wantDown(t, check.Run(t.Context(), progSpec(killed), progTarget), "program killed by signal 15")

	wantOK(t, check.Run(t.Context(), progSpec("/bin/true"), progTarget))
	wantDown(t, check.Run(t.Context(), progSpec(filepath.Join(dir, "missing")), progTarget), "cannot run program")
}

// A hung program is DOWN at the timeout (piranha counted it UP when expect
// was set), and the kill reaches all of its process group.
func TestProgramHangs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ name, body string }{
		// The sleep replaces the script: the direct child hangs.
		{"exec", `echo $$ > "$1"; exec /usr/bin/sleep 100`},
		// The sleep is a grandchild that holds the output pipe.
		{"grandchild", `/usr/bin/sleep 100 & echo $$ $! > "$1"; wait`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pids := filepath.Join(dir, tc.name+".pids")
			spec := progSpec(shell(tc.name+".sh", tc.body) + " " + pids)
			spec.Timeout = time.Second
			spec.Expect = "ok"
			r, took := timed(t, spec, progTarget)
			wantDown(t, r, "timeout after 1s")
			if took > 5*spec.Timeout {
				t.Errorf("check took %v, timeout %v", took, spec.Timeout)
			}
			b, err := os.ReadFile(pids)
			if err != nil {
				t.Fatalf("the script did not record its processes within 1s: %v", err)
			}
			for _, f := range strings.Fields(string(b)) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatalf("pid file %q: %v", b, err)
				}
				waitGone(t, pid)
			}
		})
	}
}

// waitGone fails unless process pid has exited (a zombie has), waiting
// for the exit through a pidfd rather than sleeping.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 5000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd of %d: %v", pid, err)
		}
		if n == 0 {
			syscall.Kill(pid, syscall.SIGKILL) // do not leave it behind
			t.Fatalf("process %d still runs 5s after the check was killed", pid)
		}
		return
	}
}

// A child that leaves the process group and holds the output open delays
// the result by a bounded margin only.
func TestProgramEscapedChild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	spec := progSpec(shell("escape.sh", `/usr/bin/setsid /usr/bin/sleep 100 & echo $! > "$1"; echo ok`) + " " + pids)
	spec.Expect = "ok"
	r, took := timed(t, spec, progTarget)
	if b, err := os.ReadFile(pids); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	wantOK(t, r)
	if took > spec.Timeout {
		t.Errorf("check took %v, longer than its timeout %v", took, spec.Timeout)
	}
}

// Output is kept bounded; a program writing a lot neither blocks nor fails.
func TestProgramLargeOutput(t *testing.T) {
	t.Parallel()
	wantOK(t, check.Run(t.Context(), progSpec("/usr/bin/head -c 1000000 /dev/zero"), progTarget))
	spec := progSpec("/usr/bin/head -c 1000000 /dev/zero")
	spec.Expect = "x"
	wantDown(t, check.Run(t.Context(), spec, progTarget), `expect mismatch: got '\x00\x00`)
}

// With ProgramWeight the exit status is keepalived's misc_dynamic: 0 up at
// the configured weight, 1 down, 2-255 up with weight status-2.
func TestProgramWeight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		exit    string
		ok, set bool
		weight  int64
		reason  string
	}{
		{"0", true, false, 0, "program exited 0: the configured weight"},
		{"1", false, false, 0, "program exited 1: sick"},
		{"2", true, true, 0, "program exited 2: weight 0"},
		{"12", true, true, 10, "program exited 12: weight 10"},
		{"255", true, true, 253, "program exited 255: weight 253"},
	} {
		spec := progSpec(shell("w.sh", "echo sick >&2; exit "+tc.exit))
		spec.ProgramWeight = true
		spec.Expect = "never looked at"
		r := check.Run(t.Context(), spec, progTarget)
		if r.OK != tc.ok || r.Weighted != tc.set || r.Weight != tc.weight || r.Reason != tc.reason {
			t.Errorf("exit %s: %+v, want OK=%v weighted=%v weight=%d %q", tc.exit, r, tc.ok, tc.set, tc.weight, tc.reason)
		}
	}
	spec := progSpec(shell("k.sh", "kill -TERM $$"))
	spec.ProgramWeight = true
	wantDown(t, check.Run(t.Context(), spec, progTarget), "program killed by signal 15")
	// Without it, 2 is a failure as before.
	if r := check.Run(t.Context(), progSpec(shell("w.sh", "exit 2")), progTarget); r.OK || r.Weighted {
		t.Errorf("exit 2 without ProgramWeight: %+v", r)
	}
}
