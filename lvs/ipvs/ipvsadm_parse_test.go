package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// fakeResolver answers the names of the tests, as /etc/hosts and
// /etc/services would.
type fakeResolver struct{}

func (fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	switch {
	case host == "www.example" && network == "ip4":
		return []netip.Addr{netip4("192.0.2.10")}, nil
	case host == "web1" && network == "ip4":
		return []netip.Addr{netip4("10.0.0.1")}, nil
	case host == "www6.example" && network == "ip6":
		return []netip.Addr{netip4("2001:db8::1")}, nil
	}
	return nil, errors.New("no such host")
}

func (fakeResolver) LookupPort(_ context.Context, network, service string) (int, error) {
	switch service {
	case "http":
		return 80, nil
	case "https":
		return 443, nil
	case "domain":
		return 53, nil
	}
	return 0, errors.New("unknown port")
}

func svc(k ipvs.ServiceKey, line int, sched string, f ipvs.Flags, timeout, mask uint32, dests ...ipvs.SavedDest) ipvs.SavedService {
	return ipvs.SavedService{Service: ipvs.Service{ServiceKey: k, Scheduler: sched, Flags: f, Timeout: timeout, Netmask: mask}, Line: line, Dests: dests}
}

func dst(line int, addr string, port uint16, fwd ipvs.Forward, w int32) ipvs.SavedDest {
	a := netip4(addr)
	fam := ipvs.FamilyIPv4
	if a.Is6() {
		fam = ipvs.FamilyIPv6
	}
	return ipvs.SavedDest{Line: line, Destination: ipvs.Destination{Addr: a, Port: port, Family: fam, Forward: fwd, Weight: w}}
}

