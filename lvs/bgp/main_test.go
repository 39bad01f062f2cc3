package bgp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
)

// speakerVar makes this test binary a director's speaker (speakerMain),
// run by the tests inside a network namespace with `ip netns exec`: GoBGP
// opens its sockets from goroutines of its own, so a whole process must be
// in the namespace. Its value is the Config, in JSON.
const speakerVar = "LVSCONSOLE_BGP_SPEAKER"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(speakerVar); cfg != "" {
		if err := speakerMain(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "speaker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(testenv.Run(m))
}

// speakerMain runs one Speaker. It reads commands on stdin, one a line:
// "announce PREFIX..." (none: the empty set) and "shutdown DURATION"
// (Shutdown with that drain, then exit); it writes "status JSON" on stdout
// at every change, and "exiting" just before it exits. It exits when stdin
// closes, so that a test that dies leaves no speaker behind.
func speakerMain(cfgJSON string) error {
	var cfg Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := New(cfg, log)
	if err != nil {
		return err
	}
	var out sync.Mutex
	say := func(format string, a ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", a...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.Changes():
			case <-time.After(500 * time.Millisecond): // the advertised counts change without a signal
			}
			b, _ := json.Marshal(s.Status())
			say("status %s", b)
		}
	}()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "announce":
			var ps []netip.Prefix
			for _, f := range strings.Fields(arg) {
				p, err := netip.ParsePrefix(f)
				if err != nil {
					return err
				}
				ps = append(ps, p)
			}
			if err := s.Announce(ps); err != nil {
				return err
			}
		case "shutdown":
			d, err := time.ParseDuration(arg)
			if err != nil {
				return err
			}
			if err := s.Shutdown(context.Background(), d); err != nil {
				return err
			}
			say("exiting")
			return <-ran
		default:
			return fmt.Errorf("unknown command %q", in.Text())
		}
	}
	return in.Err()
}
