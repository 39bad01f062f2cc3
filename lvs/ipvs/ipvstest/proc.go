package ipvstest

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// ProcNetIPVS appends the text of /proc/net/ip_vs to buf, as the kernel
// writes it (ip_vs_info_seq_show): the services, not firewall-mark ones
// first, each with its destinations newest first. Give it to a client with
// ipvs.Client.SetProc.
func (k *Kernel) ProcNetIPVS(buf []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	buf = append(buf, "IP Virtual Server version 1.2.1 (size=4096)\n"+
		"Prot LocalAddress:Port Scheduler Flags\n"+
		"  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"...)
	for _, fwm := range []bool{false, true} {
		for _, s := range k.services {
			if (s.key.FWMark != 0) != fwm {
				continue
			}
			ops := ""
			if s.flags&uint32(ipvs.FlagOnePacket) != 0 {
				ops = "ops "
			}
			switch {
			case fwm:
				buf = fmt.Appendf(buf, "FWM  %08X %s %s", s.key.FWMark, s.sched, ops)
			case s.key.Family == afINET6:
				buf = fmt.Appendf(buf, "%s  [%s]:%04X %s ", s.key.Protocol, expand6(s.key.Addr), s.key.Port, s.sched)
			default:
				buf = fmt.Appendf(buf, "%s  %08X:%04X %s %s", s.key.Protocol, be32(s.key.Addr), s.key.Port, s.sched, ops)
			}
			if s.flags&uint32(ipvs.FlagPersistent) != 0 {
				buf = fmt.Appendf(buf, "persistent %d %08X\n", s.timeout, binary.BigEndian.Uint32(s.netmask[:]))
			} else {
				buf = append(buf, '\n')
			}
			for _, d := range s.dests {
				if d.addr.Is6() {
					buf = fmt.Appendf(buf, "  -> [%s]:%04X      %-7s %-6d %-10d %-10d\n",
						expand6(d.addr), d.port, fwdName(d.fwd), d.weight, d.active, d.inact)
				} else {
					buf = fmt.Appendf(buf, "  -> %08X:%04X      %-7s %-6d %-10d %-10d\n",
						be32(d.addr), d.port, fwdName(d.fwd), d.weight, d.active, d.inact)
				}
			}
		}
	}
	return buf, nil
}

func be32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// expand6 writes a as the kernel's %pI6 does: eight groups of four
// hexadecimal digits.
func expand6(a netip.Addr) string {
	b := a.As16()
	var sb strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x%02x", b[i], b[i+1])
	}
	return sb.String()
}

// fwdName is the kernel's ip_vs_fwd_name.
func fwdName(fwd uint32) string {
	switch ipvs.Forward(fwd & 7) {
	case ipvs.LocalNode:
		return "Local"
	case ipvs.Tunnel:
		return "Tunnel"
	case ipvs.DirectRoute:
		return "Route"
	}
	return "Masq"
}
