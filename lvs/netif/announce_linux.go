package netif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// Announce tells the LAN on device that ip is now here: ONE gratuitous ARP
// for IPv4 (an ARP request with sender = target = ip, from the device's
// MAC, to broadcast) or ONE unsolicited neighbour advertisement for IPv6
// (to ff02::1, override flag set, with the target link-layer address
// option, sent from ip itself, which must therefore be on device).
// Repetition (piranha sends 5, 1 s apart) is the caller's job.
//
// Receivers only update entries they already have: Linux by default
// creates none from a gratuitous ARP (arp_accept=0) nor from an
// unsolicited advertisement (accept_untracked_na=0), never changes a
// PERMANENT entry, and leaves an IPv6 entry in state FAILED alone. That is
// what a failover needs: the hosts that talked to the old director are the
// ones that cache its MAC. It works in the calling thread's namespace.
func Announce(ctx context.Context, device string, ip netip.Addr) error {
	err := announce(ctx, device, ip)
	if err != nil {
		return fmt.Errorf("netif: announce %s on %s: %w", ip, device, err)
	}
	return nil
}

func announce(ctx context.Context, device string, ip netip.Addr) error {
	if err := checkDevice(device); err != nil {
		return err
	}
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() {
		return errors.New("not a unicast address")
	}
	ip = ip.WithZone("").Unmap()
	if err := ctx.Err(); err != nil {
		return err
	}
	ifi, err := interfaceByName(device)
	if err != nil {
		return err
	}
	if len(ifi.HardwareAddr) != 6 {
		return errors.New("device has no Ethernet address")
	}
	if ip.Is4() {
		return gratuitousARP(ctx, ifi, ip)
	}
	return unsolicitedNA(ctx, ifi, ip)
}

// interfaceByName is net.InterfaceByName with a missing device reported as
// ErrNoDevice (net's own error for it is not exported).
func interfaceByName(device string) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		if ifs[i].Name == device {
			return &ifs[i], nil
		}
	}
	return nil, ErrNoDevice
}

func gratuitousARP(ctx context.Context, ifi *net.Interface, ip netip.Addr) error {
	// Target hardware address broadcast, as iputils' arping -U and
	// keepalived send it; receivers ignore it in a request.
	p, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, ip, ethernet.Broadcast, ip)
	if err != nil {
		return err
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	// A datagram socket: the kernel writes the Ethernet header, from the
	// device's MAC to the address given below.
	c, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetWriteDeadline(dl); err != nil {
			return err
		}
	}
	_, err = c.WriteTo(b, &packet.Addr{HardwareAddr: ethernet.Broadcast})
	return err
}

func unsolicitedNA(ctx context.Context, ifi *net.Interface, ip netip.Addr) error {
	if !hasAddr(ifi, ip) {
		return errors.New("address is not on the device (add it first: the advertisement is sent from it)")
	}
	c, _, err := ndp.Listen(ifi, ndp.Addr(ip.String()))
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetWriteDeadline(dl); err != nil {
			return err
		}
	}
	na := &ndp.NeighborAdvertisement{
		// Linux marks its own unsolicited advertisements as a router's when
		// the device forwards; a receiver that saw R=0 from its default
		// router would drop its routes through it (NAT real servers route
		// through the director's floating address).
		Router:        ipv6DeviceForwarding(ifi.Name),
		Override:      true,
		TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{
			Direction: ndp.Target,
			Addr:      ifi.HardwareAddr,
		}},
	}
	return c.WriteTo(na, nil, netip.IPv6LinkLocalAllNodes())
}

func hasAddr(ifi *net.Interface, ip netip.Addr) bool {
	addrs, err := ifi.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if x, ok := netip.AddrFromSlice(n.IP); ok && x.Unmap() == ip {
				return true
			}
		}
	}
	return false
}
