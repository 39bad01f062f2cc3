// Package direct says what the real servers of a direct-routing (LVS-DR)
// virtual server need: the VIP on their loopback interface and, for IPv4,
// no ARP answers for it. The snippets are text for the admin to read and
// run; nothing here runs anything.
//
// It also holds the words of drcheck's answer (Result), so that the
// console, which shows them, needs nothing that talks to the kernel.
package direct

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Snippet is what one real server needs for the direct-routing virtual
// servers it is in.
type Snippet struct {
	Real  netip.Addr // the real server's address
	Names []string   // its names in the virtual server asked about
	VIPs  []VIP      // every VIP it serves by direct routing, sorted
	// Commands are Linux's, to run as root now (lost at reboot).
	Commands string
	// Files make it last on Linux: a sysctl.d file, the lines for
	// ifupdown and systemd-networkd.
	Files []File
	// Other is a note for other systems, without their exact syntax.
	Other string
}

// VIP is one virtual address of a real server and the virtual servers that
// use it.
type VIP struct {
	Addr     netip.Addr
	Services []string // "www (TCP 192.0.2.10:80)"
}

// File is a configuration file's content, or the lines to add to one.
type File struct {
	Path    string
	Note    string // how to use it
	Content string
}

// Snippets gives, for each real server of vs forwarded by direct routing
// (its own method or the global one), the snippet that real server needs,
// with the VIPs of every direct-routing virtual server of cfg it is in:
// one loopback holds them all. Real servers are in vs's order, one per
// address.
func Snippets(cfg *config.Config, vs *config.VirtualServer) []Snippet {
	var out []Snippet
	index := map[netip.Addr]int{}
	for i := range vs.Reals {
		rs := &vs.Reals[i]
		if rs.EffectiveForward(&cfg.Global) != config.Direct || !usable(rs.Address) || !usable(vs.Address) {
			continue
		}
		if j, ok := index[rs.Address]; ok {
			out[j].Names = append(out[j].Names, rs.Name)
			continue
		}
		index[rs.Address] = len(out)
		out = append(out, Snippet{Real: rs.Address, Names: []string{rs.Name}})
	}
	for i := range out {
		s := &out[i]
		s.VIPs = vipsOf(cfg, s.Real)
		s.Commands = commands(s.VIPs)
		s.Files = files(s.VIPs)
		s.Other = other(s.VIPs)
	}
	return out
}

func usable(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

// vipsOf lists the VIPs of the direct-routing virtual servers real is in.
func vipsOf(cfg *config.Config, real netip.Addr) []VIP {
	byAddr := map[netip.Addr]*VIP{}
	var vips []*VIP
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		if !usable(vs.Address) {
			continue
		}
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if rs.Address != real || rs.EffectiveForward(&cfg.Global) != config.Direct {
				continue
			}
			v := byAddr[vs.Address]
			if v == nil {
				v = &VIP{Addr: vs.Address}
				byAddr[vs.Address] = v
				vips = append(vips, v)
			}
			svc := vs.Name + " (" + vs.ServiceString() + ")"
			if !slices.Contains(v.Services, svc) {
				v.Services = append(v.Services, svc)
			}
			break
		}
	}
	out := make([]VIP, len(vips))
	for i, v := range vips {
		out[i] = *v
	}
	slices.SortFunc(out, func(a, b VIP) int { return a.Addr.Unmap().Compare(b.Addr.Unmap()) })
	return out
}

func prefix(a netip.Addr) string {
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()).String()
}