// TestParseSave: every option of -A and -a lines, short and long, with
// ipvsadm's defaults for what is left out, IPv6, firewall marks, and the
// names of ipvsadm -S.
func TestParseSave(t *testing.T) {
	withThresholds := dst(3, "10.0.0.2", 8080, ipvs.Masquerade, 3)
	withThresholds.UpperThreshold, withThresholds.LowerThreshold = 100, 50
	gue := dst(2, "2001:db8::20", 443, ipvs.Tunnel, 1)
	gue.TunnelType, gue.TunnelPort, gue.TunnelFlags = ipvs.TunnelGUE, 6080, ipvs.TunnelRemoteChecksum
	gre := dst(3, "10.0.0.9", 443, ipvs.Tunnel, 1)
	gre.Family = ipvs.FamilyIPv4
	gre.TunnelType, gre.TunnelFlags = ipvs.TunnelGRE, ipvs.TunnelChecksum
	pe := svc(web, 1, "rr", ipvs.FlagPersistent, 360, 0xffffffff)
	pe.PEName = "sip"
	for _, tc := range []struct {
		name, in string
		want     []ipvs.SavedService
		notes    []string
	}{
		{"ipvsadm -Sn", `
-A -t 192.0.2.10:80 -s wlc -p 300 -M 255.255.255.0
-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 1
-a -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 3 -x 100 -y 50
-A -u 192.0.2.53:53 -s rr -o
-a -u 192.0.2.53:53 -r 10.0.1.1:53 -g -w 0
`, []ipvs.SavedService{
			svc(web, 2, "wlc", ipvs.FlagPersistent, 300, 0xffffff00,
				dst(3, "10.0.0.1", 80, ipvs.Masquerade, 1), func() ipvs.SavedDest { d := withThresholds; d.Line = 4; return d }()),
			svc(dns, 5, "rr", ipvs.FlagOnePacket, 0, 0xffffffff, dst(6, "10.0.1.1", 53, ipvs.DirectRoute, 0)),
		}, nil},
		{"long options and defaults", `ipvsadm --add-service --tcp-service=192.0.2.10:80 --persistent
ipvsadm --add-server --tcp-service 192.0.2.10:80 --real-server 10.0.0.1 --masquerading --weight=2 --u-threshold 9 --l-threshold=1 # a comment
--add-server -t 192.0.2.10:80 -r 10.0.0.3:80`, []ipvs.SavedService{
			svc(web, 1, "wlc", ipvs.FlagPersistent, 360, 0xffffffff,
				func() ipvs.SavedDest {
					d := dst(2, "10.0.0.1", 80, ipvs.Masquerade, 2)
					d.UpperThreshold, d.LowerThreshold = 9, 1
					return d
				}(),
				dst(3, "10.0.0.3", 80, ipvs.DirectRoute, 1)),
		}, nil},
		{"attached short values", "-A -t192.0.2.10:80 -ssh -p60 -bsh-fallback,sh-port\n-a -t192.0.2.10:80 -r10.0.0.1 -g -w5",
			[]ipvs.SavedService{svc(web, 1, "sh", ipvs.FlagPersistent|ipvs.FlagSched1|ipvs.FlagSched2, 60, 0xffffffff,
				dst(2, "10.0.0.1", 80, ipvs.DirectRoute, 5))}, nil},
		{"IPv6, SCTP, tunnels", `-A -t [2001:db8::1]:443 -s mh -p 600 -M 64 -b mh-port
-a -t [2001:db8::1]:443 -r [2001:db8::20]:443 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum
-a -t [2001:db8::1]:443 -r 10.0.0.9:443 -i -w 1 --tun-type gre --tun-csum
-A --sctp-service 192.0.2.5:3868 -s lc -b flag-1,flag-2,flag-3
`, []ipvs.SavedService{
			svc(web6, 1, "mh", ipvs.FlagPersistent|ipvs.FlagSched2, 600, 64, gue, gre),
			svc(diam, 4, "lc", ipvs.FlagSched1|ipvs.FlagSched2|ipvs.FlagSched3, 0, 0xffffffff),
		}, nil},
		{"firewall marks", `-A -f 7 -s rr -o
-a -f 7 -r 10.0.0.1:0 -g -w 1
-a -f 7 -r 10.0.0.2 -m -w 1
-A -f 8 -6 -s rr -p 30
-a -f 8 -6 -r [2001:db8::5]:80 -g -w 1
`, []ipvs.SavedService{
			svc(mark, 1, "rr", ipvs.FlagOnePacket, 0, 0xffffffff, dst(2, "10.0.0.1", 0, ipvs.DirectRoute, 1), dst(3, "10.0.0.2", 0, ipvs.Masquerade, 1)),
			svc(mark6, 4, "rr", ipvs.FlagPersistent, 30, 0xffffffff, dst(5, "2001:db8::5", 80, ipvs.DirectRoute, 1)),
		}, nil},
		{"persistence engine", "-A -t 192.0.2.10:80 -s rr -p --pe sip", []ipvs.SavedService{pe}, nil},
		{"names of ipvsadm -S", `-A -t www.example:http -s wlc
-a -t www.example:http -r web1:http -m -w 1
-A -u [www6.example]:domain -s rr
`, []ipvs.SavedService{
			svc(web, 1, "wlc", 0, 0, 0xffffffff, dst(2, "10.0.0.1", 80, ipvs.Masquerade, 1)),
			svc(ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.UDP, Addr: netip4("2001:db8::1"), Port: 53}, 3, "rr", 0, 0, 0xffffffff),
		}, []string{
			`line 1: service host name "www.example" looked up: 192.0.2.10`,
			`line 1: service port name "http" looked up: 80`,
			`line 2: service host name "www.example" looked up: 192.0.2.10`,
			`line 2: service port name "http" looked up: 80`,
			`line 2: real server host name "web1" looked up: 10.0.0.1`,
			`line 2: real server port name "http" looked up: 80`,
			`line 3: service host name "www6.example" looked up: 2001:db8::1`,
			`line 3: service port name "domain" looked up: 53`,
		}},
		{"direct routing keeps the service's port", "-A -t 192.0.2.10:80\n-a -t 192.0.2.10:80 -r 10.0.0.1:8080 -g",
			[]ipvs.SavedService{svc(web, 1, "wlc", 0, 0, 0xffffffff, dst(2, "10.0.0.1", 80, ipvs.DirectRoute, 1))},
			[]string{"line 2: real server 10.0.0.1:8080: direct routing and tunnelling keep the service's port: 80"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, notes, err := ipvs.ParseSave(context.Background(), strings.NewReader(tc.in), fakeResolver{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				if tc.want[i].Netmask == 0xffffffff && tc.want[i].Family == ipvs.FamilyIPv6 {
					tc.want[i].Netmask = 128
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tc.want)
			}
			var ns []string
			for _, n := range notes {
				ns = append(ns, n.Error())
			}
			if !reflect.DeepEqual(ns, tc.notes) {
				t.Errorf("notes\n%q\nwant\n%q", ns, tc.notes)
			}
		})
	}
}

