//go:build unix

package main

import (
	"context"
	"io"
	"log/slog"
	"log/syslog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/store"
)

// TestAuditToSyslog: the stage sends the entries written after it started,
// and not those before, over a real syslog socket.
func TestAuditToSyslog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "lvs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Audit(ctx, store.AuditEntry{Kind: store.AuditLogin, Actor: "before"})

	sock := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w, err := syslog.Dial("unixgram", sock, syslog.LOG_AUTHPRIV|syslog.LOG_INFO, "lvsconsole")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := make(chan error, 1)
	go func() {
		started <- auditToSyslog(st, w, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))(sctx)
	}()
	// The stage reads the newest id when it starts: write until a line
	// comes, so that none is written before it.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	got := make(chan string)
	go func() {
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- string(buf[:n])
		}
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case line, ok := <-got:
			if !ok {
				t.Fatal("no syslog line in 10 seconds")
			}
			if strings.Contains(line, `actor="before"`) {
				t.Fatalf("an entry of before the stage started was sent: %s", line)
			}
			// <86>: authpriv (10) * 8 + info (6).
			if !strings.HasPrefix(line, "<86>") || !strings.Contains(line, `actor="alice" client="192.0.2.1" kind="login failed" detail="x \"y\""`) {
				t.Fatalf("syslog line %q", line)
			}
			cancel()
			if err := <-started; err != nil {
				t.Error(err)
			}
			return
		case <-tick.C:
			st.Audit(ctx, store.AuditEntry{Kind: store.AuditLoginFailed, Actor: "alice", Client: "192.0.2.1", Detail: `x "y"`})
		}
	}
}
