package ipvs_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
)

func TestErrors(t *testing.T) {
	ctx := context.Background()
	k, c := newClient(t)
	key := tcp4(80)
	missing := tcp4(81)
	real1 := ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 1}
	if err := c.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	if err := c.NewDestination(ctx, key, real1); err != nil {
		t.Fatal(err)
	}
	svc6 := ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.TCP, Addr: vip6, Port: 80}
	if err := c.NewService(ctx, ipvs.Service{ServiceKey: svc6, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	other := netip.MustParseAddr("10.0.0.2")

	tests := []struct {
		name     string
		call     func() error
		op       string
		svc      *ipvs.ServiceKey
		dest     *ipvs.DestKey
		errno    syscall.Errno
		sentinel error // nil: none of the sentinels
	}{
		{"service exists", func() error {
			return c.NewService(ctx, ipvs.Service{ServiceKey: key, Scheduler: "rr"})
		}, "new service", &key, nil, syscall.EEXIST, ipvs.ErrExists},
		{"destination exists", func() error {
			return c.NewDestination(ctx, key, real1)
		}, "new destination", &key, ptr(real1.Key()), syscall.EEXIST, ipvs.ErrExists},
		{"get missing service", func() error {
			_, err := c.Service(ctx, missing)
			return err
		}, "get service", &missing, nil, syscall.ESRCH, ipvs.ErrNotFound},
		{"update missing service", func() error {
			return c.UpdateService(ctx, ipvs.Service{ServiceKey: missing, Scheduler: "rr"})
		}, "set service", &missing, nil, syscall.ESRCH, ipvs.ErrNotFound},
		{"delete missing service", func() error {
			return c.DeleteService(ctx, missing)
		}, "delete service", &missing, nil, syscall.ESRCH, ipvs.ErrNotFound},
		{"destination of missing service", func() error {
			return c.NewDestination(ctx, missing, real1)
		}, "new destination", &missing, ptr(real1.Key()), syscall.ESRCH, ipvs.ErrNotFound},
		{"update missing destination", func() error {
			return c.UpdateDestination(ctx, key, ipvs.Destination{Addr: other, Port: 80, Weight: 1})
		}, "set destination", &key, &ipvs.DestKey{Addr: other, Port: 80}, syscall.ENOENT, ipvs.ErrNotFound},
		{"delete missing destination", func() error {
			return c.DeleteDestination(ctx, key, ipvs.DestKey{Addr: other, Port: 80})
		}, "delete destination", &key, &ipvs.DestKey{Addr: other, Port: 80}, syscall.ENOENT, ipvs.ErrNotFound},
		{"unknown scheduler", func() error {
			return c.NewService(ctx, ipvs.Service{ServiceKey: missing, Scheduler: "nosuch"})
		}, "new service", &missing, nil, syscall.ENOENT, ipvs.ErrNotFound},
		{"unknown persistence engine", func() error {
			return c.NewService(ctx, ipvs.Service{ServiceKey: missing, Scheduler: "rr", PEName: "nosuch"})
		}, "new service", &missing, nil, syscall.ENOENT, ipvs.ErrNotFound},
		{"negative weight", func() error {
			return c.NewDestination(ctx, key, ipvs.Destination{Addr: other, Port: 80, Weight: -1})
		}, "new destination", &key, &ipvs.DestKey{Addr: other, Port: 80}, syscall.ERANGE, nil},
		{"lower threshold above upper", func() error {
			return c.UpdateDestination(ctx, key, ipvs.Destination{Addr: real1.Addr, Port: 80, Weight: 1,
				UpperThreshold: 10, LowerThreshold: 20})
		}, "set destination", &key, ptr(real1.Key()), syscall.ERANGE, nil},
		{"mixed families without tunnel", func() error {
			return c.NewDestination(ctx, svc6, ipvs.Destination{Addr: other, Port: 80, Forward: ipvs.Masquerade, Weight: 1})
		}, "new destination", &svc6, &ipvs.DestKey{Addr: other, Port: 80}, syscall.EINVAL, nil},
		{"GUE without a port", func() error {
			return c.NewDestination(ctx, key, ipvs.Destination{Addr: other, Port: 80, Forward: ipvs.Tunnel,
				TunnelType: ipvs.TunnelGUE})
		}, "new destination", &key, &ipvs.DestKey{Addr: other, Port: 80}, syscall.EINVAL, nil},
		{"multicast destination", func() error {
			return c.NewDestination(ctx, key, ipvs.Destination{Addr: netip.MustParseAddr("224.0.0.1"), Port: 80})
		}, "new destination", &key, &ipvs.DestKey{Addr: netip.MustParseAddr("224.0.0.1"), Port: 80}, syscall.EINVAL, nil},
		{"no permission", func() error {
			k.Fail(cmdNewDest, int(syscall.EPERM), 1)
			return c.NewDestination(ctx, key, ipvs.Destination{Addr: other, Port: 80, Weight: 1})
		}, "new destination", &key, &ipvs.DestKey{Addr: other, Port: 80}, syscall.EPERM, ipvs.ErrPermission},
		{"no permission to read", func() error {
			k.Fail(cmdGetService, int(syscall.EPERM), 1)
			_, err := c.Services(ctx)
			return err
		}, "list services", nil, nil, syscall.EPERM, ipvs.ErrPermission},
	}
	sentinels := []error{ipvs.ErrExists, ipvs.ErrNotFound, ipvs.ErrPermission, ipvs.ErrNoIPVS}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var e *ipvs.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *ipvs.Error", err, err)
			}
			if e.Op != tt.op || !eq(e.Service, tt.svc) || !eq(e.Dest, tt.dest) {
				t.Errorf("Error{Op: %q, Service: %v, Dest: %v}, want {%q, %v, %v}",
					e.Op, e.Service, e.Dest, tt.op, tt.svc, tt.dest)
			}
			if !errors.Is(err, tt.errno) {
				t.Errorf("%v: not errno %v", err, tt.errno)
			}
			for _, s := range sentinels {
				if got, want := errors.Is(err, s), s == tt.sentinel; got != want {
					t.Errorf("errors.Is(%v, %q) = %v, want %v", err, s, got, want)
				}
			}
			t.Log(err)
		})
	}

	// A failed request leaves the next one alone.
	if err := c.NewDestination(ctx, key, ipvs.Destination{Addr: other, Port: 80, Weight: 1}); err != nil {
		t.Errorf("after the failures: %v", err)
	}
}