// TestParseSaveRefuses: every bad line is named at once, with what is
// allowed.
func TestParseSaveRefuses(t *testing.T) {
	in := `-A -t 192.0.2.10:80 -s wlc
-C
-A -t 192.0.2.10:80
-A -t 192.0.2.11 -s rr
-A -t 192.0.2.12:0 -s rr
-A -u 192.0.2.13:53 -p 0
-A -u 192.0.2.14:53 -p 2678401
-A -t 192.0.2.15:80 -o
-A -t 192.0.2.16:80 -s rr -b sh-port
-A -t 192.0.2.17:80 -b flag-9
-A -t 192.0.2.18:80 -M 255.255.255.0.1
-A -t [2001:db8::1]:80 -M 129
-A -f 0
-A -t 192.0.2.19:80 -6
-A -t 192.0.2.20:80 -r 10.0.0.1
-A -t 192.0.2.21:80 -u 192.0.2.21:80
-A -s rr
-A -t 192.0.2.22:80 --frobnicate
-A -t 192.0.2.23:80 -s
-A -t 2001:db8::1 -s rr
-A -t host.invalid:80
-a -t 192.0.2.99:80 -r 10.0.0.1
-a -t 192.0.2.10:80
-a -t 192.0.2.10:80 -r 10.0.0.1 -w 65536x
-a -t 192.0.2.10:80 -r 10.0.0.1 -w -1
-a -t 192.0.2.10:80 -r 10.0.0.1 -x 2147483648
-a -t 192.0.2.10:80 -r 10.0.0.1 -g -m
-a -t 192.0.2.10:80 -r [2001:db8::9]:80 -m
-a -t 192.0.2.10:80 -r 10.0.0.1 -m --tun-type gue
-a -t 192.0.2.10:80 -r 10.0.0.1 -i --tun-type vxlan
-a -t 192.0.2.10:80 -r 10.0.0.1 -i --tun-type gue
-a -t 192.0.2.10:80 -r 10.0.0.1 -i --tun-type gre --tun-port 5
-a -t 192.0.2.10:80 -r 10.0.0.1 -i --tun-type ipip --tun-csum
-a -t 192.0.2.10:80 -r 10.0.0.1 -s rr
-a -t 192.0.2.10:80 -r 10.0.0.5 -m
-a -t 192.0.2.10:80 -r 10.0.0.5 -m -w 2
-a -t 192.0.2.10:80 -r 10.0.0.6 -m -m
-A -t 192.0.2.24:80 -s ` + strings.Repeat("x", 16) + `
`
	want := []string{
		`line 2: "-C": a rule starts with -A (--add-service) or -a (--add-server), as ipvsadm -S writes them`,
		`line 3: TCP 192.0.2.10:80 is already added on line 1`,
		`line 4: service "192.0.2.11" has no port: write ADDRESS:PORT ([ADDRESS]:PORT for IPv6)`,
		`line 5: TCP 192.0.2.12:0: port 0 (every port) is only for a persistent service (-p)`,
		`line 6: -p (--persistent) "0" is not a timeout: use 1-2678400 seconds`,
		`line 7: -p (--persistent) "2678401" is not a timeout: use 1-2678400 seconds`,
		`line 8: -o (--ops): one-packet scheduling applies only to UDP and firewall-mark services, not TCP`,
		`line 9: -b (--sched-flags) sh-port is a flag of the sh scheduler, not of rr`,
		`line 10: -b (--sched-flags) "flag-9" is not a scheduler flag: use flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback or mh-port, separated by commas`,
		`line 11: -M (--netmask) "255.255.255.0.1" is not an IPv4 mask such as 255.255.255.0`,
		`line 12: -M (--netmask) "129": an IPv6 service's mask is a prefix length 1-128`,
		`line 13: -f (--fwmark-service): "0" is not a firewall mark: use 1-4294967295`,
		`line 14: -6 (--ipv6) applies only to -f (a firewall-mark service): an address says its own family`,
		`line 15: -r (--real-server) does not belong in a -A (a service) rule`,
		`line 16: -A names more than one service: give one of -t, -u, --sctp-service or -f`,
		`line 17: -A names no service: give one of -t, -u or --sctp-service ADDRESS:PORT, or -f MARK`,
		`line 18: "--frobnicate" is not an option of ipvsadm's -A or -a rules`,
		`line 19: -s (--scheduler) needs a value`,
		`line 20: service "2001:db8::1" has no port: write ADDRESS:PORT ([ADDRESS]:PORT for IPv6)`,
		`line 21: service "host.invalid" is not an IP address, and looking it up failed: no such host`,
		`line 22: TCP 192.0.2.99:80 has no -A rule before this line: add the service first`,
		`line 23: -a needs -r (--real-server) ADDRESS[:PORT]`,
		`line 24: -w (--weight) "65536x" is not a weight: use 0-2147483647`,
		`line 25: -w (--weight) "-1" is not a weight: use 0-2147483647`,
		`line 26: --u-threshold "2147483648" is not a number of connections: use 0-2147483647 (0: no limit)`,
		`line 27: give one forwarding method of -g (--gatewaying), -m (--masquerading) and -i (--ipip)`,
		`line 28: real server 2001:db8::9 is not of its service's address family: only -i (tunnelling) mixes IPv4 and IPv6`,
		`line 29: --tun-type apply only to -i (--ipip) real servers`,
		`line 30: --tun-type "vxlan" is not a tunnel type: use ipip, gue or gre`,
		`line 31: a gue tunnel needs --tun-port PORT`,
		`line 32: a gre tunnel takes no --tun-port`,
		`line 33: an ipip tunnel takes no --tun-port and no checksum option`,
		`line 34: -s (--scheduler) does not belong in a -a (a real server) rule`,
		`line 36: real server 10.0.0.5:80 of TCP 192.0.2.10:80 is already added on line 35`,
		`line 37: -m (--masquerading) is given twice`,
		`line 38: -s (--scheduler) "xxxxxxxxxxxxxxxx" is not a scheduler name: 1-15 letters, digits, '_' or '-'`,
	}
	got, _, err := ipvs.ParseSave(context.Background(), strings.NewReader(in), fakeResolver{})
	var errs ipvs.SaveErrors
	if !errors.As(err, &errs) || got != nil {
		t.Fatalf("got %v, %v; want SaveErrors", got, err)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

// TestParseSaveNoResolver: without a resolver, names are refused.
func TestParseSaveNoResolver(t *testing.T) {
	_, _, err := ipvs.ParseSave(context.Background(), strings.NewReader("-A -t www.example:http\n"), nil)
	if err == nil || err.Error() != `line 1: service "www.example" is not an IP address` {
		t.Errorf("got %v", err)
	}
}

// TestParseSaveOfSave: what SaveService and SaveDest write reads back as
// the same service.
func TestParseSaveOfSave(t *testing.T) {
	s := ipvs.Service{ServiceKey: web6, Scheduler: "sh", Flags: ipvs.FlagPersistent | ipvs.FlagSched1, Timeout: 120, Netmask: 48}
	d := ipvs.Destination{Addr: netip4("2001:db8::7"), Port: 443, Family: ipvs.FamilyIPv6, Forward: ipvs.Masquerade, Weight: 4}
	text := ipvs.SaveService(&s) + "\n" + ipvs.SaveDest(s.ServiceKey, &d) + "\n"
	got, _, err := ipvs.ParseSave(context.Background(), strings.NewReader(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ipvs.SavedService{{Service: s, Line: 1, Dests: []ipvs.SavedDest{{Destination: d, Line: 2}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s read as\n%+v\nwant\n%+v", text, got, want)
	}
}

// The lookups of one file are bounded in number, as lvs.cf's are: the
// rules may come from an upload.
func TestParseSaveBoundsLookups(t *testing.T) {
	const maxLookups = 256
	var b strings.Builder
	for i := range maxLookups + 1 {
		fmt.Fprintf(&b, "-A -t www.example:%d -s rr\n", i+1)
	}
	_, _, err := ipvs.ParseSave(context.Background(), strings.NewReader(b.String()), fakeResolver{})
	want := fmt.Sprintf("line %d: ", maxLookups+1)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "more than 256 hosts") {
		t.Fatalf("%d names: %v, want a refusal at %q", maxLookups+1, err, want)
	}
}
