package engine

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// This file goes the other way from Desired: from an IPVS service (the
// kernel's, or a rule of ipvsadm -S) to the virtual server that asks the
// engine for exactly it, so that a table made by hand or by keepalived can
// be taken into the configuration and left unchanged by the next reconcile.

// ErrNoPlace is wrapped by the error of a service that the configuration
// has no place for: taking it would change it.
var ErrNoPlace = errors.New("the configuration has no place for it")

// LedgerKey is the key under which the ledger records service k as owned.
func LedgerKey(k ipvs.ServiceKey) string { return keyText(k) }

// ServiceName is the name a virtual server taken from service k gets:
// "tcp_192.0.2.10_80", "udp_2001-db8--1_53", "fwm_3", "fwm6_3".
func ServiceName(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		if k.Family == ipvs.FamilyIPv6 {
			return fmt.Sprintf("fwm6_%d", k.FWMark)
		}
		return fmt.Sprintf("fwm_%d", k.FWMark)
	}
	return fmt.Sprintf("%s_%s_%d", strings.ToLower(k.Protocol.String()), addrName(k.Addr.String()), k.Port)
}

// addrName makes an address fit a name (no ':').
func addrName(a string) string { return strings.ReplaceAll(a, ":", "-") }

// VirtualOf returns the virtual server that asks for service s with
// destinations dests, every real server active at its weight, no sorry
// server, and checks of a TCP connect (IPVS knows of no checks). A
// firewall-mark service has no address in IPVS, which a virtual server
// needs to be active: it is returned inactive. The error, wrapping
// ErrNoPlace, lists everything of s the configuration cannot hold.
func VirtualOf(s *ipvs.Service, dests []ipvs.Destination) (config.VirtualServer, error) {
	vs := config.NewVirtual(ServiceName(s.ServiceKey))
	vs.Active = true
	vs.Address = s.Addr
	vs.Device = ""
	vs.Netmask = config.Netmask{}
	vs.Scheduler = s.Scheduler
	vs.CheckKind = config.CheckTCP
	var why []string
	if s.FWMark != 0 {
		vs.Active = false
		vs.Address = netip.Addr{}
		vs.FWMark = int64(s.FWMark)
		vs.Port = 0
		vs.Protocol = config.TCP
	} else {
		vs.Port = int(s.Port)
		switch s.Protocol {
		case ipvs.TCP:
			vs.Protocol = config.TCP
		case ipvs.UDP:
			vs.Protocol = config.UDP
		case ipvs.SCTP:
			vs.Protocol = config.SCTP
		default:
			why = append(why, fmt.Sprintf("protocol %s", s.Protocol))
		}
		if s.Port == 0 {
			why = append(why, "port 0 (every port of a persistent service)")
		}
	}
	vs.Persistence = 0
	if s.Flags&ipvs.FlagPersistent != 0 {
		vs.Persistence = int64(s.Timeout)
		if s.Timeout == 0 {
			why = append(why, "persistence without a timeout")
		}
	}
	vs.PersistenceNetmask = config.Netmask{}
	if m, ok := maskOf(s.Family, s.Netmask); !ok {
		why = append(why, fmt.Sprintf("persistence mask %#x (not contiguous)", s.Netmask))
	} else {
		vs.PersistenceNetmask = m
	}
	vs.OnePacket = s.Flags&ipvs.FlagOnePacket != 0
	vs.SchedFallback = s.Flags&ipvs.FlagSched1 != 0
	vs.SchedPort = s.Flags&ipvs.FlagSched2 != 0
	if (vs.SchedFallback || vs.SchedPort) && s.Scheduler != "sh" && s.Scheduler != "mh" {
		why = append(why, fmt.Sprintf("scheduler flags flag-1 and flag-2 of scheduler %s (only sh's and mh's)", s.Scheduler))
	}
	if s.Flags&ipvs.FlagSched3 != 0 {
		why = append(why, "scheduler flag flag-3")
	}
	if extra := s.Flags &^ (ipvs.FlagPersistent | ipvs.FlagHashed | ipvs.FlagOnePacket | ipvs.FlagSched1 | ipvs.FlagSched2 | ipvs.FlagSched3); extra != 0 {
		why = append(why, fmt.Sprintf("service flags %#x", uint32(extra)))
	}
	if s.PEName != "" {
		why = append(why, fmt.Sprintf("persistence engine %s", s.PEName))
	}
	vs.Reals = nil
	for i := range dests {
		d := &dests[i]
		rs := config.NewReal(addrName(d.Addr.String()) + "_" + strconv.Itoa(int(d.Port)))
		rs.Active = true
		rs.Address = d.Addr
		rs.Port = int(d.Port)
		if s.FWMark == 0 && d.Port == s.Port {
			rs.Port = 0 // the virtual server's
		}
		rs.Weight = int64(d.Weight)
		rs.UpperThreshold = int64(d.UpperThreshold)
		rs.LowerThreshold = int64(d.LowerThreshold)
		what := fmt.Sprintf("real server %s: ", d.Key())
		switch d.Forward {
		case ipvs.Masquerade:
			rs.Forward = config.NAT
		case ipvs.DirectRoute:
			rs.Forward = config.Direct
		case ipvs.Tunnel:
			rs.Forward = config.Tunnel
			if d.TunnelType != ipvs.TunnelIPIP || d.TunnelPort != 0 || d.TunnelFlags != 0 {
				why = append(why, what+"a gue or gre tunnel, or tunnel options (only ipip)")
			}
		default:
			why = append(why, what+fmt.Sprintf("forwarding %s", d.Forward))
		}
		if d.Weight < 0 {
			why = append(why, what+fmt.Sprintf("weight %d", d.Weight))
		}
		vs.Reals = append(vs.Reals, rs)
	}
	if len(why) > 0 {
		return vs, fmt.Errorf("%s: %w: %s", s.ServiceKey, ErrNoPlace, strings.Join(why, "; "))
	}
	return vs, nil
}

// maskOf is the persistence mask of the kernel's netmask: not set when it
// is the whole address.
func maskOf(family uint16, m uint32) (config.Netmask, bool) {
	if family == ipvs.FamilyIPv6 {
		if m == 0 || m >= 128 {
			return config.Netmask{}, m <= 128
		}
		return config.MaskBits(int(m)), true
	}
	if m == 0 || m == 0xffffffff {
		return config.Netmask{}, true
	}
	n := bits.LeadingZeros32(^m)
	if m<<n != 0 {
		return config.Netmask{}, false
	}
	return config.MaskBits(n), true
}

// NoCheckNote says what the virtual servers VirtualOf makes are checked
// with, and that the admin should choose: IPVS and ipvsadm know no checks.
const NoCheckNote = "IPVS and ipvsadm have no health checks: the virtual servers taken from them check their real servers with a TCP connect to their port; choose the check that fits each (MONITORING SCRIPTS, or check in lvs.cf)"

// ServiceKeyOf is the key of the IPVS service vs asks for, and whether
// it asks for one: it needs an address (not 0.0.0.0 or ::).
func ServiceKeyOf(vs *config.VirtualServer) (ipvs.ServiceKey, bool) {
	if !usable(vs.Address) {
		return ipvs.ServiceKey{}, false
	}
	return serviceOf(vs).ServiceKey, true
}
