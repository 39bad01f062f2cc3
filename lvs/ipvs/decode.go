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
	err := decodeNested(m.Data, cmdAttrService, func(ad *netlink.AttributeDecoder) error {
		var addr, mask []byte
		var stats, stats64 *Stats
		for ad.Next() {
			switch ad.Type() {
			case svcAttrAF:
				s.Family = ad.Uint16()
			case svcAttrProtocol:
				s.Protocol = Protocol(ad.Uint16())
			case svcAttrAddr:
				addr = ad.Bytes()
			case svcAttrPort:
				s.Port = readBE16(ad)
			case svcAttrFWMark:
				s.FWMark = ad.Uint32()
			case svcAttrSchedName:
				s.Scheduler = ad.String()
			case svcAttrPEName:
				s.PEName = ad.String()
			case svcAttrFlags:
				ad.Do(func(b []byte) error {
					if len(b) < 4 {
						return fmt.Errorf("service flags: %d bytes", len(b))
					}
					s.Flags = Flags(binary.NativeEndian.Uint32(b)) &^ FlagHashed
					return nil
				})
			case svcAttrTimeout:
				s.Timeout = ad.Uint32()
			case svcAttrNetmask:
				mask = ad.Bytes()
			case svcAttrStats:
				stats = new(Stats)
				ad.Nested(decodeStats(stats, false))
			case svcAttrStats64:
				stats64 = new(Stats)
				ad.Nested(decodeStats(stats64, true))
			}
		}
		if err := ad.Err(); err != nil {
			return err
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
		s.Stats = pickStats(stats, stats64)
		return nil
	})
	return s, err
}

// decodeDest decodes one NEW_DEST message of a GET_DEST dump. Kernels
// before mixed-family pools send no ADDR_FAMILY: the service's applies.
func decodeDest(m genetlink.Message, serviceFamily uint16) (Destination, error) {
	var d Destination
	err := decodeNested(m.Data, cmdAttrDest, func(ad *netlink.AttributeDecoder) error {
		var addr []byte
		var stats, stats64 *Stats
		for ad.Next() {
			switch ad.Type() {
			case destAttrAddr:
				addr = ad.Bytes()
			case destAttrPort:
				d.Port = readBE16(ad)
			case destAttrFwdMethod:
				d.Forward = Forward(ad.Uint32() & fwdMask)
			case destAttrWeight:
				d.Weight = ad.Int32()
			case destAttrUThresh:
				d.UpperThreshold = ad.Uint32()
			case destAttrLThresh:
				d.LowerThreshold = ad.Uint32()
			case destAttrActiveConns:
				d.ActiveConns = ad.Uint32()
			case destAttrInactConns:
				d.InactiveConns = ad.Uint32()
			case destAttrPersistConns:
				d.PersistConns = ad.Uint32()
			case destAttrAddrFamily:
				d.Family = ad.Uint16()
			case destAttrTunType:
				d.TunnelType = TunnelType(ad.Uint8())
			case destAttrTunPort:
				d.TunnelPort = readBE16(ad)
			case destAttrTunFlags:
				d.TunnelFlags = ad.Uint16()
			case destAttrStats:
				stats = new(Stats)
				ad.Nested(decodeStats(stats, false))
			case destAttrStats64:
				stats64 = new(Stats)
				ad.Nested(decodeStats(stats64, true))
			}
		}
		if err := ad.Err(); err != nil {
			return err
		}
		if d.Family == 0 {
			d.Family = serviceFamily
		}
		var err error
		if d.Addr, err = addrFrom(d.Family, addr); err != nil {
			return fmt.Errorf("destination address: %w", err)
		}
		d.Stats = pickStats(stats, stats64)
		return nil
	})
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

// decodeStats decodes the counters nested in STATS (32-bit packet and
// connection counters and rates, 64-bit byte counters) or STATS64 (all
// 64-bit).
func decodeStats(s *Stats, wide bool) func(*netlink.AttributeDecoder) error {
	return func(ad *netlink.AttributeDecoder) error {
		for ad.Next() {
			var p *uint64
			switch ad.Type() {
			case statsAttrConns:
				p = &s.Conns
			case statsAttrInPkts:
				p = &s.InPkts
			case statsAttrOutPkts:
				p = &s.OutPkts
			case statsAttrInBytes:
				s.InBytes = ad.Uint64()
				continue
			case statsAttrOutBytes:
				s.OutBytes = ad.Uint64()
				continue
			case statsAttrCPS:
				p = &s.CPS
			case statsAttrInPPS:
				p = &s.InPPS
			case statsAttrOutPPS:
				p = &s.OutPPS
			case statsAttrInBPS:
				p = &s.InBPS
			case statsAttrOutBPS:
				p = &s.OutBPS
			default:
				continue // IPVS_STATS_ATTR_PAD, or newer counters
			}
			if wide {
				*p = ad.Uint64()
			} else {
				*p = uint64(ad.Uint32())
			}
		}
		return ad.Err()
	}
}

// pickStats prefers STATS64: STATS truncates packet counts to 32 bits.
func pickStats(stats, stats64 *Stats) Stats {
	switch {
	case stats64 != nil:
		return *stats64
	case stats != nil:
		return *stats
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

// readBE16 reads a big-endian port.
func readBE16(ad *netlink.AttributeDecoder) uint16 {
	var v uint16
	ad.Do(func(b []byte) error {
		if len(b) != 2 {
			return fmt.Errorf("port attribute %d: %d bytes", ad.Type(), len(b))
		}
		v = binary.BigEndian.Uint16(b)
		return nil
	})
	return v
}
