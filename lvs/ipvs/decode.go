package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// Replies carry nested attributes without NLA_F_NESTED (the kernel uses
// nla_nest_start_noflag), 16-byte addresses whatever the family, and both
// STATS and STATS64. Unknown attributes are skipped: newer kernels add
// some.

// decodeService decodes the NEW_SERVICE message answering GET_SERVICE.
func decodeService(m genetlink.Message) (Service, error) {
	var s Service
	a, err := nested(m.Data, cmdAttrService)
	if err != nil {
		return Service{}, err
	}
	// Called in place, the closure keeps a on the stack.
	err = func(a *attrs) error {
		var addr, mask []byte
		var stats, stats64 Stats
		var haveStats, haveStats64 bool
		for a.next() {
			switch a.typ {
			case svcAttrAF:
				s.Family = a.u16()
			case svcAttrProtocol:
				s.Protocol = Protocol(a.u16())
			case svcAttrAddr:
				addr = a.val
			case svcAttrPort:
				s.Port = a.be16()
			case svcAttrFWMark:
				s.FWMark = a.u32()
			case svcAttrSchedName:
				s.Scheduler = a.str()
			case svcAttrPEName:
				s.PEName = a.str()
			case svcAttrFlags:
				if len(a.val) < 4 {
					return fmt.Errorf("service flags: %d bytes", len(a.val))
				}
				s.Flags = Flags(binary.NativeEndian.Uint32(a.val)) &^ FlagHashed
			case svcAttrTimeout:
				s.Timeout = a.u32()
			case svcAttrNetmask:
				mask = a.val
			case svcAttrStats:
				haveStats = true
				a.stats(&stats, false)
			case svcAttrStats64:
				haveStats64 = true
				a.stats(&stats64, true)
			}
		}
		if a.err != nil {
			return a.err
		}
		if s.FWMark == 0 {
			var err error
			if s.Addr, err = addrFrom(s.Family, addr); err != nil {
				return fmt.Errorf("service address: %w", err)
			}
		}
		if len(mask) == 4 {
			if s.Family == FamilyIPv6 {
				s.Netmask = binary.NativeEndian.Uint32(mask)
			} else {
				s.Netmask = binary.BigEndian.Uint32(mask)
			}
		}
		s.Stats = pickStats(haveStats, stats, haveStats64, stats64)
		return nil
	}(&a)
	return s, err
}

// decodeDest decodes one NEW_DEST message of a GET_DEST dump. Kernels
// before mixed-family pools send no ADDR_FAMILY: the service's applies.
func decodeDest(m genetlink.Message, serviceFamily uint16) (Destination, error) {
	var d Destination
	a, err := nested(m.Data, cmdAttrDest)
	if err != nil {
		return Destination{}, err
	}
	// Called in place, the closure keeps a on the stack.
	err = func(a *attrs) error {
		var addr []byte
		var stats, stats64 Stats
		var haveStats, haveStats64 bool
		for a.next() {
			switch a.typ {
			case destAttrAddr:
				addr = a.val
			case destAttrPort:
				d.Port = a.be16()
			case destAttrFwdMethod:
				d.Forward = Forward(a.u32() & fwdMask)
			case destAttrWeight:
				d.Weight = int32(a.u32())
			case destAttrUThresh:
				d.UpperThreshold = a.u32()
			case destAttrLThresh:
				d.LowerThreshold = a.u32()
			case destAttrActiveConns:
				d.ActiveConns = a.u32()
			case destAttrInactConns:
				d.InactiveConns = a.u32()
			case destAttrPersistConns:
				d.PersistConns = a.u32()
			case destAttrAddrFamily:
				d.Family = a.u16()
			case destAttrTunType:
				d.TunnelType = TunnelType(a.u8())
			case destAttrTunPort:
				d.TunnelPort = a.be16()
			case destAttrTunFlags:
				d.TunnelFlags = a.u16()
			case destAttrStats:
				haveStats = true
				a.stats(&stats, false)
			case destAttrStats64:
				haveStats64 = true
				a.stats(&stats64, true)
			}
		}
		if a.err != nil {
			return a.err
		}
		if d.Family == 0 {
			d.Family = serviceFamily
		}
		var err error
		if d.Addr, err = addrFrom(d.Family, addr); err != nil {
			return fmt.Errorf("destination address: %w", err)
		}
		d.Stats = pickStats(haveStats, stats, haveStats64, stats64)
		return nil
	}(&a)
	return d, err
}

