//go:build guest

// These run inside the qemu guest against real IPVS (see guest_host_test.go),
// for what the engine's guest tests do not reach: tunnel encapsulations,
// persistence engines, the sync daemon, timeouts, counters.
package ipvs_test

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

func ipvsadm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestGuestClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := ipvs.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	info, err := c.Info(ctx)
	if err != nil || info.Version>>16 != 1 || info.ConnTableSize == 0 {
		t.Errorf("info = %v, %v", info, err)
	}
	if got := strings.SplitN(ipvsadm(t, "-Ln"), "\n", 2)[0]; got != info.String() {
		t.Errorf("info %q, ipvsadm says %q", info.String(), got)
	}

	// Timeouts, read back by ipvsadm.
	want := ipvs.Timeouts{TCP: 1234 * time.Second, TCPFin: 56 * time.Second, UDP: 78 * time.Second}
	if err := c.SetTimeouts(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Timeouts(ctx); err != nil || got != want {
		t.Errorf("timeouts = %+v, %v", got, err)
	}
	if out := ipvsadm(t, "-Ln", "--timeout"); !strings.Contains(out, "Timeout (tcp tcpfin udp): 1234 56 78") {
		t.Errorf("ipvsadm --timeout: %s", out)
	}

	// Tunnel encapsulations and checksum flags.
	key := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.200"), Port: 80}
	if err := c.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "rr", Netmask: 0xffffffff}); err != nil {
		t.Fatal(err)
	}
	dests := []ipvs.Destination{
		{Addr: netip.MustParseAddr("10.0.0.21"), Port: 80, Forward: ipvs.Tunnel, Weight: 1, TunnelType: ipvs.TunnelIPIP},
		{Addr: netip.MustParseAddr("10.0.0.22"), Port: 80, Forward: ipvs.Tunnel, Weight: 2, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum},
		{Addr: netip.MustParseAddr("10.0.0.23"), Port: 80, Forward: ipvs.Tunnel, Weight: 3, TunnelType: ipvs.TunnelGRE, TunnelFlags: ipvs.TunnelRemoteChecksum},
	}
	for _, d := range dests {
		if err := c.NewDestination(ctx, key, d); err != nil {
			t.Fatalf("adding %s: %v", d.Key(), err)
		}
	}
	got, err := c.Destinations(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range dests {
		found := false
		for _, g := range got {
			if g.Key() == w.Key() {
				found = true
				if g.Forward != w.Forward || g.Weight != w.Weight || g.TunnelType != w.TunnelType || g.TunnelPort != w.TunnelPort || g.TunnelFlags != w.TunnelFlags {
					t.Errorf("%s read back as %+v", w.Key(), g)
				}
			}
		}
		if !found {
			t.Errorf("%s not read back", w.Key())
		}
	}
	saved := ipvsadm(t, "-Sn")
	for _, want := range []string{"--tun-type gue --tun-port 6080", "--tun-type gre"} {
		if !strings.Contains(saved, want) {
			t.Errorf("ipvsadm -Sn lacks %q:\n%s", want, saved)
		}
	}

	// A persistence engine.
	sip := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("192.0.2.201"), Port: 5060}
	if err := c.NewService(ctx, ipvs.Service{ServiceKey: sip, Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 60,
		Netmask: 0xffffffff, PEName: "sip"}); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Service(ctx, sip); err != nil || s.PEName != "sip" || s.Timeout != 60 {
		t.Errorf("sip service = %+v, %v", s, err)
	}

	// Counters: zeroing works on a service and on all.
	if err := c.Zero(ctx, &key); err != nil {
		t.Error(err)
	}
	if err := c.Zero(ctx, nil); err != nil {
		t.Error(err)
	}

	// The connection sync daemon.
	if err := c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "lo", SyncID: 5}); err != nil {
		t.Fatal(err)
	}
	ds, err := c.Daemons(ctx)
	if err != nil || len(ds) != 1 || ds[0].State != ipvs.DaemonMaster || ds[0].Interface != "lo" || ds[0].SyncID != 5 {
		t.Errorf("daemons = %+v, %v", ds, err)
	}
	if out := ipvsadm(t, "-L", "--daemon"); !strings.Contains(out, "master sync daemon (mcast=lo, syncid=5") {
		t.Errorf("ipvsadm --daemon: %s", out)
	}
	if err := c.StopDaemon(ctx, ipvs.DaemonMaster); err != nil {
		t.Fatal(err)
	}
	if ds, err := c.Daemons(ctx); err != nil || len(ds) != 0 {
		t.Errorf("daemons after stop = %+v, %v", ds, err)
	}

	// Errors name what they concern.
	err = c.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "rr", Netmask: 0xffffffff})
	if !errors.Is(err, ipvs.ErrExists) || !strings.Contains(err.Error(), "TCP 192.0.2.200:80") {
		t.Errorf("duplicate service: %v", err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
