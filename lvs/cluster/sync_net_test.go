package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/lvs/bgp"
	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/netif"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestSyncThreeDirectors: three directors, each a real store (an SQLite
// file) served by the real console (handlers.New, with the peer secret)
// on its own loopback address, all on the same port, each running a
// Cluster. Their configurations start in conflict (each edited at the
// same serial): the lowest address's wins on all three; then an edit made
// on the third reaches the other two, and so does an admin user made on
// the director the others follow.
func TestSyncThreeDirectors(t *testing.T) {
	// The directors listed, and the loopback addresses they listen on
	// (a list of directors refuses loopback addresses).
	addrs := []netip.Addr{netip.MustParseAddr("10.19.0.1"), netip.MustParseAddr("10.19.0.2"), netip.MustParseAddr("10.19.0.3")}
	loop := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	lns, port := listenAll(t, loop)
	peerURL := func(a netip.Addr) string {
		return "http://" + net.JoinHostPort(loop[slices.Index(addrs, a)].String(), strconv.Itoa(int(port)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	secret := bytes.Repeat([]byte("s"), 32)
	stores := make([]*store.Store, len(addrs))
	clusters := make([]*cluster.Cluster, len(addrs))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i, a := range addrs {
		st, err := store.Open(ctx, filepath.Join(t.TempDir(), "lvs.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := st.SetPeerSecret(ctx, secret); err != nil {
			t.Fatal(err)
		}
		// The same serial on all three (2), with different contents.
		if _, err := st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
			c.Global.Primary = a
			c.Redundancy.Cluster = true
			c.Redundancy.ClusterDirectors = fmt.Sprint(addrs[0], " ", addrs[1], " ", addrs[2])
			c.Redundancy.BGPAS = 65010
			c.Redundancy.BGPPeers = "192.0.2.254 65000"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		stores[i] = st
		clusters[i] = cluster.New(cluster.Options{
			Source:        st,
			Engine:        noEngine{},
			Addresses:     func() (cluster.Addresses, error) { return noAddrs{}, nil },
			HostAddrs:     func() ([]netip.Addr, error) { return []netip.Addr{a}, nil },
			NewSpeaker:    func(bgp.Config, *slog.Logger) (cluster.Speaker, error) { return idleSpeaker{}, nil },
			PeerURL:       peerURL,
			SyncEvery:     100 * time.Millisecond,
			AccountsEvery: 100 * time.Millisecond,
			Log:           log,
		})
		console, err := handlers.New(ctx, handlers.Options{Store: st, Log: log, Cluster: clusters[i]})
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: console, ReadHeaderTimeout: 5 * time.Second}
		wg.Add(2)
		go func() { defer wg.Done(); srv.Serve(lns[i]) }()
		go func() {
			defer wg.Done()
			clusters[i].Run(ctx)
			srv.Close()
		}()
	}

	// The conflict: 127.0.0.1's configuration wins, past serial 2.
	same := func(what string, want func(c *config.Config) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			var got []string
			ok := true
			for _, st := range stores {
				c, err := st.Config(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("serial %d primary %v", c.Serial, c.Global.Primary))
				ok = ok && want(c)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the directors have %q", what, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	same("the conflict settled", func(c *config.Config) bool { return c.Serial == 3 && c.Global.Primary == addrs[0] })
	warned := false
	for _, c := range clusters[1:] {
		for _, w := range c.Status().Warnings {
			warned = warned || bytes.Contains([]byte(w), []byte("had another configuration"))
		}
	}
	if !warned {
		t.Error("no director warned of the conflict")
	}

	// An edit on the third reaches the others.
	edited := time.Now()
	if _, err := stores[2].Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Global.Primary = netip.MustParseAddr("10.0.0.9")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	same("the edit synced", func(c *config.Config) bool {
		return c.Serial == 4 && c.Global.Primary == netip.MustParseAddr("10.0.0.9")
	})
	t.Logf("an edit reached the two other directors in %v (polling every 100 ms)", time.Since(edited))

	// The cluster view: each director hears the two others.
	waitFor(t, "every director heard", func() bool {
		for _, c := range clusters {
			ds := c.Status().Directors
			if len(ds) != 3 {
				return false
			}
			for _, d := range ds {
				if !d.Reachable || d.Serial != 4 {
					return false
				}
			}
		}
		return true
	})

	// Users: an admin made on the director the others follow (the lowest
	// address at the highest serial) reaches the others.
	if err := stores[0].AddUser(ctx, "alice", store.ScopeAdmin, "a long enough password 1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice on every director", func() bool {
		for _, st := range stores[1:] {
			a, err := st.Accounts(ctx)
			if err != nil || !bytes.Contains(mustJSON(a), []byte(`"alice"`)) {
				return false
			}
		}
		return true
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listenAll listens on the same free port at every address.
func listenAll(t *testing.T, addrs []netip.Addr) ([]net.Listener, uint16) {
	t.Helper()
	for try := 0; try < 20; try++ {
		first, err := net.Listen("tcp", net.JoinHostPort(addrs[0].String(), "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, a := range addrs[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(a.String(), strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == len(addrs) {
			t.Cleanup(func() {
				for _, ln := range lns {
					ln.Close()
				}
			})
			return lns, uint16(port)
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatal("no port free on every loopback address")
	return nil, 0
}

type noEngine struct{}

func (noEngine) Status() engine.Status { return engine.Status{} }

type noAddrs struct{}

func (noAddrs) Add(context.Context, netif.Addr) error { return nil }
func (noAddrs) Del(context.Context, netif.Addr) error { return nil }
func (noAddrs) Close() error                          { return nil }

type idleSpeaker struct{}

func (idleSpeaker) Run(ctx context.Context) error                 { <-ctx.Done(); return nil }
func (idleSpeaker) Announce([]netip.Prefix) error                 { return nil }
func (idleSpeaker) Shutdown(context.Context, time.Duration) error { return nil }
func (idleSpeaker) Status() bgp.Status                            { return bgp.Status{} }
func (idleSpeaker) Changes() <-chan struct{}                      { return nil }
