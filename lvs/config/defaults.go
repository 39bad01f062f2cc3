package config

import (
	"net/netip"
	"time"
)

// Defaults of piranha's console: what a new installation, RESET on the
// REDUNDANCY tab, and ADD on the virtual and real server lists start from.
// (lvs.cf's parser has defaults of its own for absent keys; see lvscf.)
const (
	DefaultKeepalive     = 6 * time.Second
	DefaultDeadtime      = 18 * time.Second
	DefaultHeartbeatPort = 539
	DefaultSyncIface     = "eth0"
	DefaultCheckTimeout  = 6 * time.Second
	DefaultReentry       = 15 * time.Second
	DefaultSend          = `GET / HTTP/1.0\r\n\r\n`
	DefaultExpect        = "HTTP"
)

// Default returns the configuration of a new installation: no virtual
// servers, direct routing, no backup.
func Default() *Config {
	return &Config{
		Global: Global{
			Network:      Direct,
			Service:      "lvs",
			HardShutdown: true,
		},
		Redundancy: DefaultRedundancy(),
	}
}

// DefaultRedundancy is what RESET on the REDUNDANCY tab goes back to.
func DefaultRedundancy() Redundancy {
	return Redundancy{
		Backup:        netip.IPv4Unspecified(),
		Heartbeat:     true,
		Keepalive:     DefaultKeepalive,
		Deadtime:      DefaultDeadtime,
		HeartbeatPort: DefaultHeartbeatPort,
		SyncIface:     DefaultSyncIface,
	}
}

// NewVirtual returns what ADD on the VIRTUAL SERVERS tab creates: an
// inactive HTTP service on a placeholder address.
func NewVirtual(name string) VirtualServer {
	return VirtualServer{
		Name:         name,
		Address:      netip.IPv4Unspecified(),
		Device:       "eth0:1",
		Protocol:     TCP,
		Port:         80,
		Scheduler:    "wlc",
		CheckTimeout: DefaultCheckTimeout,
		Reentry:      DefaultReentry,
		LoadMonitor:  "none",
		Send:         DefaultSend,
		Expect:       DefaultExpect,
	}
}

// NewReal returns what ADD on the REAL SERVER tab creates: an inactive
// server on a placeholder address with weight 1.
func NewReal(name string) RealServer {
	return RealServer{
		Name:    name,
		Address: netip.IPv4Unspecified(),
		Weight:  1,
	}
}
