//go:build guest

package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// keepalivedConfs is where the host put testdata/keepalived in the guest.
const keepalivedConfs = "/srv/keepalived"

// keepalivedExplained are the differences between keepalived's table and
// ours that are understood, by file: each says why.
var keepalivedExplained = map[string]string{}

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
	// Each file has a table: an empty one on both sides proves nothing.
	if err != nil || len(files) < 15 {
		t.Fatalf("%d keepalived configurations in %s (%v), want at least 15", len(files), keepalivedConfs, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".conf"), func(t *testing.T) {
			want := oursFromKeepalived(t, f)
			if len(want) == 0 {
				t.Fatalf("our import of %s has no IPVS table", f)
			}
			got, log := keepalivedTable(t, f)
			if !slices.Equal(got, want) {
				if why := keepalivedExplained[filepath.Base(f)]; why != "" {
					t.Logf("differs, as explained: %s", why)
					return
				}
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

// keepalivedTable runs keepalived with f in namespace k until it logs
// "Startup complete" (its table programmed: it logs that after
// "Initializing ipvs" and the services' quorum), and returns the table
// then and keepalived's log; it stops keepalived and clears the table
// after.
func keepalivedTable(t *testing.T, f string) ([]string, string) {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(f), ".conf")
	var log lockedBuffer
	cmd := exec.Command("ip", "netns", "exec", "k", "/usr/sbin/keepalived", "--check", "--dont-fork",
		"--log-console", "--use-file", f, "--pid", "/run/ka-"+name+".pid", "--checkers_pid", "/run/ka-"+name+"-checkers.pid")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting keepalived: %v", err)
	}
	defer func() {
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
	}()
	deadline := time.Now().Add(keepalivedWait)
	for !strings.Contains(log.String(), "Startup complete") {
		if time.Now().After(deadline) {
			t.Fatalf("keepalived did not complete its startup within %v; its log:\n%s", keepalivedWait, log.String())
		}
		time.Sleep(50 * time.Millisecond) // polling keepalived's log, with a deadline
	}
	return saved(t, "k"), log.String()
}

var keepalivedWait = 30 * time.Second
