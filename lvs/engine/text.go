package engine

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// TextMode selects the columns of WriteText, as ipvsadm's options do.
type TextMode int

const (
	TextTable TextMode = iota // ipvsadm -Ln
	TextStats                 // ipvsadm -Ln --stats
	TextRate                  // ipvsadm -Ln --rate
)

// WriteText writes t the way ipvsadm -Ln (--stats, --rate) does, so that
// admins and their scripts read it without relearning.
func (t *Table) WriteText(w io.Writer, info ipvs.Info, mode TextMode) error {
	var b strings.Builder
	b.WriteString(info.String() + "\n")
	switch mode {
	case TextStats:
		b.WriteString("Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n")
		b.WriteString("  -> RemoteAddress:Port\n")
	case TextRate:
		b.WriteString("Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n")
		b.WriteString("  -> RemoteAddress:Port\n")
	default:
		b.WriteString("Prot LocalAddress:Port Scheduler Flags\n")
		b.WriteString("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
	for _, s := range t.Services {
		name := ServiceText(s.ServiceKey)
		switch mode {
		case TextStats:
			st := s.Stats
			fmt.Fprintf(&b, "%-33s %8d %8d %8d %8d %8d\n", name, st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes)
		case TextRate:
			st := s.Stats
			fmt.Fprintf(&b, "%-33s %8d %8d %8d %8d %8d\n", name, st.CPS, st.InPPS, st.OutPPS, st.InBPS, st.OutBPS)
		default:
			fmt.Fprintf(&b, "%s %s%s\n", name, s.Scheduler, FlagsText(&s.Service))
		}
		for _, d := range s.Dests {
			addr := AddrPort(d.Addr, d.Port)
			switch mode {
			case TextStats:
				st := d.Stats
				fmt.Fprintf(&b, "  -> %-28s %8d %8d %8d %8d %8d\n", addr, st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes)
			case TextRate:
				st := d.Stats
				fmt.Fprintf(&b, "  -> %-28s %8d %8d %8d %8d %8d\n", addr, st.CPS, st.InPPS, st.OutPPS, st.InBPS, st.OutBPS)
			default:
				fmt.Fprintf(&b, "  -> %-28s %-7s %-6d %-10d %-10d\n", addr, d.Forward, d.Weight, d.ActiveConns, d.InactiveConns)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSave writes t as ipvsadm -Sn (ipvsadm-save -n) does, one rule a
// line, for ipvsadm -R to restore: each service, then its destinations in
// address order. Like ipvsadm's, the format has no place for thresholds;
// unlike it, a firewall mark above 2^31-1 is written as the unsigned
// number ipvsadm -R takes (see ipvs.SaveService).
func (t *Table) WriteSave(w io.Writer) error {
	var b strings.Builder
	for _, s := range t.Services {
		b.WriteString(ipvs.SaveService(&s.Service) + "\n")
		dests := slices.Clone(s.Dests)
		sortDests(dests)
		for i := range dests {
			b.WriteString(ipvs.SaveDest(s.ServiceKey, &dests[i]) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// AddrPort writes an address and port as ipvsadm does ([v6]:port).
func AddrPort(a netip.Addr, port uint16) string {
	// Without fmt: the dashboard writes one per destination, 10,000 a page.
	b := make([]byte, 0, 48)
	if a.Is6() {
		b = append(a.AppendTo(append(b, '[')), ']')
	} else {
		b = a.AppendTo(b)
	}
	return string(strconv.AppendUint(append(b, ':'), uint64(port), 10))
}

// ServiceText writes a service as ipvsadm -Ln does: "TCP  192.0.2.1:80".
func ServiceText(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		name := fmt.Sprintf("FWM  %d", k.FWMark)
		if k.Family == ipvs.FamilyIPv6 {
			name += " IPv6"
		}
		return name
	}
	return fmt.Sprintf("%-4s %s", k.Protocol, AddrPort(k.Addr, k.Port))
}

// FlagsText writes a service's flags as ipvsadm -Ln does.
func FlagsText(s *ipvs.Service) string {
	var b strings.Builder
	if s.Flags&ipvs.FlagPersistent != 0 {
		fmt.Fprintf(&b, " persistent %d", s.Timeout)
		if s.Family == ipvs.FamilyIPv6 {
			if s.Netmask != 128 {
				fmt.Fprintf(&b, " mask %d", s.Netmask)
			}
		} else if s.Netmask != 0xffffffff {
			m := s.Netmask
			fmt.Fprintf(&b, " mask %d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
		}
	}
	// ipvsadm names the sh and mh flags after what they do.
	names := [3]string{"flag-1", "flag-2", "flag-3"}
	if s.Scheduler == "sh" || s.Scheduler == "mh" {
		names[0], names[1] = s.Scheduler+"-fallback", s.Scheduler+"-port"
	}
	var sched []string
	for i, f := range []ipvs.Flags{ipvs.FlagSched1, ipvs.FlagSched2, ipvs.FlagSched3} {
		if s.Flags&f != 0 {
			sched = append(sched, names[i])
		}
	}
	if len(sched) > 0 {
		b.WriteString(" (" + strings.Join(sched, ",") + ")")
	}
	if s.PEName != "" {
		b.WriteString(" pe " + s.PEName)
	}
	if s.Flags&ipvs.FlagOnePacket != 0 {
		b.WriteString(" ops")
	}
	return b.String()
}
