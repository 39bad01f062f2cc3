package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// The kernel reads ports with nla_get_be16 although its policy says NLA_U16,
// and a persistence netmask with nla_get_be32 for IPv4; everything else is
// in host order, which is what netlink.AttributeEncoder writes by default.

// encodeServiceKey writes the attributes that identify a service: AF plus
// either FWMARK or PROTOCOL, ADDR and PORT (ip_vs_genl_parse_service).
func encodeServiceKey(ae *attrBuf, k ServiceKey) error {
	ae.u16(svcAttrAF, k.Family)
	if k.FWMark != 0 {
		ae.u32(svcAttrFWMark, k.FWMark)
		return nil
	}
	addr, err := addr16(k.Family, k.Addr)
	if err != nil {
		return fmt.Errorf("service address: %w", err)
	}
	ae.u16(svcAttrProtocol, uint16(k.Protocol))
	ae.put(svcAttrAddr, addr...)
	ae.put(svcAttrPort, be16(k.Port)...)
	return nil
}

// encodeService writes a full service, as NEW_SERVICE and SET_SERVICE need:
// the kernel answers EINVAL if SCHED_NAME, FLAGS, TIMEOUT or NETMASK is
// missing, even when editing.
func encodeService(ae *attrBuf, s *Service) error {
	if err := encodeServiceKey(ae, s.ServiceKey); err != nil {
		return err
	}
	if err := checkName("scheduler", s.Scheduler, false); err != nil {
		return err
	}
	if err := checkName("persistence engine", s.PEName, true); err != nil {
		return err
	}
	ae.str(svcAttrSchedName, s.Scheduler)
	if s.PEName != "" {
		// Without PE_NAME, SET_SERVICE unbinds the service's engine.
		ae.str(svcAttrPEName, s.PEName)
	}

	// struct ip_vs_flags: the kernel keeps (old & ^mask) | (flags & mask).
	// An all-ones mask makes the flags sent the flags set. HASHED is the
	// kernel's own bookkeeping and is never sent.
	flags := make([]byte, 8)
	binary.NativeEndian.PutUint32(flags[0:4], uint32(s.Flags&^FlagHashed))
	binary.NativeEndian.PutUint32(flags[4:8], ^uint32(0))
	ae.put(svcAttrFlags, flags...)

	ae.u32(svcAttrTimeout, s.Timeout)
	mask, err := netmaskBytes(s.Family, s.Netmask)
	if err != nil {
		return err
	}
	ae.put(svcAttrNetmask, mask...)
	return nil
}

// netmaskBytes encodes the persistence netmask. For IPv4 the kernel stores
// the attribute as a __be32 (nla_get_be32), so the mask goes in network
// order: ff ff ff 00 for /24. For IPv6 it stores the prefix length in the
// same field and reads it back as a host-order number, refusing anything
// outside 1-128 even for services that are not persistent. Zero selects a
// whole address (/32 or /128), as ipvsadm does.
func netmaskBytes(family uint16, mask uint32) ([]byte, error) {
	b := make([]byte, 4)
	switch family {
	case FamilyIPv6:
		if mask == 0 {
			mask = 128
		}
		if mask > 128 {
			return nil, fmt.Errorf("IPv6 persistence prefix length %d is not in 1-128: %w", mask, syscall.EINVAL)
		}
		binary.NativeEndian.PutUint32(b, mask)
	default:
		if mask == 0 {
			mask = 0xffffffff
		}
		binary.BigEndian.PutUint32(b, mask)
	}
	return b, nil
}

