package failover

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
)

// Most tests here need root, network namespaces or nftables: see
// internal/testenv.
func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// warnings records what a commands runner warns, by topic.
type warnings struct {
	mu sync.Mutex
	m  map[string]string
}

func (w *warnings) set(topic, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]string{}
	}
	w.m[topic] = msg
}

func (w *warnings) get(topic string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m[topic]
}

func testCommands(t *testing.T, w *warnings) *commands {
	t.Helper()
	testenv.Root(t) // its programs are scripts the test writes, so root's
	return newCommands(slog.New(slog.NewTextHandler(io.Discard, nil)), w.set, 10*time.Second)
}

// writeScript writes an executable /bin/sh script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// await polls cond until it holds or the deadline passes.
func await(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(within)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

// TestCommandsBurst: a burst of role changes runs only the command of the
// role it ends in, and nothing when that role's command is the last that
// ran to success; never a queue of them.
func TestCommandsBurst(t *testing.T) {
	var w warnings
	c := testCommands(t, &w)
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	note := writeScript(t, dir, "note", `echo "$1" >> "`+ran+`"`+"\n")
	runAll := func() {
		// run returns once what waits has run (close was called).
		done := make(chan struct{})
		go func() { defer close(done); c.run(context.Background()) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("the runner did not finish within 20 s")
		}
	}
	c.close()
	c.want(Active, "active_cmd", []string{note, "a1"})
	c.want(Standby, "inactive_cmd", []string{note, "s1"})
	c.want(Active, "active_cmd", []string{note, "a2"})
	runAll()
	// Active again, and back, before anything ran: active_cmd is still in
	// effect.
	c.want(Standby, "inactive_cmd", []string{note, "s2"})
	c.want(Active, "active_cmd", []string{note, "a3"})
	runAll()
	c.want(Standby, "inactive_cmd", []string{note, "s3"})
	runAll()
	b, _ := os.ReadFile(ran)
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "a2 s3" {
		t.Errorf("ran %q, want a2 s3", got)
	}
}

// TestCommandsRoleChangeKills: an active_cmd still running when the
// director becomes standby is killed (its group gone) before inactive_cmd
// starts; the warning says so.
func TestCommandsRoleChangeKills(t *testing.T) {
	var w warnings
	c := testCommands(t, &w)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	dir := t.TempDir()
	pidFile, seen := filepath.Join(dir, "pid"), filepath.Join(dir, "seen")
	hang := writeScript(t, dir, "hang", "echo $$ > \""+pidFile+".tmp\"\nmv \""+pidFile+".tmp\" \""+pidFile+"\"\nexec /usr/bin/sleep 600\n")
	// inactive_cmd records whether the active_cmd's group still exists.
	look := writeScript(t, dir, "look", `if kill -0 -- "-$(cat `+pidFile+`)" 2>/dev/null; then echo alive; else echo gone; fi > "`+seen+`.tmp"`+"\nmv \""+seen+".tmp\" \""+seen+"\"\n")

	c.want(Active, "active_cmd", []string{hang})
	await(t, 10*time.Second, "active_cmd started", func() bool { _, err := os.Stat(pidFile); return err == nil })
	start := time.Now()
	c.want(Standby, "inactive_cmd", []string{look})
	await(t, 10*time.Second, "inactive_cmd ran", func() bool { _, err := os.Stat(seen); return err == nil })
	t.Logf("inactive_cmd ran %v after the role change", time.Since(start).Round(time.Millisecond))
	if b, _ := os.ReadFile(seen); strings.TrimSpace(string(b)) != "gone" {
		t.Errorf("inactive_cmd saw active_cmd's process group %s", b)
	}
	if got := w.get("active_cmd"); !strings.Contains(got, "killed with its process group: this director became standby") {
		t.Errorf("active_cmd's warning %q does not say it was killed for the role change", got)
	}
}

// TestCommandsWarnings: a failing command's warning gives its exit status
// and its first lines, printable, in a few hundred bytes; a success clears
// it; an untrusted program is not run.
func TestCommandsWarnings(t *testing.T) {
	var w warnings
	c := testCommands(t, &w)
	dir := t.TempDir()
	fail := writeScript(t, dir, "fail", "echo 'no route' >&2\nprintf 'one\\n\\001two\\n\\nthree\\nfour\\n'\n/usr/bin/head -c 100000 /dev/zero\nexit 4\n")
	c.close()
	c.want(Active, "active_cmd", []string{fail, "x"})
	c.run(context.Background())
	got := w.get("active_cmd")
	want := `active_cmd "` + fail + ` x" exited 4: no route | one | \x01two ...`
	if got != want {
		t.Errorf("warning\n%q, want\n%q", got, want)
	}
	c.want(Standby, "inactive_cmd", []string{"/usr/bin/true"})
	c.want(Active, "active_cmd", []string{"/usr/bin/true"})
	c.run(context.Background())
	if got := w.get("active_cmd"); got != "" {
		t.Errorf("warning %q after a success", got)
	}
}
