package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServe runs serve in-process on db until the test ends, and returns
// once it listens; stop stops it and returns what serve returned.
func startServe(t *testing.T, db string, args ...string) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: pw, stdinFd: -1}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, e, append([]string{"serve", "-db", db, "-listen", "127.0.0.1:0"}, args...))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	listening := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "console listening") {
			listening = true
			break
		}
	}
	go io.Copy(io.Discard, pr)
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	if !listening {
		t.Fatalf("serve did not start: %v", stop())
	}
	return stop
}

// TestStatusThroughServe: status asks the running serve, through the
// socket next to its database, and prints the table it has (here, on a
// kernel without IPVS, the one it would program, and why), the engine's
// state and the director's; once serve has stopped, the socket is gone
// and status reads the kernel, which fails here, saying both.
func TestStatusThroughServe(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	src := filepath.Join("..", "..", "lvs", "lvscf", "testdata", "piranha-example.cf")
	if _, _, err := runCmd(t, "", "import", "-db", db, src); err != nil {
		t.Fatal(err)
	}
	stop := startServe(t, db, "-failover=false")

	sock := filepath.Join(dir, "lvs.sock")
	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatalf("serve made no local socket: %v", err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("local socket %s is %v, want a socket with mode 0600", sock, fi.Mode())
	}
	// The engine reconciles once it runs: wait for its first verdict.
	var out, stderr string
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, stderr, err = runCmd(t, "", "status", "-db", db)
		if err != nil {
			t.Fatalf("status through serve: %v (%s)", err, stderr)
		}
		if strings.Contains(out, "The table it would program") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		"IPVS: IPVS is not available in this kernel",
		"The table it would program:\nProt LocalAddress:Port Scheduler Flags\n",
		"Engine: IPVS not available, serial 12 applied",
		"Director: failover is off (lvsconsole serve -failover=false), configuration serial 12\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status through serve lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(stderr, "not running") {
		t.Errorf("status through serve says serve is not running: %s", stderr)
	}
	out, _, err = runCmd(t, "", "status", "-db", db, "-stats")
	if err != nil || !strings.Contains(out, "Conns   InPkts  OutPkts  InBytes OutBytes") {
		t.Errorf("status -stats through serve: %v\n%s", err, out)
	}

	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after a clean stop", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the local socket outlived serve: %v", err)
	}
	_, _, err = runCmd(t, "", "status", "-db", db)
	if err == nil || !strings.Contains(err.Error(), "lvsconsole serve is not running") || !strings.Contains(err.Error(), "IPVS is not available") {
		t.Errorf("status with no serve and no IPVS: %v", err)
	}
}

// TestServeRefusesASecondServe: a second serve on the same database finds
// the first one's socket alive and stops, rather than fight over IPVS.
func TestServeRefusesASecondServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lvs.db")
	startServe(t, db, "-failover=false")
	_, _, err := runCmd(t, "", "serve", "-db", db, "-listen", "127.0.0.1:0", "-failover=false")
	if err == nil || !strings.Contains(err.Error(), "another lvsconsole serve is running") {
		t.Errorf("a second serve on the same database: %v", err)
	}
}

// TestLocalSocket: a socket left by a crash is replaced; a live one is not;
// something else at the path is left alone; stop removes the socket.
func TestLocalSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.sock")
	ctx := context.Background()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

	// What a crash leaves: the file, and nobody listening.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()

	stop, err := startLocal(ctx, path, ok, quiet)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := c.Get("http://x/")
	if err != nil {
		t.Fatalf("the new socket does not answer: %v", err)
	}
	resp.Body.Close()
	c.CloseIdleConnections()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v (%v), want 0600", fi.Mode(), err)
	}

	if _, err := startLocal(ctx, path, ok, quiet); !errors.Is(err, errAnotherServe) {
		t.Errorf("over a live socket: %v, want errAnotherServe", err)
	}
	stop()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stop left the socket: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}

	// Not a socket: left alone, and serve goes on without one.
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop, err = startLocal(ctx, path, ok, quiet)
	if err != nil {
		t.Fatalf("over a regular file: %v, want a warning only", err)
	}
	stop()
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Errorf("a regular file at the socket's path was touched: %q %v", b, err)
	}
}