func eq[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func TestErrorString(t *testing.T) {
	_, c := newClient(t)
	err := c.NewDestination(context.Background(), tcp4(80), ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: 8080})
	const want = "ipvs: new destination TCP 192.0.2.1:80 -> 10.0.0.1:8080: no such service: netlink receive: no such process"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestNoIPVS(t *testing.T) {
	// A kernel without IPVS answers the family lookup with ENOENT.
	conn := genltest.Dial(func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return nil, genltest.Error(int(syscall.ENOENT))
	})
	defer conn.Close()
	_, err := ipvs.New(conn)
	var e *ipvs.Error
	if !errors.As(err, &e) {
		t.Fatalf("New = %v, want an *ipvs.Error", err)
	}
	for _, target := range []error{ipvs.ErrNoIPVS, syscall.ENOENT, os.ErrNotExist} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	if errors.Is(err, ipvs.ErrNotFound) {
		t.Errorf("a missing family is not a missing object: %v", err)
	}

	// Any other failure of the lookup is not "no IPVS".
	conn = genltest.Dial(func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
		return nil, genltest.Error(int(syscall.EPERM))
	})
	defer conn.Close()
	if _, err := ipvs.New(conn); err == nil || errors.Is(err, ipvs.ErrNoIPVS) || !errors.Is(err, ipvs.ErrPermission) {
		t.Errorf("lookup refused with EPERM: %v", err)
	}
}

func TestLocalValidation(t *testing.T) {
	ctx := context.Background()
	_, c := newClient(t)
	tests := []struct {
		name string
		call func() error
	}{
		{"no scheduler", func() error { return c.NewService(ctx, ipvs.Service{ServiceKey: tcp4(80)}) }},
		{"long scheduler", func() error {
			return c.NewService(ctx, ipvs.Service{ServiceKey: tcp4(80), Scheduler: "sixteen-letters!"})
		}},
		{"IPv6 address in IPv4 service", func() error {
			return c.NewService(ctx, ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4,
				Protocol: ipvs.TCP, Addr: vip6, Port: 80}, Scheduler: "rr"})
		}},
		{"IPv6 prefix over 128", func() error {
			return c.NewService(ctx, ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6,
				Protocol: ipvs.TCP, Addr: vip6, Port: 80}, Scheduler: "rr", Netmask: 129})
		}},
		{"destination without address", func() error {
			return c.NewDestination(ctx, tcp4(80), ipvs.Destination{Port: 80})
		}},
		{"destination family mismatch", func() error {
			return c.NewDestination(ctx, tcp4(80), ipvs.Destination{Addr: vip6, Family: ipvs.FamilyIPv4})
		}},
		{"long interface", func() error {
			return c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "a-very-long-ifname"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.Requests()
			err := tt.call()
			var e *ipvs.Error
			if !errors.As(err, &e) {
				t.Fatalf("%v is not an *ipvs.Error", err)
			}
			if n := c.Requests() - before; n != 0 {
				t.Errorf("sent %d requests for an invalid call", n)
			}
			t.Log(err)
		})
	}
}
