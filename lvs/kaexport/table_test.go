package kaexport_test

import (
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// TestSameTable reads the virtual_server and real_server blocks of each
// written file back, as keepalived would program them with every real
// server up (alpha off), and compares that table with engine.Desired's
// (the table export -format ipvsadm writes), field by field, thresholds
// included.
func TestSameTable(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg()
			conf, _ := write(t, tc.name, tc.node, cfg)
			got := readTable(t, conf)
			want := engine.Desired(cfg, engine.Configured{})
			// keepalived ignores a virtual server without real servers,
			// sorry server and all (an omission of the file).
			want.Services = slices.DeleteFunc(want.Services, func(s *engine.Service) bool {
				return !slices.ContainsFunc(cfg.Virtual(s.Virtual).Reals, func(rs config.RealServer) bool { return rs.Active })
			})
			for _, s := range want.Services {
				s.Virtual = ""
				for i := range s.Dests {
					d := &s.Dests[i]
					// The two differences keepalived imposes, each an
					// omission of the file ("port"): a real server of a
					// mark has no port, a direct or tunnelled one the
					// service's.
					switch {
					case s.FWMark != 0:
						d.Port = 0
					case d.Forward != ipvs.Masquerade:
						d.Port = s.Port
					}
				}
			}
			want.Timeouts = got.Timeouts // global_defs, checked by the golden files
			for _, tb := range []*engine.Table{got, want} {
				for _, s := range tb.Services {
					slices.SortFunc(s.Dests, func(a, b ipvs.Destination) int {
						return netip.AddrPortFrom(a.Addr, a.Port).Compare(netip.AddrPortFrom(b.Addr, b.Port))
					})
				}
			}
			if !reflect.DeepEqual(got, want) {
				var g, w strings.Builder
				got.WriteSave(&g)
				want.WriteSave(&w)
				t.Errorf("keepalived's table differs from engine.Desired's\nkeepalived:\n%s\nDesired:\n%s\n%s", g.String(), w.String(), conf)
			}
		})
	}
}

// readTable reads the virtual_server blocks of a keepalived.conf this
// package writes (one keyword a line) into the table keepalived programs
// at start, every real server up.
func readTable(t *testing.T, conf string) *engine.Table {
	t.Helper()
	tb := &engine.Table{}
	var (
		s        *engine.Service
		d        *ipvs.Destination
		fwd      ipvs.Forward
		sorry    *ipvs.Destination
		depth    int
		inet6    bool
		granular string
		q        = [2]int64{1, 0} // quorum, hysteresis
	)
	num := func(w string) int64 {
		n, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			t.Fatalf("%q is not a number", w)
		}
		return n
	}
	dest := func(ws []string) *ipvs.Destination {
		a := netip.MustParseAddr(ws[1])
		nd := &ipvs.Destination{Addr: a, Family: family(a), Forward: fwd, Weight: 1}
		if len(ws) > 2 && ws[2] != "{" {
			nd.Port = uint16(num(ws[2]))
		}
		return nd
	}
	for line := range strings.Lines(conf) {
		line, _, _ = strings.Cut(line, "#")
		ws := strings.Fields(line)
		if len(ws) == 0 {
			continue
		}
		switch {
		case ws[0] == "}":
			depth--
			switch {
			case depth == 1 && d != nil:
				s.Dests = append(s.Dests, *d)
				d = nil
			case depth == 0 && s != nil:
				finish(t, s, inet6, granular, sorry, q)
				tb.Services = append(tb.Services, s)
				s, sorry, inet6, granular, q = nil, nil, false, "", [2]int64{1, 0}
			}
			continue
		case depth == 0 && ws[0] == "virtual_server":
			s = &engine.Service{}
			fwd = ipvs.Masquerade // keepalived's default
			if ws[1] == "fwmark" {
				s.FWMark = uint32(num(ws[2]))
			} else {
				s.Addr = netip.MustParseAddr(ws[1])
				s.Port = uint16(num(ws[2]))
				s.Protocol = ipvs.TCP
			}
		case s != nil && depth == 1:
			switch ws[0] {
			case "lb_algo":
				s.Scheduler = ws[1]
			case "sh-fallback", "mh-fallback":
				s.Flags |= ipvs.FlagSched1
			case "sh-port", "mh-port":
				s.Flags |= ipvs.FlagSched2
			case "ops":
				s.Flags |= ipvs.FlagOnePacket
			case "lb_kind":
				fwd = forward(t, ws[1])
			case "protocol":
				s.Protocol = map[string]ipvs.Protocol{"TCP": ipvs.TCP, "UDP": ipvs.UDP, "SCTP": ipvs.SCTP}[ws[1]]
			case "ip_family":
				inet6 = ws[1] == "inet6"
			case "persistence_timeout":
				s.Flags |= ipvs.FlagPersistent
				s.Timeout = uint32(num(ws[1]))
			case "persistence_granularity":
				granular = ws[1]
			case "sorry_server":
				sorry = dest(ws)
			case "quorum":
				q[0] = num(ws[1])
			case "hysteresis":
				q[1] = num(ws[1])
			case "real_server":
				d = dest(ws)
			}
		case d != nil && depth == 2:
			switch ws[0] {
			case "weight":
				d.Weight = int32(num(ws[1]))
			case "lvs_method":
				d.Forward = forward(t, ws[1])
			case "uthreshold":
				d.UpperThreshold = uint32(num(ws[1]))
			case "lthreshold":
				d.LowerThreshold = uint32(num(ws[1]))
			}
		}
		if ws[len(ws)-1] == "{" {
			depth++
		}
	}
	return tb
}

// finish completes a service as keepalived does: its family, its
// persistence granularity (IPVS's default of the whole address), and its
// sorry server in place of the real servers while their weights do not
// reach quorum+hysteresis (at a start; the quorum lowered to the weight of
// all, the hysteresis below it, as keepalived's check_data.c).
func finish(t *testing.T, s *engine.Service, inet6 bool, granular string, sorry *ipvs.Destination, q [2]int64) {
	s.Family = ipvs.FamilyIPv4
	if (s.FWMark == 0 && s.Addr.Is6()) || (s.FWMark != 0 && inet6) {
		s.Family = ipvs.FamilyIPv6
	}
	m, err := config.ParseNetmask(granular)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case s.Family == ipvs.FamilyIPv6 && m.IsSet():
		s.Netmask = uint32(m.Bits())
	case s.Family == ipvs.FamilyIPv6:
		s.Netmask = 128
	case !m.IsSet() || m.Bits() == 32:
		s.Netmask = 0xffffffff
	default:
		s.Netmask = ^uint32(0) << (32 - m.Bits())
	}
	var sum int64
	for _, d := range s.Dests {
		sum += int64(d.Weight)
	}
	quorum := min(q[0], sum)
	hysteresis := min(q[1], max(quorum-1, 0))
	if sorry != nil && (sum == 0 || sum < quorum+hysteresis) {
		s.Dests = []ipvs.Destination{*sorry}
	}
}

func family(a netip.Addr) uint16 {
	if a.Is4() {
		return ipvs.FamilyIPv4
	}
	return ipvs.FamilyIPv6
}

func forward(t *testing.T, kind string) ipvs.Forward {
	switch kind {
	case "NAT":
		return ipvs.Masquerade
	case "DR":
		return ipvs.DirectRoute
	case "TUN":
		return ipvs.Tunnel
	}
	t.Fatalf("%q is not an lb_kind", kind)
	return 0
}