type fixedEngine engine.Status

func (f fixedEngine) Status() engine.Status { return engine.Status(f) }

type fixedDirector failover.Status

func (f fixedDirector) Status() failover.Status   { return failover.Status(f) }
func (fixedDirector) Events(int) []failover.Event { return nil }

// TestStatusOutput: what a director with IPVS and a peer prints, through
// the real socket and JSON: the kernel's table as ipvsadm -Ln, then the
// engine and the pair.
func TestStatusOutput(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	serial, err := st.Serial(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	now := time.Date(2026, 11, 22, 12, 5, 0, 0, time.Local)
	www := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 80}
	kernel := &engine.Table{Services: []*engine.Service{{
		Service: ipvs.Service{ServiceKey: www, Scheduler: "wlc", Stats: ipvs.Stats{Conns: 1 << 33, InPkts: 5}},
		Dests: []ipvs.Destination{{Addr: netip.MustParseAddr("192.168.1.1"), Port: 80, Forward: ipvs.DirectRoute, Weight: 3,
			ActiveConns: 12, InactiveConns: 4, Stats: ipvs.Stats{Conns: 1 << 32}}},
	}}}
	eng := fixedEngine{Running: true, Available: true, Serial: serial, LastRun: now.Add(-2 * time.Second),
		Desired: &engine.Table{Services: []*engine.Service{{Service: ipvs.Service{ServiceKey: www}, Virtual: "www"}}},
		Kernel:  kernel}
	fo := failover.Status{Pair: true, Role: failover.Active, Since: time.Date(2026, 11, 22, 12, 3, 4, 0, time.Local),
		Reason: "peer 10.0.0.2 is standby and we are primary", Primary: true, Self: netip.MustParseAddr("10.0.0.1"),
		Serial: serial, VIPs: []string{"10.0.0.100/24 on eth0 label eth0:1"}}
	fo.Pulse.Peer = pulse.PeerStatus{Addr: netip.MustParseAddr("10.0.0.2"), Role: pulse.Standby, Serial: serial,
		Heard: true, LastHeard: now.Add(-150 * time.Millisecond)}
	fo.Pulse.Counters = pulse.Counters{BadAuth: 2}

	h := handlers.NewLocal(handlers.LocalOptions{
		Store: st, Log: quiet, Engine: eng, Failover: fixedDirector(fo), Now: func() time.Time { return now },
		Info: func(context.Context) (ipvs.Info, error) {
			return ipvs.Info{Version: 0x010201, ConnTableSize: 4096}, nil
		},
	})
	stop, err := startLocal(context.Background(), localSocket(db), h, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	out, stderr, err := runCmd(t, "", "status", "-db", db)
	if err != nil {
		t.Fatalf("status: %v (%s)", err, stderr)
	}
	s := strconv.FormatInt(serial, 10)
	want := "IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
		"TCP  10.0.0.100:80 wlc\n" +
		"  -> 192.168.1.1:80               Route   3      12         4         \n" +
		"\n" +
		"Engine: programming IPVS, serial " + s + " applied, last run 12:04:58\n" +
		"Director: active (primary 10.0.0.1) since 12:03:04: peer 10.0.0.2 is standby and we are primary\n" +
		"Peer: 10.0.0.2 standby, last heartbeat 0.15s ago, serial " + s + " (same)\n" +
		"Heartbeats refused: 2 bad authentication, 0 unknown source, 0 replayed, 0 malformed\n" +
		"Addresses: 10.0.0.100/24 on eth0 label eth0:1\n"
	if out != want {
		t.Errorf("status printed\n%s\nwant\n%s", out, want)
	}
	// The 64-bit counters come through JSON whole.
	out, _, err = runCmd(t, "", "status", "-db", db, "-stats")
	if err != nil || !strings.Contains(out, "8589934592") || !strings.Contains(out, "4294967296") {
		t.Errorf("status -stats: %v\n%s", err, out)
	}
}
