package bgp

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{
		AS:       65010,
		RouterID: netip.MustParseAddr("192.0.2.10"),
		Peers:    []Peer{{Address: netip.MustParseAddr("192.0.2.1"), AS: 65000, HoldTime: 3 * time.Second}},
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		wants []string // each problem's start, in order; none: valid
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "listener on 179, IPv6 peer, next hops", edit: func(c *Config) {
			c.ListenPort = 179
			c.Peers = append(c.Peers, Peer{Address: netip.MustParseAddr("2001:db8::1"), AS: 65000, Password: "s3cret"})
			c.NextHop, c.NextHop6 = netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")
		}},
		{name: "everything wrong at once", edit: func(c *Config) {
			c.AS = 0
			c.RouterID = netip.MustParseAddr("2001:db8::1")
			c.ListenPort = 1179
			c.Peers = []Peer{
				{Address: netip.MustParseAddr("192.0.2.1"), AS: 23456, HoldTime: 2 * time.Second},
				{Address: netip.MustParseAddr("192.0.2.1"), AS: 65000, HoldTime: 1500 * time.Millisecond},
				{AS: 4294967295, Password: strings.Repeat("x", 81)},
			}
			c.NextHop = netip.MustParseAddr("2001:db8::10")
			c.NextHop6 = netip.MustParseAddr("::ffff:192.0.2.10")
		}, wants: []string{
			"AS 0:", "RouterID 2001:db8::1:", "ListenPort 1179:",
			"Peers[0].AS 23456:", "Peers[0].HoldTime 2s:",
			"Peers[1].Address 192.0.2.1: listed twice", "Peers[1].HoldTime 1.5s:",
			"Peers[2].Address invalid IP:", "Peers[2].AS 4294967295:", "Peers[2].Password:",
			"NextHop 2001:db8::10:", "NextHop6 ::ffff:192.0.2.10:",
		}},
		{name: "no peers", edit: func(c *Config) { c.Peers = nil }, wants: []string{"Peers: want at least one"}},
		{name: "router id 0.0.0.0", edit: func(c *Config) { c.RouterID = netip.IPv4Unspecified() }, wants: []string{"RouterID 0.0.0.0:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			_, newErr := New(c, nil)
			if len(tc.wants) == 0 {
				if err != nil || newErr != nil {
					t.Fatalf("Validate: %v; New: %v", err, newErr)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.As(newErr, new(*ConfigError)) {
				t.Fatalf("Validate: %v; New: %v; want a *ConfigError", err, newErr)
			}
			if len(ce.Problems) != len(tc.wants) {
				t.Fatalf("problems:\n%s\nwant %d: %q", strings.Join(ce.Problems, "\n"), len(tc.wants), tc.wants)
			}
			for i, w := range tc.wants {
				if !strings.HasPrefix(ce.Problems[i], w) {
					t.Errorf("problem %d: %q, want it to start %q", i, ce.Problems[i], w)
				}
			}
		})
	}
}

func TestCommunity(t *testing.T) {
	for s, want := range map[string]Community{"65535:0": GracefulShutdown, "0:0": 0, "65010:100": 65010<<16 | 100, "65535:65535": 0xffffffff} {
		c, err := ParseCommunity(s)
		if err != nil || c != want || c.String() != s {
			t.Errorf("ParseCommunity(%q) = %v (%d), %v; want %d", s, c, uint32(c), err, uint32(want))
		}
	}
	for _, s := range []string{"", "65536:0", "1:65536", "1", "a:b", "1:2:3", "-1:0"} {
		if _, err := ParseCommunity(s); err == nil {
			t.Errorf("ParseCommunity(%q): no error", s)
		}
	}
}

// Announce takes host routes only and refuses the whole set, naming each
// bad prefix; after Shutdown, Announce and Run say ErrShutdown.
func TestAnnounceAndShutdownErrors(t *testing.T) {
	s, err := New(validConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	good := netip.MustParsePrefix("192.0.2.80/32")
	err = s.Announce([]netip.Prefix{good, netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/64"), {}})
	if !errors.Is(err, ErrNotHostRoute) || strings.Count(err.Error(), "not a host route") != 3 ||
		!strings.Contains(err.Error(), "192.0.2.0/24") || !strings.Contains(err.Error(), "2001:db8::/64") {
		t.Errorf("Announce with 3 bad prefixes: %v", err)
	}
	if err := s.Announce([]netip.Prefix{good, netip.MustParsePrefix("2001:db8::80/128")}); err != nil {
		t.Errorf("Announce host routes: %v", err)
	}
	if st := s.Status(); st.Running || len(st.Announced) != 0 || len(st.Peers) != 1 || st.Peers[0].State != "idle" {
		t.Errorf("Status before Run: %+v", st)
	}
	if err := s.Shutdown(context.Background(), time.Hour); err != nil {
		t.Errorf("Shutdown before Run: %v", err)
	}
	if err := s.Announce(nil); !errors.Is(err, ErrShutdown) {
		t.Errorf("Announce after Shutdown: %v, want ErrShutdown", err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrShutdown) {
		t.Errorf("Run after Shutdown: %v, want ErrShutdown", err)
	}
}

// A second Run says ErrRunning; ending Run's context ends it (nil) and the
// speaker is then shut down. The peer, on loopback, refuses: the session
// never comes up, which Status says.
func TestRunTwiceAndCancel(t *testing.T) {
	c := validConfig()
	c.RouterID = netip.MustParseAddr("127.0.0.2")
	c.Peers[0].Address = netip.MustParseAddr("127.0.0.1")
	s, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for !s.Status().Running {
		select {
		case <-s.Changes():
		case err := <-ran:
			t.Fatalf("Run: %v", err)
		case <-deadline:
			t.Fatal("not running after 10 s")
		}
	}
	if err := s.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	vip := netip.MustParsePrefix("192.0.2.80/32")
	if err := s.Announce([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	for st := s.Status(); len(st.Announced) != 1; st = s.Status() {
		select {
		case <-s.Changes():
		case <-deadline:
			t.Fatalf("not announced after 10 s: %+v", st)
		}
	}
	if st := s.Status(); st.Peers[0].Established() || st.Peers[0].Prefixes != 0 {
		t.Errorf("a refused session: %+v", st.Peers[0])
	}
	cancel()
	if err := <-ran; err != nil {
		t.Errorf("Run after its context ended: %v", err)
	}
	if st := s.Status(); st.Running || len(st.Announced) != 0 || st.Peers[0].State != "idle" {
		t.Errorf("Status after Run: %+v", st)
	}
	if err := s.Announce(nil); !errors.Is(err, ErrShutdown) {
		t.Errorf("Announce after Run: %v, want ErrShutdown", err)
	}
	if err := s.Shutdown(context.Background(), time.Hour); err != nil {
		t.Errorf("Shutdown after Run: %v", err)
	}
}
