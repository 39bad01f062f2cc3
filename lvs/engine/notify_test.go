//go:build !guest

package engine

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// switchHealth is a Health whose answers the test changes.
type switchHealth struct {
	mu sync.Mutex
	h  fakeHealth
}

func (s *switchHealth) set(h fakeHealth) { s.mu.Lock(); s.h = h; s.mu.Unlock() }
func (s *switchHealth) Weight(vs *config.VirtualServer, rs *config.RealServer) (int32, Presence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h.Weight(vs, rs)
}
func (s *switchHealth) Configure(*config.Config) {}

// script writes an executable /bin/sh script into dir: under t.TempDir,
// root's and private, so proc.Trusted lets root run it.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func readLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
}

// TestEngineQuorumAndNotifyPrograms: over the store and the fake kernel,
// real servers failing take the service below its quorum: the sorry server
// comes in, quorum_down and each notify_down run (real programs, run as
// root); the hysteresis holds the sorry server until quorum+hysteresis is
// back, then quorum_up runs.
func TestEngineQuorumAndNotifyPrograms(t *testing.T) {
	testenv.Root(t) // the programs are scripts the test writes, so root's
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	note := script(t, dir, "note", `echo "$*" >> "`+ran+`"`+"\n")
	cfg := quorumConfig()
	vs := &cfg.Virtuals[0]
	vs.QuorumUp, vs.QuorumDown = note+" quorum-up", note+" quorum-down"
	for i := range vs.Reals {
		rs := &vs.Reals[i]
		rs.NotifyUp, rs.NotifyDown = note+" up-"+rs.Name, note+" down-"+rs.Name
	}
	st := openStore(t)
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, cfg); err != nil {
		t.Fatal(err)
	}
	k, c := fakeKernel(t)
	h := &switchHealth{h: upHealth("r1", "r2", "r3", "r4")}
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil }, Health: h, Log: quiet()})
	defer e.Close()
	key := Desired(cfg, Configured{}).Services[0].ServiceKey
	sorry := netip.AddrPortFrom(a("10.0.0.99"), 80)
	step := func(up []string, wantSorry bool, wantReals int, wantRan string) {
		t.Helper()
		h.set(upHealth(up...))
		e.Reconcile(ctx)
		e.notify.wait()
		d := destsOf(k, key)
		_, in := d[sorry]
		if in != wantSorry || len(d) != wantReals+map[bool]int{true: 1}[in] {
			t.Errorf("up %v: the kernel holds %v, want the sorry server %v and %d real servers", up, d, wantSorry, wantReals)
		}
		// Servers run their programs side by side: in any order.
		got := readLines(t, ran)
		want := strings.Fields(wantRan)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("up %v: ran %q, want %q", up, got, want)
		}
		os.Remove(ran)
	}
	step([]string{"r1", "r2", "r3", "r4"}, false, 4, "up-r1 up-r2 up-r3 up-r4")
	step([]string{"r1", "r2"}, false, 2, "down-r3 down-r4")
	step([]string{"r1"}, true, 0, "down-r2 quorum-down")
	step([]string{"r1", "r2", "r3"}, true, 0, "up-r2 up-r3")
	step([]string{"r1", "r2", "r3", "r4"}, false, 4, "up-r4 quorum-up")
}

// TestEngineDoesNotWaitForPrograms: a quorum_down that runs long does not
// hold the engine: the reconcile that lost the quorum has put the sorry
// server in while the program still runs; Close kills it.
func TestEngineDoesNotWaitForPrograms(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	marks := filepath.Join(dir, "marks")
	slow := script(t, dir, "slow", `echo started >> "`+marks+`"; sleep 60; echo finished >> "`+marks+`"`+"\n")
	cfg := quorumConfig()
	cfg.Virtuals[0].QuorumUp, cfg.Virtuals[0].QuorumDown = "", slow
	for i := range cfg.Virtuals[0].Reals {
		cfg.Virtuals[0].Reals[i].NotifyUp, cfg.Virtuals[0].Reals[i].NotifyDown = "", ""
	}
	st := openStore(t)
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, cfg); err != nil {
		t.Fatal(err)
	}
	k, c := fakeKernel(t)
	h := &switchHealth{h: upHealth("r1", "r2", "r3", "r4")}
	e := New(Options{Source: st, Ledger: st, Dial: func() (Kernel, error) { return c, nil }, Health: h, Log: quiet()})
	e.Reconcile(ctx)
	h.set(upHealth())
	e.Reconcile(ctx)
	key := Desired(cfg, Configured{}).Services[0].ServiceKey
	if d := destsOf(k, key); len(d) != 1 {
		t.Errorf("after the quorum was lost the kernel holds %v, want the sorry server", d)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for strings.Join(readLines(t, marks), " ") != "started" {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("quorum_down did not start: %q", readLines(t, marks))
		}
	}
	closed := make(chan struct{})
	go func() { e.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not kill the running program")
	}
	if got := readLines(t, marks); strings.Join(got, " ") != "started" {
		t.Errorf("marks %q: the program was not killed", got)
	}
}

// TestNotifierOneAtATimePerServer: a server's programs run one after
// another, in order; of those that wait only the latest runs, and none
// when it is the program that last ran (down and up again before
// notify_down started); another server's run beside.
func TestNotifierOneAtATimePerServer(t *testing.T) {
	testenv.Root(t)
	dir := t.TempDir()
	log, gate := filepath.Join(dir, "log"), filepath.Join(dir, "gate")
	// Each run logs its start, waits for the gate (polling inside the
	// script), and logs its end.
	step := script(t, dir, "step", `echo "$1-start" >> "`+log+`"
while [ ! -e "`+gate+`" ]; do sleep 0.01; done
echo "$1-end" >> "`+log+`"
`)
	n := newNotifier(context.Background(), quiet())
	ev := func(real, field, arg string) event {
		return event{Field: field, Virtual: "web", Real: real, Command: step + " " + arg}
	}
	n.post([]event{ev("r1", "notify_up", "up1")})
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !slices.Contains(readLines(t, log), "up1-start") {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the first program did not start: %q", readLines(t, log))
		}
	}
	// While up1 runs: r1 down and up again, then down for good; r2 up.
	n.post([]event{ev("r1", "notify_down", "down1"), ev("r1", "notify_up", "up2")})
	n.post([]event{ev("r1", "notify_down", "down2"), ev("r2", "notify_up", "r2up")})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n.wait()
	var r1 []string
	for _, l := range readLines(t, log) {
		if !strings.HasPrefix(l, "r2") {
			r1 = append(r1, l)
		}
	}
	if want := "up1-start up1-end down2-start down2-end"; strings.Join(r1, " ") != want {
		t.Errorf("r1 ran %q, want %q", r1, want)
	}
	if got := readLines(t, log); !slices.Contains(got, "r2up-end") {
		t.Errorf("r2's program did not run: %q", got)
	}

	// Down and up again while notify_up runs: nothing more.
	os.Remove(gate)
	os.Remove(log)
	n.post([]event{ev("r3", "notify_up", "up3")})
	for !slices.Contains(readLines(t, log), "up3-start") {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("r3's program did not start: %q", readLines(t, log))
		}
	}
	n.post([]event{ev("r3", "notify_down", "down3"), ev("r3", "notify_up", "up4")})
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n.wait()
	if got, want := strings.Join(readLines(t, log), " "), "up3-start up3-end"; got != want {
		t.Errorf("r3 ran %q, want %q", got, want)
	}
}
