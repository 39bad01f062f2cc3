//go:build unix

package proc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shell is the argv of body run by /usr/bin/sh -c (a program only root
// can change, as Run wants, whoever runs the test), args its $1...
func shell(body string, args ...string) []string {
	return append([]string{"/usr/bin/sh", "-c", body, "sh"}, args...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		runtime.Gosched()
		<-time.After(2 * time.Millisecond)
	}
}

// groupGone waits for process group pgid to be empty: kill(-pgid, 0)
// answers ESRCH once its last process is reaped (by init, here, which
// may take a while: orphans are its to reap).
func groupGone(t *testing.T, pgid int) {
	t.Helper()
	waitFor(t, 10*time.Second, "process group "+strconv.Itoa(pgid)+" gone", func() bool {
		return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
	})
}

// readPids reads the numbers a script wrote to file.
func readPids(t *testing.T, file string) []int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the program did not record its processes: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file %q: %v", b, err)
		}
		pids = append(pids, n)
	}
	return pids
}

func TestRunEnds(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name           string
		argv           []string
		status         string
		exit           int
		sig            syscall.Signal
		stdout, stderr string
	}{
		{"exit 0", []string{"/usr/bin/echo", "a b", "c"}, "exited 0", 0, 0, "a b c\n", ""},
		{"exit 3", []string{"/usr/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, "exited 3", 3, 0, "out\n", "err\n"},
		{"signal", []string{"/usr/bin/sh", "-c", "kill -TERM $$"}, "killed by signal 15 (terminated)", -1, syscall.SIGTERM, "", ""},
		// No shell: the arguments reach the program as they are.
		{"no shell", []string{"/usr/bin/echo", "$HOME;", "`id`", "*"}, "exited 0", 0, 0, "$HOME; `id` *\n", ""},
		// The environment is PATH and LANG only, the directory is /.
		{"environment", []string{"/usr/bin/env"}, "exited 0", 0, 0, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C\n", ""},
		{"directory", []string{"/usr/bin/pwd"}, "exited 0", 0, 0, "/\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Run(ctx, tc.argv, Options{Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if r.Status() != tc.status || r.Exit != tc.exit || r.Signal != tc.sig || r.Success() != (tc.status == "exited 0") {
				t.Errorf("status %q exit %d signal %v success %v, want %q %d %v", r.Status(), r.Exit, r.Signal, r.Success(), tc.status, tc.exit, tc.sig)
			}
			if r.Stdout.String() != tc.stdout || r.Stderr.String() != tc.stderr {
				t.Errorf("stdout %q stderr %q, want %q %q", r.Stdout, r.Stderr, tc.stdout, tc.stderr)
			}
		})
	}
}

// TestRunTimeout: a program past its timeout is killed with its whole
// process group, a child that holds the output included.
func TestRunTimeout(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	start := time.Now()
	r, err := Run(context.Background(), shell("/usr/bin/sleep 600 &\necho $$ $! > \"$1\"\nwait\n", pids), Options{Timeout: 300 * time.Millisecond})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if !r.TimedOut || r.Canceled || r.Success() || r.Status() != "killed at the timeout" || r.Signal != syscall.SIGKILL {
		t.Errorf("timed out %v, cancelled %v, status %q, signal %v; want killed at the timeout", r.TimedOut, r.Canceled, r.Status(), r.Signal)
	}
	p := readPids(t, pids)
	groupGone(t, p[0]) // the script is its group's leader
	t.Logf("Run returned %v after its start (timeout 300ms)", took.Round(time.Millisecond))
}