func families(vips []VIP) (v4, v6 bool) {
	for _, v := range vips {
		if v.Addr.Unmap().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4, v6
}

// arpSysctls are what keep a Linux real server from answering ARP for the
// VIPs on lo: the kernel takes the larger of "all" and the interface's
// value, so "all" is enough; lo's is set as the LVS HOWTO does, which
// admins look for.
var arpSysctls = []string{
	"net.ipv4.conf.all.arp_ignore=1",
	"net.ipv4.conf.all.arp_announce=2",
	"net.ipv4.conf.lo.arp_ignore=1",
	"net.ipv4.conf.lo.arp_announce=2",
}

func commands(vips []VIP) string {
	var b strings.Builder
	for _, v := range vips {
		fmt.Fprintf(&b, "# %s: %s\n", v.Addr.Unmap(), strings.Join(v.Services, ", "))
	}
	v4, v6 := families(vips)
	if v4 {
		b.WriteString("# Answer ARP only for addresses of the interface asked, announce\n# from it: the director alone answers for the VIPs.\n")
		for _, s := range arpSysctls {
			fmt.Fprintf(&b, "sysctl -w %s\n", s)
		}
	}
	if v6 {
		b.WriteString("# IPv6 has no ARP: Linux answers neighbour solicitations only for\n# addresses of the interface asked, so a VIP on lo stays silent.\n# lo does no duplicate address detection (nodad is not needed).\n")
	}
	for _, v := range vips {
		if v.Addr.Unmap().Is4() {
			fmt.Fprintf(&b, "ip addr add %s dev lo\n", prefix(v.Addr))
		} else {
			fmt.Fprintf(&b, "ip -6 addr add %s dev lo\n", prefix(v.Addr))
		}
	}
	return b.String()
}

func files(vips []VIP) []File {
	var out []File
	if v4, _ := families(vips); v4 {
		var b strings.Builder
		b.WriteString("# Direct routing (LVS-DR): the director answers ARP for the VIPs.\n")
		for _, s := range arpSysctls {
			k, v, _ := strings.Cut(s, "=")
			fmt.Fprintf(&b, "%s = %s\n", k, v)
		}
		out = append(out, File{Path: "/etc/sysctl.d/90-lvs-dr.conf", Note: "read at boot; `sysctl --system` applies it now", Content: b.String()})
	}
	var up, networkd strings.Builder
	up.WriteString("auto lo\niface lo inet loopback\n")
	networkd.WriteString("[Match]\nName=lo\n\n[Network]\n# keep the loopback's own addresses\nAddress=127.0.0.1/8\nAddress=::1/128\n")
	for _, v := range vips {
		fam := ""
		if !v.Addr.Unmap().Is4() {
			fam = "-6 "
		}
		fmt.Fprintf(&up, "    post-up ip %saddr add %s dev lo\n", fam, prefix(v.Addr))
		fmt.Fprintf(&up, "    pre-down ip %saddr del %s dev lo\n", fam, prefix(v.Addr))
		fmt.Fprintf(&networkd, "Address=%s\n", prefix(v.Addr))
	}
	out = append(out,
		File{Path: "/etc/network/interfaces", Note: "ifupdown (Debian): lo's stanza", Content: up.String()},
		File{Path: "/etc/systemd/network/10-lo-vip.network", Note: "systemd-networkd: instead of the ifupdown lines", Content: networkd.String()})
	return out
}

func other(vips []VIP) string {
	var list []string
	for _, v := range vips {
		list = append(list, prefix(v.Addr))
	}
	return "Other systems: the VIPs (" + strings.Join(list, ", ") + ") go on a loopback interface, with a host mask, " +
		"and the system must neither answer ARP for them nor announce them. " +
		"FreeBSD and the other BSDs: an alias on lo0 (ifconfig lo0 alias ADDRESS/32, or inet6 ADDRESS/128 alias; " +
		"an ifconfig_lo0_alias0 line in rc.conf keeps it); they answer ARP only for the receiving interface's addresses. " +
		"Windows: a loopback adapter (Microsoft KM-TEST Loopback Adapter) with the VIPs, mask 255.255.255.255, " +
		"and weak host receive and send enabled on it and on the network interface (netsh interface ipv4 set interface ... " +
		"weakhostreceive=enabled weakhostsend=enabled). Check the system's own documentation for the exact steps."
}
