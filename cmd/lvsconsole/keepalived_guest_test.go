//go:build guest

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

// keepalivedConfs is where the host put testdata/keepalived in the guest.
const keepalivedConfs = "/srv/keepalived"

// lockedBuffer keeps the last output of a program, bounded.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		l.b.Reset()
		l.b.WriteString("[... earlier output cut]\n")
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestGuestKeepalivedSameTable is the differential test of the keepalived
// importer: for each configuration of testdata/keepalived, keepalived
// 2.2 itself (checker only: every real server is in at start, since no
// file sets alpha, and their checks are slow to fail) programs IPVS in
// namespace "k"; our import of the same file, exported as ipvsadm-save,
// must be the same table, line for line after sorting. keepalived's table
// is read once it logs that its startup is complete.
func TestGuestKeepalivedSameTable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(keepalivedConfs, "*.conf"))
	if err != nil || len(files) < 15 {
		t.Fatalf("%d keepalived configurations in %s (%v), want at least 15", len(files), keepalivedConfs, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".conf"), func(t *testing.T) {
			want := oursFromKeepalived(t, f)
			if len(want) == 0 { // empty on both sides would prove nothing
				t.Fatalf("our import of %s has no IPVS table", f)
			}
			got, log := keepalivedTable(t, f)
			if !slices.Equal(got, want) {
				t.Errorf("keepalived programmed\n%s\nour import exports\n%s\nkeepalived's log:\n%s",
					strings.Join(got, "\n"), strings.Join(want, "\n"), log)
			}
		})
	}
}

// oursFromKeepalived imports f into a new database and returns its table
// as ipvsadm-save lines, sorted.
func oursFromKeepalived(t *testing.T, f string) []string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "lvs.db")
	if out, errOut, err := runCmd(t, "", "import", "-db", db, "-format", "keepalived", f); err != nil {
		t.Fatalf("import of %s: %v\n%s%s", f, err, out, errOut)
	}
	out, errOut, err := runCmd(t, "", "export", "-db", db, "-format", "ipvsadm")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, errOut)
	}
	return lineSet(out)
}

// keepalivedTable runs keepalived with f in namespace k and returns the
// table it programmed and its log.
func keepalivedTable(t *testing.T, f string) ([]string, string) {
	t.Helper()
	log, stop := startKeepalived(t, f)
	defer stop()
	return saved(t, "k"), log.String()
}

// startKeepalived runs keepalived (its checkers only) with f in namespace
// k until it logs "Startup complete" (its table programmed: it logs that
// after "Initializing ipvs" and the services' quorum). stop ends it and
// clears the table.
func startKeepalived(t *testing.T, f string) (log *lockedBuffer, stop func()) {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(f), ".conf")
	log = &lockedBuffer{}
	cmd := exec.Command("ip", "netns", "exec", "k", "/usr/sbin/keepalived", "--check", "--dont-fork",
		"--log-console", "--use-file", f, "--pid", "/run/ka-"+name+".pid", "--checkers_pid", "/run/ka-"+name+"-checkers.pid")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting keepalived: %v", err)
	}
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		ipvsadm(t, "k", nil, "-C")
	}
	deadline := time.Now().Add(keepalivedWait)
	for !strings.Contains(log.String(), "Startup complete") {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("keepalived did not complete its startup within %v; its log:\n%s", keepalivedWait, log.String())
		}
		time.Sleep(50 * time.Millisecond) // polling keepalived's log, with a deadline
	}
	return log, stop
}

// TestGuestKeepalivedAdopt: lvsconsole adopt takes the table keepalived
// programmed (for each file, into a new database), and then the
// engine's reconcile changes nothing of it: lvsconsole plan has nothing to
// do, and engine.Reconcile makes no change.
func TestGuestKeepalivedAdopt(t *testing.T) {
	dial := func() (*ipvs.Client, error) { return dialNS("k") }
	cmd := func(t *testing.T, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, stdinFd: -1, dial: dial}
		if err := run(context.Background(), e, args); err != nil {
			t.Fatalf("lvsconsole %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	for _, name := range []string{"01-nat-rr", "02-dr-persistence", "06-ipv6", "08-sh-flags", "09-udp-ops", "13-thresholds", "15-several"} {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "lvs.db")
			_, stop := startKeepalived(t, filepath.Join(keepalivedConfs, name+".conf"))
			defer stop()
			before := saved(t, "k")
			out := cmd(t, "adopt", "-yes", "-db", db)
			if plan := cmd(t, "plan", "-db", db); !strings.Contains(plan, "nothing to do") {
				t.Errorf("after adopt:\n%s\nlvsconsole plan:\n%s", out, plan)
			}
			st, err := store.Open(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			cfg, err := st.Config(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c, err := dialNS("k")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res, err := engine.Reconcile(context.Background(), c, st, engine.Desired(cfg, engine.Configured{}), nil)
			if err != nil || len(res.Changes) != 0 || len(res.Errors) != 0 {
				t.Errorf("the reconcile after adopt: %v, changes %v, errors %v", err, res.Changes, res.Errors)
			}
			if after := saved(t, "k"); !slices.Equal(before, after) {
				t.Errorf("the table changed:\n%s\nnow\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
			}
		})
	}
}

var keepalivedWait = 30 * time.Second

// TestGuestKeepalivedExport: the keepalived.conf lvsconsole export
// writes (-format keepalived) makes keepalived program the table the
// configuration asks for (export -format ipvsadm): for each file of the
// corpus, imported, exported, and run by keepalived.
func TestGuestKeepalivedExport(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(keepalivedConfs, "*.conf"))
	if err != nil || len(files) < 15 {
		t.Fatalf("%d keepalived configurations in %s (%v), want at least 15", len(files), keepalivedConfs, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".conf"), func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "lvs.db")
			if out, errOut, err := runCmd(t, "", "import", "-db", db, f); err != nil {
				t.Fatalf("import: %v\n%s%s", err, out, errOut)
			}
			conf := filepath.Join(dir, "exported.conf")
			if out, errOut, err := runCmd(t, "", "export", "-db", db, "-format", "keepalived", "-node", "primary", "-o", conf); err != nil {
				t.Fatalf("export: %v\n%s%s", err, out, errOut)
			}
			if err := os.Chmod(conf, 0o644); err != nil {
				t.Fatal(err)
			}
			want, errOut, err := runCmd(t, "", "export", "-db", db, "-format", "ipvsadm")
			if err != nil {
				t.Fatalf("export: %v\n%s", err, errOut)
			}
			got, log := keepalivedTable(t, conf)
			if w := lineSet(want); !slices.Equal(got, w) {
				data, _ := os.ReadFile(conf)
				t.Errorf("keepalived with our export programmed\n%s\nwe want\n%s\nthe file:\n%s\nkeepalived's log:\n%s",
					strings.Join(got, "\n"), strings.Join(w, "\n"), data, log)
			}
		})
	}
}