// TestRunCancel: ending ctx kills the program and its group.
func TestRunCancel(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	prog := shell("/usr/bin/sleep 600 &\necho $$ $! > \"$1.tmp\"\nmv \"$1.tmp\" \"$1\"\nwait\n", pids)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Result, 1)
	go func() {
		r, err := Run(ctx, prog, Options{Timeout: time.Minute})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	waitFor(t, 5*time.Second, "the program started", func() bool { _, err := os.Stat(pids); return err == nil })
	cancel()
	var r *Result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return 10 s after ctx was cancelled")
	}
	if r == nil || !r.Canceled || r.TimedOut || r.Status() != "killed: cancelled" {
		t.Fatalf("result %+v, want cancelled", r)
	}
	groupGone(t, readPids(t, pids)[0])
}

// TestRunLeftovers: a program that ends but leaves a process holding its
// output (`sleep 600 &`, a daemon that did not detach) does not hold Run
// up beyond WaitDelay, and what it left is killed.
func TestRunLeftovers(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	prog := shell("/usr/bin/sleep 600 &\necho $$ $! > \"$1\"\necho started\n", pids)
	done := make(chan *Result, 1)
	start := time.Now()
	go func() {
		r, err := Run(context.Background(), prog, Options{Timeout: time.Minute, WaitDelay: 200 * time.Millisecond})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	var r *Result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s: the leftover's output held it")
	}
	t.Logf("Run returned %v after its start (WaitDelay 200ms)", time.Since(start).Round(time.Millisecond))
	if r == nil || !r.Success() || r.Stdout.String() != "started\n" {
		t.Fatalf("result %+v, want success saying started", r)
	}
	groupGone(t, readPids(t, pids)[0])
}

// TestRunOutputCapped: 300 MB of output is cut at the cap, and what Run
// allocates meanwhile stays far below the output's size.
func TestRunOutputCapped(t *testing.T) {
	const size = 300_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := Run(context.Background(), []string{"/usr/bin/sh", "-c", "/usr/bin/head -c " + strconv.Itoa(size) + " /dev/zero; /usr/bin/head -c 10000 /dev/zero >&2"},
		Options{Timeout: time.Minute})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Success() {
		t.Fatalf("status %s", r.Status())
	}
	if len(r.Stdout.Data) != DefaultMaxOutput || r.Stdout.Cut != size-DefaultMaxOutput {
		t.Errorf("stdout kept %d bytes and cut %d, want %d and %d", len(r.Stdout.Data), r.Stdout.Cut, DefaultMaxOutput, size-DefaultMaxOutput)
	}
	if len(r.Stderr.Data) != DefaultMaxOutput || r.Stderr.Cut != 10000-DefaultMaxOutput {
		t.Errorf("stderr kept %d bytes and cut %d, want %d and %d", len(r.Stderr.Data), r.Stderr.Cut, DefaultMaxOutput, 10000-DefaultMaxOutput)
	}
	if s := r.Stdout.String(); !strings.HasSuffix(s, "[... "+strconv.Itoa(size-DefaultMaxOutput)+" bytes cut]") {
		t.Errorf("stdout as text ends %q", s[max(0, len(s)-40):])
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes of output: %d bytes allocated meanwhile", size, alloc)
	if alloc > 4<<20 {
		t.Errorf("%d bytes allocated while the program wrote %d: memory follows the output", alloc, size)
	}
}

// TestRunUntrusted: a program that someone other than root could change
// is not run: the file it would write stays absent. (Run by root, the
// program is in a directory anyone can write; by anyone else, it is also
// theirs.)
func TestRunUntrusted(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(open, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	r, err := Run(context.Background(), []string{prog}, Options{Timeout: 10 * time.Second})
	if !errors.Is(err, ErrUntrusted) || r != nil {
		t.Errorf("Run = %+v, %v; want ErrUntrusted", r, err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the program ran: %s exists (stat: %v)", marker, err)
	}
	for _, argv := range [][]string{nil, {"relative"}, {filepath.Join(dir, "missing")}} {
		if r, err := Run(context.Background(), argv, Options{}); err == nil || r != nil {
			t.Errorf("Run(%q) = %+v, %v; want an error", argv, r, err)
		}
	}
}
