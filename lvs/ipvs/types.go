// Package ipvs is a client of the kernel's IP Virtual Server over generic
// netlink: services, destinations, timeouts, the connection sync daemon and
// counters, without forking ipvsadm. The ABI is described in
// docs/ipvs-netlink.md and include/uapi/linux/ip_vs.h.
package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Protocol is an IP protocol number.
type Protocol uint16

const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case SCTP:
		return "SCTP"
	}
	return fmt.Sprintf("proto-%d", uint16(p))
}

// Address families, as the kernel numbers them.
const (
	FamilyIPv4 uint16 = 2  // AF_INET
	FamilyIPv6 uint16 = 10 // AF_INET6
)

// Forward is a destination's packet-forwarding method.
type Forward uint32

const (
	Masquerade  Forward = 0 // NAT
	LocalNode   Forward = 1
	Tunnel      Forward = 2
	DirectRoute Forward = 3
	Bypass      Forward = 4
)

func (f Forward) String() string {
	switch f {
	case Masquerade:
		return "Masq"
	case LocalNode:
		return "Local"
	case Tunnel:
		return "Tunnel"
	case DirectRoute:
		return "Route"
	case Bypass:
		return "Bypass"
	}
	return fmt.Sprintf("fwd-%d", uint32(f))
}

// TunnelType is the encapsulation of a Tunnel destination.
type TunnelType uint8

const (
	TunnelIPIP TunnelType = 0
	TunnelGUE  TunnelType = 1
	TunnelGRE  TunnelType = 2
)

// Tunnel checksum flags.
const (
	TunnelNoChecksum     uint16 = 0
	TunnelChecksum       uint16 = 1
	TunnelRemoteChecksum uint16 = 2
)

// Flags are a service's flags.
type Flags uint32

const (
	FlagPersistent Flags = 0x1
	FlagHashed     Flags = 0x2 // kernel-internal: masked off when read
	FlagOnePacket  Flags = 0x4
	FlagSched1     Flags = 0x8  // sh/mh: fall back when the hashed server is unavailable
	FlagSched2     Flags = 0x10 // sh/mh: hash the source port too
	FlagSched3     Flags = 0x20
)

// ServiceKey identifies a virtual service: a firewall mark, or a protocol,
// address and port. It is comparable, so it serves as a map key.
//
// A firewall-mark service is identified by Family and FWMark alone:
// Protocol, Addr and Port are not sent, and are zero when read back.
type ServiceKey struct {
	Family   uint16 // FamilyIPv4 or FamilyIPv6
	Protocol Protocol
	Addr     netip.Addr // zero for a firewall-mark service
	Port     uint16
	FWMark   uint32 // non-zero: a firewall-mark service
}

// String writes the key as ipvsadm -Ln does: "TCP 192.0.2.1:80", "FWM 3".
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		if k.Family == FamilyIPv6 {
			return fmt.Sprintf("FWM %d IPv6", k.FWMark)
		}
		return fmt.Sprintf("FWM %d", k.FWMark)
	}
	return fmt.Sprintf("%s %s", k.Protocol, netip.AddrPortFrom(k.Addr, k.Port))
}

// Service is a virtual service as configured, and as read back with its
// counters.
type Service struct {
	ServiceKey
	Scheduler string
	Flags     Flags
	Timeout   uint32 // persistence timeout in seconds (with FlagPersistent)
	// Netmask is the persistence granularity: for IPv4 the mask as a
	// 32-bit number (0xffffffff for /32, 0xffffff00 for /24), for IPv6
	// the prefix length. Zero means the whole address (0xffffffff or
	// 128, as ipvsadm sends), which is what reads then return; an IPv4
	// mask of 0.0.0.0 cannot be set. The client converts to the kernel's
	// encoding: network byte order for IPv4, host order for IPv6.
	Netmask uint32
	PEName  string // persistence engine, e.g. "sip"; "" for none
	Stats   Stats  // read only
}

// DestKey identifies a destination within a service.
type DestKey struct {
	Addr netip.Addr
	Port uint16
}

func (d DestKey) String() string { return netip.AddrPortFrom(d.Addr, d.Port).String() }

// Destination is a real server of a service.
type Destination struct {
	Addr           netip.Addr
	Port           uint16
	Family         uint16 // 0: that of Addr, the service's unless a mixed-family tunnel pool; reads return the kernel's
	Forward        Forward
	Weight         int32
	UpperThreshold uint32 // 0: no limit
	LowerThreshold uint32
	TunnelType     TunnelType
	TunnelPort     uint16 // GUE
	TunnelFlags    uint16

	// Read only.
	ActiveConns   uint32
	InactiveConns uint32
	PersistConns  uint32
	Stats         Stats
}

// Key returns the destination's key.
func (d *Destination) Key() DestKey { return DestKey{d.Addr, d.Port} }

// Stats are a service's or destination's counters (64-bit) and rates (per
// second, as the kernel's estimator computes them).
type Stats struct {
	Conns, InPkts, OutPkts, InBytes, OutBytes uint64
	CPS, InPPS, OutPPS, InBPS, OutBPS         uint64
}

// Timeouts are the connection timeouts; a zero value leaves the kernel's.
type Timeouts struct {
	TCP, TCPFin, UDP time.Duration // whole seconds
}

// DaemonState is a sync daemon's role.
type DaemonState uint32

const (
	DaemonMaster DaemonState = 1
	DaemonBackup DaemonState = 2
)

func (s DaemonState) String() string {
	switch s {
	case DaemonMaster:
		return "master"
	case DaemonBackup:
		return "backup"
	}
	return fmt.Sprintf("state-%d", uint32(s))
}

// Daemon is a connection sync daemon.
type Daemon struct {
	State      DaemonState
	Interface  string
	SyncID     uint8
	MaxLen     uint16     // 0: the kernel's default
	McastGroup netip.Addr // zero: the default 224.0.0.81
	McastPort  uint16
	McastTTL   uint8
}

// Info is the IPVS version and connection table size.
type Info struct {
	Version       uint32 // 0x010201 is 1.2.1
	ConnTableSize uint32
}

func (i Info) String() string {
	return fmt.Sprintf("IP Virtual Server version %d.%d.%d (size=%d)",
		i.Version>>16, i.Version>>8&0xff, i.Version&0xff, i.ConnTableSize)
}

// Errors a caller can test for with errors.Is.
var (
	ErrExists     = errors.New("already exists")
	ErrNotFound   = errors.New("not found")
	ErrNoIPVS     = errors.New("IPVS is not available in this kernel (no generic netlink family IPVS; load the ip_vs module)")
	ErrPermission = errors.New("permission denied: IPVS needs CAP_NET_ADMIN")
)

// Error is a failed operation, with the service and destination it
// concerned.
type Error struct {
	Op      string // "new service", "set destination", ...
	Service *ServiceKey
	Dest    *DestKey
	Err     error // the errno or a decoding error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ipvs: " + e.Op)
	if e.Service != nil {
		b.WriteString(" " + e.Service.String())
	}
	if e.Dest != nil {
		b.WriteString(" -> " + e.Dest.String())
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
