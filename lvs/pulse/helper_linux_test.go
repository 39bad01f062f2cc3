package pulse

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
)

// TestMain lets this test binary be its own heartbeat helper, as
// lvsconsole is with its pulse-helper command.
func TestMain(m *testing.M) {
	if os.Getenv("LVSCONSOLE_PULSE_HELPER_TEST") == "1" {
		if err := ServeHelper(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(testenv.Run(m))
}

func helperCmd() *exec.Cmd {
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), "LVSCONSOLE_PULSE_HELPER_TEST=1")
	return c
}

// helperPid returns the pid of n's helper, once it runs.
func helperPid(t *testing.T, n *testNode) int {
	t.Helper()
	var pid int
	waitFor(t, n.name+"'s helper running", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.remote != nil {
			pid = n.remote.cmd.Process.Pid
		}
		return pid != 0
	}, n)
	return pid
}

// With helpers, a pair behaves as in one process: the election, a serial,
// a link going down (standby before SetLink returns), settings refused by
// the helper, and a clean stop handing over at once.
func TestHelperPair(t *testing.T) {
	a, b := directPair(t, func(sa, sb *Settings) {
		sb.Deadtime = 5 * time.Second // so that only news can explain b's moves
	})
	a.helper, b.helper = helperCmd, helperCmd
	startPair(t, a, b)

	a.SetSerial(42)
	waitFor(t, "b sees serial 42", func() bool { return b.Status().Peer.Serial == 42 }, b)
	if st := b.Status(); st.Peer.Boot == 0 || st.Counters.Received == 0 || st.Peer.LastHeard.IsZero() {
		t.Errorf("b's view through its helper: %+v", st)
	}

	bad := b.set
	bad.Bind = a.set.Bind // a's helper holds it
	if err := b.Configure(bad); err == nil || !strings.Contains(err.Error(), "binding") {
		t.Errorf("b binding a's address: err = %v", err)
	}

	a.SetLink(false)
	if st := a.Status(); st.Role != Standby || !st.LinkDown || st.Reason != "link down" {
		t.Fatalf("a after SetLink(false): %+v", st)
	}
	waitFor(t, "b active", func() bool { return b.is(Active) }, b)
	if st := b.Status(); st.Reason != "peer 127.0.0.1 has a link down" {
		t.Errorf("b active for %q", st.Reason)
	}
	// a decides on its last news of b when its link comes back: wait for
	// news of b active, or a (the primary) would take over at once.
	waitFor(t, "a hears b active", func() bool {
		st := a.Status()
		return st.Peer.Role == Active && st.Peer.Heard
	}, a, b)
	a.SetLink(true)
	waitFor(t, "a standby with its link up, b's heartbeats heard", func() bool {
		st := a.Status()
		return !st.LinkDown && st.Peer.Role == Active && st.Peer.Heard
	}, a, b)

	b.stop(t)
	waitFor(t, "a active", func() bool { return a.is(Active) }, a)
	if st := a.Status(); st.Reason != "peer leaving" {
		t.Errorf("a active for %q, want the goodbye", st.Reason)
	}
	if st := b.Status(); st.Reason != "stopped: asked the peer to take over" || st.Role != Standby {
		t.Errorf("b after its Run: %+v", st)
	}
}

// The pin travels through the helpers too (their Settings and Status).
func TestHelperConsolePin(t *testing.T) {
	a, b := directPair(t, func(sa, sb *Settings) { sa.ConsolePin = [32]byte{0: 1, 31: 1} })
	a.helper, b.helper = helperCmd, helperCmd
	startPair(t, a, b)
	testConsolePin(t, a, b)
}

// Every thread of a helper runs at real-time priority, and it cannot run
// one without blocking for more than helperRTTime.
func TestHelperThreadsAreRealtime(t *testing.T) {
	testenv.Root(t) // SCHED_RR needs CAP_SYS_NICE
	a, _ := directPair(t, nil)
	a.helper = helperCmd
	a.start(t)
	pid := helperPid(t, a)
	waitFor(t, "a decided", func() bool { return a.Status().Decided }, a)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			t.Fatal(err)
		}
		if attr.Policy != unix.SCHED_RR || attr.Priority != rtPriority {
			t.Errorf("helper thread %d: policy %d priority %d, want SCHED_RR %d", tid, attr.Policy, attr.Priority, rtPriority)
		}
	}
	limits, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.FormatInt(int64(helperRTTime/time.Microsecond), 10)
	for _, l := range strings.Split(string(limits), "\n") {
		if strings.HasPrefix(l, "Max realtime timeout") {
			if f := strings.Fields(l); len(f) < 5 || f[3] != want || f[4] != want {
				t.Errorf("helper's %q, want %s us", l, want)
			}
		}
	}
}

// A helper that dies (kill -9) ends Run with an error, and the peer takes
// over after the dead time: nobody is sending heartbeats any more.
func TestHelperKilled(t *testing.T) {
	a, b := directPair(t, nil)
	a.helper = helperCmd
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	waitFor(t, "a active", func() bool { return a.is(Active) }, a)
	b.start(t)
	waitFor(t, "b standby", func() bool { return b.is(Standby) }, b)

	if err := syscall.Kill(helperPid(t, a), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ran:
		if err == nil || !strings.Contains(err.Error(), "heartbeat helper ended") {
			t.Errorf("a's Run: %v", err)
		}
	case <-time.After(patience):
		t.Fatal("a's Run did not end")
	}
	if st := a.Status(); st.Role != Standby || !strings.Contains(st.Reason, "heartbeat helper ended") {
		t.Errorf("a after its helper died: %+v", st)
	}
	waitFor(t, "b active", func() bool { return b.is(Active) }, b)
	if st := b.Status(); !strings.HasPrefix(st.Reason, "peer 127.0.0.1 silent for ") {
		t.Errorf("b active for %q, want silence", st.Reason)
	}
}

// A helper that cannot bind ends, and Run says why.
func TestHelperBindError(t *testing.T) {
	a, b := directPair(t, nil)
	a.start(t)
	waitFor(t, "a running", a.listening, a)
	s := b.set
	s.Bind = a.set.Bind
	n, err := New(s, Options{Helper: helperCmd})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listening for heartbeats on 127.0.0.1") {
		t.Errorf("Run with a helper on a taken address: %v", err)
	}
}
