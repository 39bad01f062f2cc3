package drcheck

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/lvsconsole/lvsconsole/lvs/direct"
)

// probe runs one check of t: the route and MAC address of the real
// server, then the SYN and its answer, each within timeout.
func probe(ctx context.Context, t direct.Target, timeout time.Duration) direct.Result {
	r := direct.Result{Target: t, At: time.Now()}
	fail := func(format string, a ...any) direct.Result {
		r.Outcome, r.Detail = direct.Failed, fmt.Sprintf(format, a...)
		return r
	}
	if !t.VIP.IsValid() || !t.Real.IsValid() || t.VIP.Is4() != t.Real.Is4() {
		return fail("the VIP %s and the real server %s are not of one address family, as direct routing needs", t.VIP, t.Real)
	}
	nl, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return fail("rtnetlink: %v", err)
	}
	defer nl.Close()
	rt, err := routeTo(nl, t.Real)
	if err != nil {
		return fail("route to %s: %v", t.Real, err)
	}
	switch {
	case rt.local:
		return fail("%s is an address of this director", t.Real)
	case rt.gateway.IsValid():
		return fail("%s is reached through the gateway %s: direct routing needs the real server on a network of the director's", t.Real, rt.gateway)
	case !rt.src.IsValid():
		return fail("no source address to reach %s", t.Real)
	}
	ifi, err := net.InterfaceByIndex(rt.ifindex)
	if err != nil {
		return fail("the interface to %s: %v", t.Real, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return fail("the interface to %s, %s, is not Ethernet", t.Real, ifi.Name)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	mac, err := neighbour(rctx, nl, rt.ifindex, t.Real)
	cancel()
	if err != nil {
		return fail("the MAC address of %s on %s: %v", t.Real, ifi.Name, err)
	}

	port, release, err := reservePort(rt.src)
	if err != nil {
		return fail("reserve a source port: %v", err)
	}
	defer release()
	s := &syn{src: rt.src, vip: t.VIP, sport: port, dport: t.Port, isn: rand.Uint32(), from: ifi.HardwareAddr, to: mac}
	proto := unix.ETH_P_IP
	if t.VIP.Is6() {
		proto = unix.ETH_P_IPV6
	}
	c, err := packet.Listen(ifi, packet.Raw, proto, &packet.Config{Filter: s.filter()})
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fail("open a packet socket on %s (needs CAP_NET_RAW): %v", ifi.Name, err)
		}
		return fail("open a packet socket on %s: %v", ifi.Name, err)
	}
	defer c.Close()
	ctx, cancel = context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	sent := time.Now()
	r.At = sent
	if _, err := c.WriteTo(s.frame(tcpSYN, s.isn), &packet.Addr{HardwareAddr: mac}); err != nil {
		return fail("send the SYN on %s: %v", ifi.Name, err)
	}
	buf := make([]byte, 1600)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				r.Outcome, r.RTT = direct.Silent, time.Since(sent).Round(time.Millisecond)
				return r
			}
			return fail("read the answer on %s: %v", ifi.Name, err)
		}
		got, detail, ok := s.match(buf[:n])
		if !ok {
			continue
		}
		r.Outcome, r.Detail, r.RTT = got, detail, time.Since(sent)
		if got == direct.Accepted {
			// End the half-open connection on the real server (RFC 9293:
			// a reset's sequence number is the acknowledgement received).
			c.WriteTo(s.frame(tcpRST, s.isn+1), &packet.Addr{HardwareAddr: mac})
		}
		return r
	}
}

// route is the kernel's way to a real server.
type route struct {
	ifindex int
	src     netip.Addr
	gateway netip.Addr
	local   bool
}

// routeTo asks the kernel how it reaches dst (ip route get).
func routeTo(nl *netlink.Conn, dst netip.Addr) (route, error) {
	var rt route
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, dst.AsSlice())
	attrs, err := ae.Encode()
	if err != nil {
		return rt, err
	}
	hdr := make([]byte, unix.SizeofRtMsg)
	hdr[0] = family(dst)
	hdr[1] = uint8(dst.BitLen())
	msgs, err := nl.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETROUTE, Flags: netlink.Request},
		Data:   append(hdr, attrs...),
	})
	if err != nil {
		return rt, err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofRtMsg {
		return rt, errors.New("unexpected answer from the kernel")
	}
	m := msgs[0].Data
	rt.local = m[7] == unix.RTN_LOCAL
	ad, err := netlink.NewAttributeDecoder(m[unix.SizeofRtMsg:])
	if err != nil {
		return rt, err
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.RTA_OIF:
			rt.ifindex = int(ad.Uint32())
		case unix.RTA_PREFSRC:
			rt.src, _ = netip.AddrFromSlice(ad.Bytes())
		case unix.RTA_GATEWAY:
			rt.gateway, _ = netip.AddrFromSlice(ad.Bytes())
		}
	}
	return rt, ad.Err()
}

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// Neighbour states with a MAC address to use.
const nudValid = unix.NUD_REACHABLE | unix.NUD_STALE | unix.NUD_DELAY | unix.NUD_PROBE | unix.NUD_PERMANENT