// encodeDest writes the nested DEST attribute. full adds what NEW_DEST and
// SET_DEST need beyond the address and port that identify it.
func encodeDest(ae *attrBuf, d *Destination, full bool) error {
	family, err := destFamily(d.Family, d.Addr)
	if err != nil {
		return err
	}
	addr, err := addr16(family, d.Addr)
	if err != nil {
		return fmt.Errorf("destination address: %w", err)
	}
	return ae.nested(cmdAttrDest, func(nae *attrBuf) error {
		nae.put(destAttrAddr, addr...)
		nae.put(destAttrPort, be16(d.Port)...)
		// Sent always: a kernel that predates mixed-family pools ignores
		// it, and the newer ones need it for those pools.
		nae.u16(destAttrAddrFamily, family)
		if !full {
			return nil
		}
		nae.u32(destAttrFwdMethod, uint32(d.Forward)&fwdMask)
		nae.u32(destAttrWeight, uint32(d.Weight)) // the kernel refuses < 0 with ERANGE
		nae.u32(destAttrUThresh, d.UpperThreshold)
		nae.u32(destAttrLThresh, d.LowerThreshold)
		if d.Forward == Tunnel {
			nae.u8(destAttrTunType, uint8(d.TunnelType))
			nae.put(destAttrTunPort, be16(d.TunnelPort)...)
			nae.u16(destAttrTunFlags, d.TunnelFlags)
		}
		return nil
	})
}

// destFamily is the destination's address family: as given, or else the
// family of its address.
func destFamily(family uint16, a netip.Addr) (uint16, error) {
	if family != 0 {
		return family, nil
	}
	switch {
	case !a.IsValid():
		return 0, errors.New("destination has no address")
	case a.Is4():
		return FamilyIPv4, nil
	default:
		return FamilyIPv6, nil
	}
}

// encodeDaemon writes the nested DAEMON attribute of NEW_DAEMON. The
// optional attributes are left out when zero so that the kernel picks its
// defaults (group 224.0.0.81, port 8848, TTL 1, a length from the MTU).
func encodeDaemon(ae *attrBuf, d *Daemon) error {
	if err := checkName("interface", d.Interface, false); err != nil {
		return err
	}
	return ae.nested(cmdAttrDaemon, func(nae *attrBuf) error {
		nae.u32(daemonAttrState, uint32(d.State))
		nae.str(daemonAttrMcastIfn, d.Interface)
		nae.u32(daemonAttrSyncID, uint32(d.SyncID))
		if d.MaxLen != 0 {
			nae.u16(daemonAttrSyncMaxLen, d.MaxLen)
		}
		switch g := d.McastGroup; {
		case g.Is4():
			a := g.As4() // nla_get_in_addr: network order
			nae.put(daemonAttrMcastGroup, a[:]...)
		case g.Is6():
			a := g.As16()
			nae.put(daemonAttrMcastGroup6, a[:]...)
		}
		if d.McastPort != 0 {
			nae.u16(daemonAttrMcastPort, d.McastPort) // host order
		}
		if d.McastTTL != 0 {
			nae.u8(daemonAttrMcastTTL, d.McastTTL)
		}
		return nil
	})
}

// addr16 encodes an address as ipvsadm does: 16 bytes, an IPv4 address in
// the first 4 and zeros after it (the kernel copies a union nf_inet_addr).
func addr16(family uint16, a netip.Addr) ([]byte, error) {
	b := make([]byte, 16)
	switch family {
	case FamilyIPv4:
		if a = a.Unmap(); !a.Is4() {
			return nil, fmt.Errorf("%v is not an IPv4 address", a)
		}
		a4 := a.As4()
		copy(b, a4[:])
	case FamilyIPv6:
		if !a.Is6() {
			return nil, fmt.Errorf("%v is not an IPv6 address", a)
		}
		a16 := a.As16()
		copy(b, a16[:])
	default:
		return nil, fmt.Errorf("address family %d: %w", family, syscall.EAFNOSUPPORT)
	}
	return b, nil
}

// be16 encodes a port in network byte order.
func be16(v uint16) []byte {
	return binary.BigEndian.AppendUint16(nil, v)
}

// checkName refuses names the kernel would refuse less clearly: its policy
// allows 15 bytes and a NUL, and an unknown empty scheduler reads as ENOENT.
func checkName(what, name string, optional bool) error {
	switch {
	case name == "" && !optional:
		return fmt.Errorf("no %s name", what)
	case len(name) > maxNameLen:
		return fmt.Errorf("%s name %q is longer than %d bytes", what, name, maxNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%s name %q contains a NUL byte", what, name)
	}
	return nil
}
