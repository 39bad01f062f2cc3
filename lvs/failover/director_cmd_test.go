//go:build linux

package failover_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/store"
)

// These tests run a Director without a backup (so it is active at once and
// runs active_cmd) over a real database, with the host's fakes of
// fakes_test.go (the configuration has no virtual server: no address is
// touched).

// soloDirector runs a Director whose active_cmd is activeCmd, and returns
// it with its store and log; it stops at the end of the test. beforeRun,
// if any, run once the configuration is saved and before the Director
// starts.
func soloDirector(t *testing.T, activeCmd string, timeout time.Duration, beforeRun ...func()) (*failover.Director, *store.Store, *syncBuffer) {
	t.Helper()
	testenv.Root(t) // a Director, and scripts the test writes as root's programs
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "lvs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, func(c *config.Config) error {
		c.Global.ActiveCmd = activeCmd
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, f := range beforeRun {
		f()
	}
	var logs syncBuffer
	j := &journal{}
	host, kernel, heartbeats := newFakeHost(j), newFakeIPVS(j), &fakePulse{j: j}
	d := failover.New(failover.Options{
		Source:    st,
		Addresses: host.Open, Announce: host.Announce, WatchLinks: host.WatchLinks, Forwarding: host.Forwarding,
		SyncDaemon: kernel.Dial, Heartbeat: heartbeats.New,
		Log: slog.New(slog.NewTextHandler(&logs, nil)), CommandTimeout: timeout,
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(timeout + 10*time.Second):
			t.Errorf("Run did not return %v after it was stopped", timeout+10*time.Second)
		}
	})
	return d, st, &logs
}

// groupGone waits for process group pgid to be empty: kill(-pgid, 0)
// answers ESRCH.
func groupGone(t *testing.T, pgid int, within time.Duration) {
	t.Helper()
	waitFor(t, within, "process group "+strconv.Itoa(pgid)+" gone", func() bool {
		return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
	})
}

// TestDirectorCommandDoesNotBlock: an active_cmd that leaves a process
// holding its output (for 20 s, or for ever, as a daemon started without
// detaching does) or that runs past its timeout does not hold up the
// director: it takes the next configuration at once, and what the
// command left is killed with its process group.
func TestDirectorCommandDoesNotBlock(t *testing.T) {
	for _, tc := range []struct{ name, cmd string }{
		{"backgrounds sleep 20", `/usr/bin/sh -c "echo $$ > %s; /usr/bin/sleep 20 &"`},
		{"leaves a daemon on its stdout", `/usr/bin/sh -c "echo $$ > %s; /usr/bin/sleep 600 &"`},
		{"runs past its timeout", `/usr/bin/sh -c "echo $$ > %s; exec /usr/bin/sleep 600"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			d, st, _ := soloDirector(t, strings.Replace(tc.cmd, "%s", pidFile, 1), 2*time.Second)
			waitFor(t, 10*time.Second, "active", func() bool { return d.Status().Role == failover.Active })
			var pid int
			waitFor(t, 10*time.Second, "active_cmd started", func() bool {
				b, err := os.ReadFile(pidFile)
				if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
					return false
				}
				pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
				return err == nil
			})
			cfg, err := st.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, func(c *config.Config) error {
				c.Global.InactiveCmd = "/usr/bin/true"
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			took := waitFor(t, 5*time.Second, "the director takes the next configuration", func() bool { return d.Status().Serial == cfg.Serial })
			t.Logf("the next configuration taken %v after it was saved, the command still running", took.Round(time.Millisecond))
			// Its group is killed: at once when the script ends (the
			// leftovers), at the timeout (2 s) when it does not.
			groupGone(t, pid, 10*time.Second)
		})
	}
}

// TestDirectorUntrustedCommand: an active_cmd that someone other than
// root could have written since it was saved (the store refuses it when
// it is untrusted already) is not run (the file it would write stays
// absent); the console's warnings and the log say why.
func TestDirectorUntrustedCommand(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "ran")
	prog := filepath.Join(open, "notify")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, _, logs := soloDirector(t, prog+" active", 2*time.Second, func() {
		if err := os.Chmod(open, 0o777); err != nil {
			t.Fatal(err)
		}
	})
	waitFor(t, 10*time.Second, "a warning about active_cmd", func() bool { return warning(d, "active_cmd") != "" })
	w := warning(d, "active_cmd")
	if !containsAll(w, []string{prog, "untrusted", "can write"}) {
		t.Errorf("the warning %q does not say the program is untrusted and why", w)
	}
	if !strings.Contains(logs.String(), "untrusted") {
		t.Errorf("the log does not say the program is untrusted:\n%s", logs)
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the untrusted active_cmd ran: %s exists (stat: %v)", marker, err)
	}
}

// TestDirectorCommandOutput: a command that fails after writing 300 MB
// leaves a warning of a few lines, with its exit status and the start of
// its output, and a log line with its output cut at 4 KiB a stream.
func TestDirectorCommandOutput(t *testing.T) {
	d, _, logs := soloDirector(t, `/usr/bin/sh -c "echo first line; echo second line >&2; /usr/bin/head -c 300000000 /dev/zero; exit 3"`, 30*time.Second)
	waitFor(t, 20*time.Second, "a warning about active_cmd", func() bool { return warning(d, "active_cmd") != "" })
	w := warning(d, "active_cmd")
	if len(w) > 1024 {
		t.Errorf("the warning is %d bytes long: %.200q...", len(w), w)
	}
	if !containsAll(w, []string{"exited 3", "second line"}) {
		t.Errorf("the warning %.300q does not give the exit status and the first lines", w)
	}
	waitFor(t, 5*time.Second, "the log line", func() bool { return strings.Contains(logs.String(), "bytes cut") })
	// 4 KiB of each stream, each byte at most 4 characters once escaped
	// (\x00), and the rest of the log.
	if n := len(logs.String()); n > 2*4*4<<10+4<<10 {
		t.Errorf("the log is %d bytes long", n)
	}
}
