//go:build guest

package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/drain"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

// drainWriter is the Store serve gives lvs/drain.
type drainWriter struct{ st *store.Store }

func (w drainWriter) Update(ctx context.Context, author, note string, fn func(*config.Config) error) error {
	_, err := w.st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: author, Note: note}, fn)
	return err
}

// TestGuestDrainEndsWithItsConnection: on the real kernel (namespaces cli
// - dir - r1, r2 of kernel_test.go), a real server with an established
// connection through a NAT service is drained: IPVS gives it weight 0
// (ipvsadm, an independent reader, says so), new connections go to the
// other server, the established one keeps working, and the server stays
// active while IPVS counts it; when the client closes it, lvs/drain
// deactivates the server (a revision by drain.Author) and the engine takes it
// out of the table.
func TestGuestDrainEndsWithItsConnection(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A service of its own: TestGuestQuiescedServersBringTheSorryServer
	// leaves r2:8081 in IPVS's trash of destinations, with its connections,
	// which a new 10.1.0.1:8081 -> r2:8081 would take back.
	const port = 8089
	for _, ns := range []string{"r1", "r2"} {
		var ln net.Listener
		if err := netns.Do(ns, func() (err error) { ln, err = net.Listen("tcp", fmt.Sprint(":", port)); return err }); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { // greets with its name, then echoes lines
					defer c.Close()
					fmt.Fprintln(c, ns)
					sc := bufio.NewScanner(c)
					for sc.Scan() {
						fmt.Fprintln(c, sc.Text())
					}
				}()
			}
		}()
	}

	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "drain.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Global.Network = config.NAT
	vs := config.NewVirtual("drained")
	vs.Active, vs.Address, vs.Port, vs.Scheduler = true, netip.MustParseAddr("10.1.0.1"), port, "rr"
	vs.Reals = []config.RealServer{
		{Name: "r1", Active: true, Address: netip.MustParseAddr("192.168.10.11"), Weight: 3},
		{Name: "r2", Active: true, Address: netip.MustParseAddr("192.168.10.12"), Weight: 3},
	}
	cfg.Virtuals = []config.VirtualServer{vs}
	if _, err := st.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, cfg); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/run/netns/dir")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := engine.New(engine.Options{Source: st, Ledger: st, Log: quiet, Sample: 200 * time.Millisecond,
		Dial: func() (engine.Kernel, error) { return ipvs.Dial(&ipvs.Options{NetNS: int(f.Fd())}) }})
	drainer := drain.New(drain.Options{Source: st, Kernel: eng, Store: drainWriter{st}, Every: 100 * time.Millisecond, Log: quiet})
	done := make(chan struct{}, 2)
	go func() { eng.Run(ctx); done <- struct{}{} }()
	go func() { drainer.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()

	poll := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s; ipvsadm -Ln:\n%s", what, ipvsadm(t))
			}
			time.Sleep(50 * time.Millisecond) // polling the kernel and the store, with a deadline
		}
	}
	weights := func() map[string]int {
		m := map[string]int{}
		re := regexp.MustCompile(`->\s+(192\.168\.10\.1[12]):` + strconv.Itoa(port) + `\s+Masq\s+(\d+)`)
		for _, l := range re.FindAllStringSubmatch(ipvsadm(t), -1) {
			m[l[1]], _ = strconv.Atoi(l[2])
		}
		return m
	}
	poll("both real servers in IPVS", 30*time.Second, func() bool {
		w := weights()
		return w["192.168.10.11"] == 3 && w["192.168.10.12"] == 3
	})

	dial := func() (net.Conn, *bufio.Reader, string) {
		t.Helper()
		var c net.Conn
		if err := netns.Do("cli", func() (err error) {
			c, err = net.DialTimeout("tcp", fmt.Sprint("10.1.0.1:", port), 5*time.Second)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		r := bufio.NewReader(c)
		name, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the greeting: %v", err)
		}
		return c, r, strings.TrimSpace(name)
	}
	conn, r, name := dial()
	defer conn.Close()
	other := map[string]string{"r1": "r2", "r2": "r1"}[name]
	addr := map[string]string{"r1": "192.168.10.11", "r2": "192.168.10.12"}[name]
	t.Logf("the established connection is to %s (%s)", name, addr)
	real := func() config.RealServer {
		c, err := st.Config(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return *c.Virtual("drained").Real(name)
	}

	if _, err := st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "operator"}, func(c *config.Config) error {
		c.Virtual("drained").Real(name).StartDrain()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	poll(name+" at weight 0 in IPVS", 30*time.Second, func() bool { w, ok := weights()[addr]; return ok && w == 0 })
	if w := weights()[map[string]string{"r1": "192.168.10.12", "r2": "192.168.10.11"}[name]]; w != 3 {
		t.Errorf("%s's weight is %d, want 3", other, w)
	}
	for range 3 {
		c, _, got := dial()
		c.Close()
		if got != other {
			t.Errorf("a new connection went to %s while it drains, want %s", got, other)
		}
	}
	fmt.Fprintln(conn, "still there?")
	if line, err := r.ReadString('\n'); err != nil || line != "still there?\n" {
		t.Fatalf("the established connection broke when its server began draining: %q %v", line, err)
	}
	// Samples after the weight 0, counting the connection: it goes on.
	for range 3 {
		was := eng.Status().Sampled
		poll("a sample", 30*time.Second, func() bool { return eng.Status().Sampled.After(was) })
	}
	if rs := real(); !rs.Active || !rs.Draining || rs.Weight != 3 {
		t.Fatalf("with its connection open %s is %+v: want active, draining, weight 3", name, rs)
	}
	t.Logf("draining with its connection open:\n%s", ipvsadm(t))

	// The client resets the connection: IPVS keeps the entry in CLOSE
	// for its 10 s (a FIN would leave it in TIME_WAIT for 2 minutes),
	// counted as inactive until then.
	closed := time.Now()
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
	poll(name+" deactivated by the drain", 90*time.Second, func() bool { return !real().Active })
	t.Logf("deactivated %v after the connection closed", time.Since(closed).Round(100*time.Millisecond))
	if rs := real(); rs.Draining || rs.Weight != 3 {
		t.Errorf("deactivated, %s is %+v: want no drain, weight 3", name, rs)
	}
	revs, err := st.Revisions(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if revs[0].Author != drain.Author || !strings.Contains(revs[0].Summary, "its connections ended") {
		t.Errorf("the last revision is %+v, want the drain's", revs[0])
	}
	poll(name+" out of IPVS", 30*time.Second, func() bool { _, ok := weights()[addr]; return !ok })
}

// ipvsadm is ipvsadm -Ln in the director's namespace.
func ipvsadm(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", "dir", "ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Ln: %v\n%s", err, out)
	}
	return string(out)
}