// resolvePoll is how often the neighbour table is read while the kernel
// resolves an address (ARP takes well under a millisecond on a LAN).
const resolvePoll = 5 * time.Millisecond

// neighbour returns ip's MAC address on the interface: from the kernel's
// neighbour table, after asking the kernel to resolve it (ARP, NDP) if it
// has none, as `ip neigh replace ADDR dev DEV use` does.
func neighbour(ctx context.Context, nl *netlink.Conn, ifindex int, ip netip.Addr) (net.HardwareAddr, error) {
	asked := false
	tick := time.NewTicker(resolvePoll)
	defer tick.Stop()
	for {
		mac, state, err := neighGet(nl, ifindex, ip)
		if err != nil {
			return nil, err
		}
		if state&nudValid != 0 && len(mac) == 6 {
			return mac, nil
		}
		if !asked {
			if err := neighUse(nl, ifindex, ip); err != nil {
				return nil, fmt.Errorf("ask the kernel to resolve it: %w", err)
			}
			asked = true
		}
		select {
		case <-ctx.Done():
			return nil, errors.New("no answer to ARP or neighbour solicitation (is the real server up, on this network?)")
		case <-tick.C:
		}
	}
}

// ndmsg is struct ndmsg with its NDA_DST.
func ndmsg(ifindex int, ip netip.Addr, flags uint8) []byte {
	b := make([]byte, unix.SizeofNdMsg)
	b[0] = family(ip)
	binary.NativeEndian.PutUint32(b[4:], uint32(ifindex))
	b[10] = flags
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.NDA_DST, ip.AsSlice())
	attrs, _ := ae.Encode()
	return append(b, attrs...)
}

// neighGet reads ip's entry (ip neigh get); none is state 0.
func neighGet(nl *netlink.Conn, ifindex int, ip netip.Addr) (net.HardwareAddr, uint16, error) {
	msgs, err := nl.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETNEIGH, Flags: netlink.Request},
		Data:   ndmsg(ifindex, ip, 0),
	})
	if errors.Is(err, unix.ENOENT) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofNdMsg {
		return nil, 0, errors.New("unexpected answer from the kernel")
	}
	m := msgs[0].Data
	state := binary.NativeEndian.Uint16(m[8:])
	ad, err := netlink.NewAttributeDecoder(m[unix.SizeofNdMsg:])
	if err != nil {
		return nil, 0, err
	}
	var mac net.HardwareAddr
	for ad.Next() {
		if ad.Type() == unix.NDA_LLADDR {
			mac = net.HardwareAddr(ad.Bytes())
		}
	}
	return mac, state, ad.Err()
}

// neighUse makes the kernel resolve ip now (NTF_USE), creating its entry
// if there is none: the kernel's own ARP or NDP, from its own source
// address, with its own retries.
func neighUse(nl *netlink.Conn, ifindex int, ip netip.Addr) error {
	_, err := nl.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWNEIGH, Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace},
		Data:   ndmsg(ifindex, ip, unix.NTF_USE),
	})
	return err
}

// reservePort binds a TCP socket to src and an ephemeral port, and keeps
// it, never listening, while the check runs: no connection of this host
// can use the port, and the kernel resets what reaches it.
func reservePort(src netip.Addr) (uint16, func(), error) {
	domain, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Addr: src.As16()})
	if src.Is4() {
		domain, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: src.As4()}
	}
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return 0, nil, err
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return 0, nil, err
	}
	var port int
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	return uint16(port), func() { unix.Close(fd) }, nil
}

// filter keeps, in the kernel, the TCP segments to the reserved port and
// the ICMP errors (matched to the SYN in match).
func (s *syn) filter() []bpf.RawInstruction {
	var prog []bpf.Instruction
	if s.vip.Is4() {
		prog = []bpf.Instruction{
			bpf.LoadAbsolute{Off: 14 + 9, Size: 1}, // protocol
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_ICMP, SkipTrue: 4},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_TCP, SkipFalse: 4},
			bpf.LoadMemShift{Off: 14},              // x = IPv4 header length
			bpf.LoadIndirect{Off: 14 + 2, Size: 2}, // TCP destination port
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(s.sport), SkipFalse: 1},
			bpf.RetConstant{Val: 0xffff},
			bpf.RetConstant{Val: 0},
		}
	} else {
		// Segments with extension headers are not seen: answers have none.
		prog = []bpf.Instruction{
			bpf.LoadAbsolute{Off: 14 + 6, Size: 1}, // next header
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_ICMPV6, SkipTrue: 3},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.IPPROTO_TCP, SkipFalse: 3},
			bpf.LoadAbsolute{Off: 14 + 40 + 2, Size: 2}, // TCP destination port
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(s.sport), SkipFalse: 1},
			bpf.RetConstant{Val: 0xffff},
			bpf.RetConstant{Val: 0},
		}
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic(err) // a constant program
	}
	return raw
}
