package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/netif"
	"github.com/lvsconsole/lvsconsole/store"
)

// directorVar makes this test binary a director in cluster mode
// (directorMain), run by bird_linux_test.go in a network namespace with
// `ip netns exec`: GoBGP opens its sockets from goroutines of its own, so
// a whole process must be in the namespace. Its value is the directorConf,
// in JSON.
const directorVar = "LVSCONSOLE_CLUSTER_DIRECTOR"

func TestMain(m *testing.M) {
	if conf := os.Getenv(directorVar); conf != "" {
		if err := directorMain(conf); err != nil {
			fmt.Fprintln(os.Stderr, "director:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(testenv.Run(m))
}

// directorConf is what a director process is told.
type directorConf struct {
	Redundancy config.Redundancy
	VIP        netip.Addr
	Real       netip.Addr
}

// directorMain runs a Cluster with the real BGP speaker and the real
// addresses (the VIP on the namespace's loopback), over a real store in a
// temporary directory (the configuration: dc's cluster settings and one
// virtual server), and an engine whose state stdin sets: "up" (the
// configuration reconciled, the real server up at weight 1) or "down"
// (its weight 0). It writes "status JSON" on stdout at every change. When
// stdin closes it stops cleanly (the drain) and writes "stopped".
func directorMain(confJSON string) error {
	var dc directorConf
	if err := json.Unmarshal([]byte(confJSON), &dc); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "lvscluster")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, filepath.Join(dir, "lvs.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	cfg, err := st.Update(ctx, store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		r, d := &c.Redundancy, &dc.Redundancy
		r.Cluster, r.ClusterDirectors, r.BGPAS, r.BGPPeers = d.Cluster, d.ClusterDirectors, d.BGPAS, d.BGPPeers
		r.BGPPassword, r.BGPHoldTime, r.BGPDrain = d.BGPPassword, d.BGPHoldTime, d.BGPDrain
		c.Virtuals = []config.VirtualServer{{Name: "web", Active: true, Address: dc.VIP, Port: 80, Protocol: config.TCP,
			Scheduler: "mh", CheckTimeout: 10 * time.Second, Announce: true,
			Reals: []config.RealServer{{Name: "r1", Active: true, Address: dc.Real, Weight: 1}}}}
		return nil
	})
	if err != nil {
		return err
	}
	eng := &stdinEngine{}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := cluster.New(cluster.Options{
		Source:    st,
		Engine:    eng,
		Addresses: func() (cluster.Addresses, error) { return netif.Open() },
		Poll:      50 * time.Millisecond,
		Log:       log,
	})
	var out sync.Mutex
	say := func(format string, a ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", a...)
	}
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.Changes():
			case <-time.After(500 * time.Millisecond):
			}
			b, _ := json.Marshal(c.Status())
			say("status %s", b)
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "up", "down":
			w := int32(1)
			if in.Text() == "down" {
				w = 0
			}
			eng.set(engine.Status{Available: true, Serial: cfg.Serial, Desired: &engine.Table{Services: []*engine.Service{
				{Virtual: "web", Dests: []ipvs.Destination{{Addr: dc.Real, Weight: w}}}}}})
		default:
			return fmt.Errorf("unknown command %q", in.Text())
		}
	}
	cancel()
	err = <-ran
	say("stopped")
	return err
}

type stdinEngine struct {
	mu sync.Mutex
	st engine.Status
}

func (e *stdinEngine) Status() engine.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st
}

func (e *stdinEngine) set(st engine.Status) {
	e.mu.Lock()
	e.st = st
	e.mu.Unlock()
}