// decodeDaemon decodes one NEW_DAEMON message of a GET_DAEMON dump.
func decodeDaemon(m genetlink.Message) (Daemon, error) {
	var d Daemon
	err := decodeNested(m.Data, cmdAttrDaemon, func(ad *netlink.AttributeDecoder) error {
		for ad.Next() {
			switch ad.Type() {
			case daemonAttrState:
				d.State = DaemonState(ad.Uint32())
			case daemonAttrMcastIfn:
				d.Interface = ad.String()
			case daemonAttrSyncID:
				d.SyncID = uint8(ad.Uint32()) // the kernel keeps a u8
			case daemonAttrSyncMaxLen:
				d.MaxLen = ad.Uint16()
			case daemonAttrMcastGroup:
				ad.Do(func(b []byte) error {
					var ok bool
					if d.McastGroup, ok = netip.AddrFromSlice(b); !ok || !d.McastGroup.Is4() {
						return fmt.Errorf("multicast group: %d bytes", len(b))
					}
					return nil
				})
			case daemonAttrMcastGroup6:
				ad.Do(func(b []byte) error {
					var ok bool
					if d.McastGroup, ok = netip.AddrFromSlice(b); !ok || !d.McastGroup.Is6() {
						return fmt.Errorf("IPv6 multicast group: %d bytes", len(b))
					}
					return nil
				})
			case daemonAttrMcastPort:
				d.McastPort = ad.Uint16()
			case daemonAttrMcastTTL:
				d.McastTTL = ad.Uint8()
			}
		}
		return ad.Err()
	})
	return d, err
}

// decodeInfo decodes SET_INFO, whose attributes are not nested.
func decodeInfo(m genetlink.Message) (Info, error) {
	var i Info
	ad, err := netlink.NewAttributeDecoder(m.Data)
	if err != nil {
		return i, err
	}
	for ad.Next() {
		switch ad.Type() {
		case infoAttrVersion:
			i.Version = ad.Uint32()
		case infoAttrConnTabSize:
			i.ConnTableSize = ad.Uint32()
		}
	}
	return i, ad.Err()
}

// decodeTimeouts decodes SET_CONFIG, whose attributes are not nested.
func decodeTimeouts(m genetlink.Message) (Timeouts, error) {
	var t Timeouts
	ad, err := netlink.NewAttributeDecoder(m.Data)
	if err != nil {
		return t, err
	}
	seconds := func() time.Duration { return time.Duration(ad.Uint32()) * time.Second }
	for ad.Next() {
		switch ad.Type() {
		case cmdAttrTimeoutTCP:
			t.TCP = seconds()
		case cmdAttrTimeoutTCPFin:
			t.TCPFin = seconds()
		case cmdAttrTimeoutUDP:
			t.UDP = seconds()
		}
	}
	return t, ad.Err()
}

// pickStats prefers STATS64: STATS truncates packet counts to 32 bits.
func pickStats(have bool, stats Stats, have64 bool, stats64 Stats) Stats {
	switch {
	case have64:
		return stats64
	case have:
		return stats
	}
	return Stats{}
}

// decodeNested finds the first-level attribute typ in b and hands its
// contents to fn.
func decodeNested(b []byte, typ uint16, fn func(*netlink.AttributeDecoder) error) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return err
	}
	found := false
	for ad.Next() {
		if ad.Type() == typ && !found {
			found = true
			ad.Nested(fn)
		}
	}
	if err := ad.Err(); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("reply has no attribute %d", typ)
	}
	return nil
}

// addrFrom decodes an address attribute: replies carry 16 bytes for either
// family, an IPv4 address in the first 4.
func addrFrom(family uint16, b []byte) (netip.Addr, error) {
	switch family {
	case FamilyIPv4:
		if len(b) < 4 {
			return netip.Addr{}, fmt.Errorf("%d bytes for an IPv4 address", len(b))
		}
		return netip.AddrFrom4([4]byte(b[:4])), nil
	case FamilyIPv6:
		if len(b) < 16 {
			return netip.Addr{}, fmt.Errorf("%d bytes for an IPv6 address", len(b))
		}
		return netip.AddrFrom16([16]byte(b[:16])), nil
	case 0:
		return netip.Addr{}, errors.New("no address family")
	}
	return netip.Addr{}, fmt.Errorf("unknown address family %d", family)
}
