package config

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"
)

// The registry: every configuration field, once. Entries are in the order
// the API writes them; see Meta for what each part means and
// docs/ARCHITECTURE.md for adding one. Refs are functions rather than Go
// field names read by reflection: the compiler checks them, and the lvs.cf
// parser and the store, which go through them for every value of a large
// configuration, stay as fast as the hand-written code they replace.

var forwardChoices = []Choice{{string(NAT), "NAT (masquerading)"}, {string(Direct), "Direct routing"}, {string(Tunnel), "Tunneling"}}

// GlobalFields are GLOBAL SETTINGS.
var GlobalFields = Fields[Global]{
	{Meta: Meta{Key: "primary", Cf: "primary", Form: "primary", JSON: "primary", Column: "primary_addr",
		Tab: TabGlobal, Label: "Primary server public IP", Help: "this director's address; the node holding it is the primary",
		Kind: KindAddr, CfHost: true, Example: "192.0.2.1"},
		Ref: func(g *Global) any { return &g.Primary }},
	{Meta: Meta{Key: "primary_private", Cf: "primary_private", Form: "primary_private", JSON: "primary_private", Column: "primary_private",
		Tab: TabGlobal, Label: "Primary server private IP", Help: "optional second heartbeat path",
		Kind: KindAddr, CfHost: true, Example: "10.0.0.1"},
		Ref: func(g *Global) any { return &g.PrimaryPrivate }},
	{Meta: Meta{Key: "network", Cf: "network", Form: "network", JSON: "network", Column: "network",
		Tab: TabGlobal, Label: "Use network type", Help: "default forwarding method of real servers",
		Kind: KindEnum, Choices: forwardChoices, Refusal: "is not a forwarding method: use nat, direct or tunnel",
		Default: Defaults{Console: "direct", LvsCf: "nat"}, CfAlways: true, Example: "tunnel"},
		Ref: func(g *Global) any { return &g.Network }},
	{Meta: Meta{Key: "nat_router", Cf: "nat_router", Form: "nat_router", JSON: "nat_router", Column: "nat_router",
		Tab: TabGlobal, Label: "NAT router IP", Help: "floating gateway address of the real servers (NAT only)",
		Kind: KindAddr, CfHost: true, Example: "10.10.0.254"},
		Ref: func(g *Global) any { return &g.NATRouter }},
	{Meta: Meta{Key: "nat_router", Cf: "nat_router", Form: "nat_router_device", JSON: "nat_router_device", Column: "nat_router_device",
		Tab: TabGlobal, Label: "NAT router device", Help: "e.g. eth1:1",
		Kind: KindDevice, Example: "eth1:1"},
		Ref: func(g *Global) any { return &g.NATRouterDevice }},
	{Meta: Meta{Key: "nat_nmask", Cf: "nat_nmask", Form: "nat_nmask", JSON: "nat_nmask", Column: "nat_nmask",
		Tab: TabGlobal, Label: "NAT router netmask", Help: "e.g. 255.255.255.0",
		Kind: KindNetmask, Example: "24"},
		Ref: func(g *Global) any { return &g.NATNetmask }, Family: func(g *Global) netip.Addr { return g.NATRouter }},
	{Meta: Meta{Key: "tcp_timeout", Cf: "tcp_timeout", Form: "tcp_timeout", JSON: "tcp_timeout", Column: "tcp_timeout",
		Tab: TabGlobal, Label: "TCP timeout", Help: "seconds; 0 leaves the kernel's",
		Kind: KindInt, Range: Between(0, MaxUint32), Example: "900"},
		Ref: func(g *Global) any { return &g.TCPTimeout }},
	{Meta: Meta{Key: "tcpfin_timeout", Cf: "tcpfin_timeout", Form: "tcpfin_timeout", JSON: "tcpfin_timeout", Column: "tcpfin_timeout",
		Tab: TabGlobal, Label: "TCP FIN timeout", Help: "seconds; 0 leaves the kernel's",
		Kind: KindInt, Range: Between(0, MaxUint32), Example: "120"},
		Ref: func(g *Global) any { return &g.TCPFinTimeout }},
	{Meta: Meta{Key: "udp_timeout", Cf: "udp_timeout", Form: "udp_timeout", JSON: "udp_timeout", Column: "udp_timeout",
		Tab: TabGlobal, Label: "UDP timeout", Help: "seconds; 0 leaves the kernel's",
		Kind: KindInt, Range: Between(0, MaxUint32), Example: "300"},
		Ref: func(g *Global) any { return &g.UDPTimeout }},
	{Meta: Meta{Key: "active_cmd", Cf: "active_cmd", Form: "active_cmd", JSON: "active_cmd", Column: "active_cmd",
		Tab: TabGlobal, Label: "Run when becoming active", Help: "full path and arguments; run without a shell, as root",
		Kind: KindCommand, Example: `/usr/bin/logger -t lvs "became active"`},
		Ref: func(g *Global) any { return &g.ActiveCmd }},
	{Meta: Meta{Key: "inactive_cmd", Cf: "inactive_cmd", Form: "inactive_cmd", JSON: "inactive_cmd", Column: "inactive_cmd",
		Tab: TabGlobal, Label: "Run when becoming standby", Help: "full path and arguments; run without a shell, as root",
		Kind: KindCommand, Example: "/usr/bin/logger -t lvs standby"},
		Ref: func(g *Global) any { return &g.InactiveCmd }},
	{Meta: Meta{Key: "service", Cf: "service", Form: "service", JSON: "service", Column: "service",
		Tab: TabGlobal, Label: "Service", Help: "lvs",
		Kind: KindText, Check: onlyLVS, Default: Both("lvs"), CfAlways: true, Example: ""},
		Ref: func(g *Global) any { return &g.Service }},
	{Meta: Meta{Key: "hard_shutdown", Cf: "hard_shutdown", Form: "hard_shutdown", JSON: "hard_shutdown", Column: "hard_shutdown",
		Tab: TabGlobal, Label: "Hard shutdown",
		Kind: KindBool, Default: Both("1"), CfAlways: true, Example: "0"},
		Ref: func(g *Global) any { return &g.HardShutdown }},
	{Meta: Meta{Key: "rsh_command", Cf: "rsh_command", Form: "rsh_command", JSON: "rsh_command", Column: "rsh_command",
		Tab: TabGlobal, Label: "Remote shell for load monitoring",
		Kind: KindEnum, Choices: []Choice{{"", "(none)"}, {"rsh", "rsh"}, {"ssh", "ssh"}}, Refusal: "is not allowed: use rsh or ssh",
		Example: "ssh"},
		Ref: func(g *Global) any { return &g.RshCommand }},
	{Meta: Meta{Key: "debug_level", Cf: "debug_level", Form: "debug_level", JSON: "debug_level", Column: "debug_level",
		Tab: TabGlobal, Label: "Debug level", Help: "NONE or a number",
		Kind: KindText, Check: debugLevel, Example: "3"},
		Ref: func(g *Global) any { return &g.DebugLevel }},
}

// RedundancyFields are REDUNDANCY: the backup director and the heartbeat.
var RedundancyFields = Fields[Redundancy]{
	{Meta: Meta{Key: "backup_active", Cf: "backup_active", Form: "backup_active", JSON: "backup_active", Column: "backup_active",
		Tab: TabRedundancy, Label: "Backup director active", Help: "a second director takes over when this one fails",
		Kind: KindBool, CfAlways: true, Example: "1"},
		Ref: func(r *Redundancy) any { return &r.BackupActive }},
	{Meta: Meta{Key: "backup", Cf: "backup", Form: "backup", JSON: "backup", Column: "backup",
		Tab: TabRedundancy, Label: "Redundant server public IP",
		Kind: KindAddr, CfHost: true, Default: Defaults{Console: "0.0.0.0"}, Example: "192.0.2.2"},
		Ref: func(r *Redundancy) any { return &r.Backup }},
	{Meta: Meta{Key: "backup_private", Cf: "backup_private", Form: "backup_private", JSON: "backup_private", Column: "backup_private",
		Tab: TabRedundancy, Label: "Redundant server private IP", Help: "optional",
		Kind: KindAddr, CfHost: true, Example: "10.0.0.2"},
		Ref: func(r *Redundancy) any { return &r.BackupPrivate }},
	{Meta: Meta{Key: "heartbeat", Cf: "heartbeat", Form: "heartbeat", JSON: "heartbeat", Column: "heartbeat",
		Tab: TabRedundancy, Label: "Heartbeat on",
		Kind: KindBool, Default: Defaults{Console: "1"}, CfAlways: true, Example: "0"},
		Ref: func(r *Redundancy) any { return &r.Heartbeat }},
	{Meta: Meta{Key: "heartbeat_port", Cf: "heartbeat_port", Form: "heartbeat_port", JSON: "heartbeat_port", Column: "heartbeat_port",
		Tab: TabRedundancy, Label: "Heartbeat runs on port", Help: "UDP, 539 by default",
		Kind: KindPort, Range: Between(1, 65535), Default: Both("539"), CfAlways: true, Example: "1539"},
		Ref: func(r *Redundancy) any { return &r.HeartbeatPort }},
	// keepalive and deadtime are checked by Validate: only while a backup
	// is active, and one against the other.
	{Meta: Meta{Key: "keepalive", Cf: "keepalive", Form: "keepalive", JSON: "keepalive", Column: "keepalive_ms",
		Tab: TabRedundancy, Label: "Heartbeat interval", Help: "fractions allowed, e.g. 0.5",
		Kind: KindSeconds, Default: Defaults{Console: "6", LvsCf: "2"}, CfAlways: true, Example: "0.2"},
		Ref: func(r *Redundancy) any { return &r.Keepalive }},
	{Meta: Meta{Key: "deadtime", Cf: "deadtime", Form: "deadtime", JSON: "deadtime", Column: "deadtime_ms",
		Tab: TabRedundancy, Label: "Assume dead after", Help: "longer than the interval",
		Kind: KindSeconds, Default: Defaults{Console: "18", LvsCf: "5"}, CfAlways: true, Example: "0.6"},
		Ref: func(r *Redundancy) any { return &r.Deadtime }},
	{Meta: Meta{Key: "monitor_links", Cf: "monitor_links", Form: "monitor_links", JSON: "monitor_links", Column: "monitor_links",
		Tab: TabRedundancy, Label: "Monitor NIC links for failures",
		Kind: KindBool, Example: "1"},
		Ref: func(r *Redundancy) any { return &r.MonitorLinks }},
	{Meta: Meta{Key: "preempt", Cf: "preempt", Form: "preempt", JSON: "preempt", Column: "preempt",
		Tab: TabRedundancy, Label: "Take back over (preempt)", Help: "off, as piranha: a recovered primary stays standby",
		Kind: KindBool, Example: "1"},
		Ref: func(r *Redundancy) any { return &r.Preempt }},
	{Meta: Meta{Key: "preempt_delay", Cf: "preempt_delay", Form: "preempt_delay", JSON: "preempt_delay", Column: "preempt_delay_ms",
		Tab: TabRedundancy, Label: "Preempt delay", Help: "how long a recovered primary hears the active backup before taking over",
		Kind: KindSeconds, Range: Within(0, maxKeepalive), ZeroOK: true, Example: "2.5"},
		Ref: func(r *Redundancy) any { return &r.PreemptDelay }},
	{Meta: Meta{Key: "syncdaemon", Cf: "syncdaemon", Form: "syncdaemon", JSON: "syncdaemon", Column: "syncdaemon",
		Tab: TabRedundancy, Label: "Use sync daemon", Help: "replicates IPVS connections to the backup",
		Kind: KindBool, Example: "1"},
		Ref: func(r *Redundancy) any { return &r.SyncDaemon }},
	{Meta: Meta{Key: "syncd_iface", Cf: "syncd_iface", Form: "syncd_iface", JSON: "syncd_iface", Column: "syncd_iface",
		Tab: TabRedundancy, Label: "Sync daemon interface",
		Kind: KindDevice, Default: Both("eth0"), CfAlways: true, Example: "eth2"},
		Ref: func(r *Redundancy) any { return &r.SyncIface }},
	{Meta: Meta{Key: "syncd_id", Cf: "syncd_id", Form: "syncd_id", JSON: "syncd_id", Column: "syncd_id",
		Tab: TabRedundancy, Label: "Sync daemon id", Help: "0-255",
		Kind: KindInt, Range: Between(0, 255), Example: "7"},
		Ref: func(r *Redundancy) any { return &r.SyncID }},
	// Cluster mode (issue 19, docs/bgp.md): N active directors announcing
	// the VIPs over BGP, instead of a pair. The BGP settings matter only
	// in cluster mode, and their rules between fields are Validate's.
	{Meta: Meta{Key: "cluster", Cf: "cluster", Form: "cluster", JSON: "cluster", Column: "cluster",
		Tab: TabRedundancy, Label: "Cluster mode (N active directors, BGP)",
		Help: "instead of a backup director: 2-16 active directors behind the routers' ECMP, each announcing the VIPs it can serve over BGP",
		Kind: KindBool, Example: "1"},
		Ref: func(r *Redundancy) any { return &r.Cluster }},
	{Meta: Meta{Key: "cluster_directors", Cf: "cluster_directors", Form: "cluster_directors", JSON: "cluster_directors", Column: "cluster_directors",
		Tab: TabRedundancy, Label: "Directors", Help: "the addresses of the cluster's 2-16 directors, this one included, space or comma separated",
		Kind: KindText, Check: checkDirectors, Example: "192.0.2.11 192.0.2.12 192.0.2.13"},
		Ref: func(r *Redundancy) any { return &r.ClusterDirectors }},
	{Meta: Meta{Key: "bgp_as", Cf: "bgp_as", Form: "bgp_as", JSON: "bgp_as", Column: "bgp_as",
		Tab: TabRedundancy, Label: "Local AS", Help: "the directors' AS number, 1-4294967294 (private: 64512-65534, 4200000000-4294967294)",
		Kind: KindInt, Range: Between(1, maxAS), ZeroOK: true, FormBlank: true, Example: "64512"},
		Ref: func(r *Redundancy) any { return &r.BGPAS }},
	{Meta: Meta{Key: "bgp_peers", Cf: "bgp_peers", Form: "bgp_peers", JSON: "bgp_peers", Column: "bgp_peers",
		Tab: TabRedundancy, Label: "BGP peers (routers)", Help: "ADDRESS AS, comma separated, e.g. 192.0.2.254 64500, 192.0.2.253 64500",
		Kind: KindText, Check: checkPeers, Example: "192.0.2.254 64500, 192.0.2.253 64501"},
		Ref: func(r *Redundancy) any { return &r.BGPPeers }},
	{Meta: Meta{Key: "bgp_password", Cf: "bgp_password", Form: "bgp_password", JSON: "bgp_password", Column: "bgp_password",
		Tab: TabRedundancy, Label: "TCP MD5 password", Help: "for every peer (RFC 2385); empty: none",
		Kind: KindText, Check: CheckBGPPassword, Secret: true, Example: "s3cret-md5"},
		Ref: func(r *Redundancy) any { return &r.BGPPassword }},
	{Meta: Meta{Key: "bgp_hold_time", Cf: "bgp_hold_time", Form: "bgp_hold_time", JSON: "bgp_hold_time", Column: "bgp_hold_time_ms",
		Tab: TabRedundancy, Label: "Hold time", Help: "a director silent this long is dropped by the routers; 3-65535 whole seconds, 0: BGP's 90",
		Kind: KindSeconds, Range: Within(3*time.Second, 65535*time.Second), ZeroOK: true, Default: Both("9"), Example: "30"},
		Ref: func(r *Redundancy) any { return &r.BGPHoldTime }},
	{Meta: Meta{Key: "bgp_drain", Cf: "bgp_drain", Form: "bgp_drain", JSON: "bgp_drain", Column: "bgp_drain_ms",
		Tab: TabRedundancy, Label: "Graceful shutdown drain", Help: "on a clean stop, how long the routes stay with GRACEFUL_SHUTDOWN (RFC 8326) before they are withdrawn; 0-600",
		Kind: KindSeconds, Range: Within(0, maxBGPDrain), Default: Both("10"), Example: "30"},
		Ref: func(r *Redundancy) any { return &r.BGPDrain }},
	{Meta: Meta{Key: "bgp_communities", Cf: "bgp_communities", Form: "bgp_communities", JSON: "bgp_communities", Column: "bgp_communities",
		Tab: TabRedundancy, Label: "Communities", Help: "put on every route: ASN:VALUE, each 0-65535, space separated",
		Kind: KindText, Check: CheckCommunities, Example: "64512:100 64512:200"},
		Ref: func(r *Redundancy) any { return &r.BGPCommunities }},
	{Meta: Meta{Key: "bgp_next_hop", Cf: "bgp_next_hop", Form: "bgp_next_hop", JSON: "bgp_next_hop", Column: "bgp_next_hop",
		Tab: TabRedundancy, Label: "Next hop", Help: "empty: next-hop self (each director's own address)",
		Kind: KindAddr, NoPlaceholder: true, Example: "192.0.2.10"},
		Ref: func(r *Redundancy) any { return &r.BGPNextHop }},
}

// VirtualFields are a virtual server's VIRTUAL SERVER and MONITORING
// SCRIPTS tabs.
var VirtualFields = Fields[VirtualServer]{
	{Meta: Meta{Key: "name", Cf: "", Form: "name", JSON: "name", Column: "name",
		Tab: TabVirtual, Label: "Name", Help: "letters, digits, . _ -",
		Kind: KindName, Example: "www"},
		Ref: func(vs *VirtualServer) any { return &vs.Name }},
	{Meta: Meta{Key: "active", Cf: "active", Form: "active", JSON: "active", Column: "active",
		Tab: TabVirtual, Label: "Active",
		Kind: KindBool, CfAlways: true, Example: "1"},
		Ref: func(vs *VirtualServer) any { return &vs.Active }},
	// Whether an address is required, and may be the placeholder, depends
	// on Active: Validate says.
	{Meta: Meta{Key: "address", Cf: "address", Form: "address", JSON: "address", Column: "address",
		Tab: TabVirtual, Label: "Virtual IP address", Help: "IPv4 or IPv6",
		Kind: KindAddr, CfHost: true, Default: Defaults{Console: "0.0.0.0"}, FormBlank: true, Example: "192.0.2.100"},
		Ref: func(vs *VirtualServer) any { return &vs.Address }},
	{Meta: Meta{Key: "device", Cf: "address", Form: "device", JSON: "device", Column: "device",
		Tab: TabVirtual, Label: "Device", Help: "the VIP is brought up here, e.g. eth0:1",
		Kind: KindDevice, Default: Defaults{Console: "eth0:1"}, Example: "eth0:2"},
		Ref: func(vs *VirtualServer) any { return &vs.Device }},
	{Meta: Meta{Key: "vip_nmask", Cf: "vip_nmask", Form: "vip_nmask", JSON: "vip_nmask", Column: "netmask",
		Tab: TabVirtual, Label: "Virtual IP network mask", Help: "e.g. 255.255.255.0, or a prefix length",
		Kind: KindNetmask, Example: "32"},
		Ref: func(vs *VirtualServer) any { return &vs.Netmask }, Family: func(vs *VirtualServer) netip.Addr { return vs.Address }},
	{Meta: Meta{Key: "protocol", Cf: "protocol", Form: "protocol", JSON: "protocol", Column: "protocol",
		Tab: TabVirtual, Label: "Protocol",
		Kind: KindEnum, Choices: []Choice{{"tcp", "tcp"}, {"udp", "udp"}, {"sctp", "sctp"}}, Refusal: "is not a protocol: use tcp, udp or sctp",
		Default: Both("tcp"), CfAlways: true, Example: "udp"},
		Ref: func(vs *VirtualServer) any { return &vs.Protocol }},
	// The port's range depends on the firewall mark: Validate says.
	{Meta: Meta{Key: "port", Cf: "port", Form: "port", JSON: "port", Column: "port",
		Tab: TabVirtual, Label: "Application port", Help: "1-65535 or a name such as http",
		Kind: KindPort, Default: Both("80"), CfAlways: true, Example: "53"},
		Ref: func(vs *VirtualServer) any { return &vs.Port }},
	{Meta: Meta{Key: "fwmark", Cf: "fwmark", Form: "fwmark", JSON: "fwmark", Column: "fwmark",
		Tab: TabVirtual, Label: "Firewall mark", Help: "0 = none; with a mark, the port is only the check port",
		Kind: KindInt, Range: Between(0, MaxUint32), Example: "5"},
		Ref: func(vs *VirtualServer) any { return &vs.FWMark }},
	{Meta: Meta{Key: "scheduler", Cf: "scheduler", Form: "scheduler", JSON: "scheduler", Column: "scheduler",
		Tab: TabVirtual, Label: "Scheduling",
		Kind: KindEnum, Choices: schedulerChoices, Refusal: "is not a kernel scheduler: use one of " + strings.Join(Schedulers, " "),
		Default: Both("wlc"), CfAlways: true, Example: "mh"},
		Ref: func(vs *VirtualServer) any { return &vs.Scheduler }},
	{Meta: Meta{Key: "sched_flags", Cf: "sched_flags", Form: "sched_fallback", JSON: "sched_flags", Column: "sched_fallback",
		Tab: TabVirtual, Label: "sh/mh: fall back to another server",
		Kind: KindBool, Flag: "fallback", Refusal: "is not a scheduler flag", Example: "1"},
		Ref: func(vs *VirtualServer) any { return &vs.SchedFallback }},
	{Meta: Meta{Key: "sched_flags", Cf: "sched_flags", Form: "sched_port", JSON: "sched_flags", Column: "sched_port",
		Tab: TabVirtual, Label: "sh/mh: hash the source port too",
		Kind: KindBool, Flag: "port", Example: "1"},
		Ref: func(vs *VirtualServer) any { return &vs.SchedPort }},
	{Meta: Meta{Key: "ops", Cf: "ops", Form: "ops", JSON: "ops", Column: "one_packet",
		Tab: TabVirtual, Label: "One-packet scheduling (UDP)",
		Kind: KindBool, Example: "1"},
		Ref: func(vs *VirtualServer) any { return &vs.OnePacket }},
	{Meta: Meta{Key: "persistent", Cf: "persistent", Form: "persistent", JSON: "persistent", Column: "persistence",
		Tab: TabVirtual, Label: "Persistence", Help: "seconds; 0 = none",
		Kind: KindInt, Range: Between(0, MaxUint32), CfAlways: true, Example: "300"},
		Ref: func(vs *VirtualServer) any { return &vs.Persistence }},
	{Meta: Meta{Key: "pmask", Cf: "pmask", Form: "pmask", JSON: "pmask", Column: "pmask",
		Tab: TabVirtual, Label: "Persistence network mask",
		Kind: KindNetmask, Example: "24"},
		Ref: func(vs *VirtualServer) any { return &vs.PersistenceNetmask }, Family: func(vs *VirtualServer) netip.Addr { return vs.Address }},
	{Meta: Meta{Key: "sorry_server", Cf: "sorry_server", Form: "sorry_server", JSON: "sorry_server", Column: "sorry_server",
		Tab: TabVirtual, Label: "Sorry server", Help: "used while no real server is up",
		Kind: KindAddr, NoPlaceholder: true, CfZeroIsNone: true, Example: "10.10.0.99"},
		Ref: func(vs *VirtualServer) any { return &vs.SorryServer }},
	// Quorum (issue 15, keepalived's quorum, hysteresis, quorum_up and
	// quorum_down); hysteresis below the quorum is Validate's rule.
	{Meta: Meta{Key: "quorum", Cf: "quorum", Form: "quorum", JSON: "quorum", Column: "quorum",
		Tab: TabVirtual, Label: "Quorum", Help: "weights of the up real servers the service needs, else the sorry server; empty: 1",
		Kind: KindInt, Range: Between(1, MaxUint32), ZeroOK: true, FormBlank: true, Example: "10"},
		Ref: func(vs *VirtualServer) any { return &vs.Quorum }},
	{Meta: Meta{Key: "hysteresis", Cf: "hysteresis", Form: "hysteresis", JSON: "hysteresis", Column: "hysteresis",
		Tab: TabVirtual, Label: "Quorum hysteresis", Help: "lost below quorum - hysteresis, regained at quorum + hysteresis",
		Kind: KindInt, Range: Between(0, MaxUint32), Example: "2"},
		Ref: func(vs *VirtualServer) any { return &vs.Hysteresis }},
	{Meta: Meta{Key: "quorum_up", Cf: "quorum_up", Form: "quorum_up", JSON: "quorum_up", Column: "quorum_up",
		Tab: TabVirtual, Label: "Run when the quorum is gained", Help: "full path and arguments; run without a shell, as root",
		Kind: KindCommand, CfQuoted: true, Example: `/usr/bin/logger -t lvs "www up"`},
		Ref: func(vs *VirtualServer) any { return &vs.QuorumUp }},
	{Meta: Meta{Key: "quorum_down", Cf: "quorum_down", Form: "quorum_down", JSON: "quorum_down", Column: "quorum_down",
		Tab: TabVirtual, Label: "Run when the quorum is lost", Help: "full path and arguments; run without a shell, as root",
		Kind: KindCommand, CfQuoted: true, Example: `/usr/bin/logger -t lvs "www down"`},
		Ref: func(vs *VirtualServer) any { return &vs.QuorumDown }},
	{Meta: Meta{Key: "timeout", Cf: "timeout", Form: "timeout", JSON: "timeout", Column: "check_timeout_ms",
		Tab: TabVirtual, Label: "Service timeout", Help: "check interval and I/O timeout",
		Kind: KindSeconds, Range: Within(minInterval, maxTimeout), Default: Defaults{Console: "6", LvsCf: "10"}, CfAlways: true, Example: "2.5"},
		Ref: func(vs *VirtualServer) any { return &vs.CheckTimeout }},
	{Meta: Meta{Key: "reentry", Cf: "reentry", Form: "reentry", JSON: "reentry", Column: "reentry_ms",
		Tab: TabVirtual, Label: "Re-entry time", Help: "good checks needed before a server returns",
		Kind: KindSeconds, Range: Within(0, maxReentry), Default: Defaults{Console: "15", LvsCf: "180"}, CfAlways: true, Example: "30"},
		Ref: func(vs *VirtualServer) any { return &vs.Reentry }},
	{Meta: Meta{Key: "quiesce_server", Cf: "quiesce_server", Form: "quiesce_server", JSON: "quiesce_server", Column: "quiesce",
		Tab: TabVirtual, Label: "Quiesce server", Help: "weight 0 instead of removal, so connections finish",
		Kind: KindBool, CfAlways: true, Example: "1"},
		Ref: func(vs *VirtualServer) any { return &vs.Quiesce }},
	// The longest a DRAIN of a real server lasts (issue 17): a console
	// field, written to lvs.cf as a key of its own.
	{Meta: Meta{Key: "drain_timeout", Cf: "drain_timeout", Form: "drain_timeout", JSON: "drain_timeout", Column: "drain_timeout_ms",
		Tab: TabVirtual, Label: "Longest drain", Help: "DRAIN deactivates a real server when its connections end, or after this long with connections left; empty: no limit",
		Kind: KindSeconds, Range: Within(0, maxDrain), FormBlank: true, Example: "600"},
		Ref: func(vs *VirtualServer) any { return &vs.DrainTimeout }},
	{Meta: Meta{Key: "load_monitor", Cf: "load_monitor", Form: "load_monitor", JSON: "load_monitor", Column: "load_monitor",
		Tab: TabVirtual, Label: "Load monitoring tool",
		Help: "scales each real server's weight by its load (rup, ruptime, uptime: piranha's) or by its agent's answer (agent: HAProxy's agent-check; feedback: Loadbalancer.org's idle percentage)",
		Kind: KindEnum, Choices: []Choice{{"none", "none"}, {"rup", "rup (rstatd)"}, {"ruptime", "ruptime (rwhod)"}, {"uptime", "uptime (over SSH)"},
			{"agent", "agent (HAProxy agent-check)"}, {"feedback", "feedback (idle %)"}}, EmptyOK: true,
		Refusal: "is not allowed: use none, rup, ruptime, uptime, agent or feedback", Default: Defaults{Console: "none"}, Example: "ruptime"},
		Ref: func(vs *VirtualServer) any { return &vs.LoadMonitor }},
	{Meta: Meta{Key: "load_port", Cf: "load_port", Form: "load_port", JSON: "load_port", Column: "load_port",
		Tab: TabVirtual, Label: "Load monitor port", Help: "agent (required here or on each real server), feedback (empty: 3333), uptime (empty: 22)",
		Kind: KindPort, Range: Between(0, 65535), FormBlank: true, Example: "3334"},
		Ref: func(vs *VirtualServer) any { return &vs.LoadPort }},
	{Meta: Meta{Key: "load_send", Cf: "load_send", Form: "load_send", JSON: "load_send", Column: "load_send",
		Tab: TabVirtual, Label: "Agent send", Help: `agent: written after connecting (HAProxy's agent-send); \r \n \t allowed`,
		Kind: KindEscaped, Check: CheckAgentSend, CfQuoted: true, Example: `status\n`},
		Ref: func(vs *VirtualServer) any { return &vs.LoadSend }},
	{Meta: Meta{Key: "load_http_path", Cf: "load_http_path", Form: "load_http_path", JSON: "load_http_path", Column: "load_http_path",
		Tab: TabVirtual, Label: "Feedback HTTP path", Help: "feedback: GET this path over HTTP; empty: the TCP agent",
		Kind: KindText, Check: CheckPath, CfQuoted: true, Example: "/idle"},
		Ref: func(vs *VirtualServer) any { return &vs.LoadHTTPPath }},
	{Meta: Meta{Key: "load_interval", Cf: "load_interval", Form: "load_interval", JSON: "load_interval", Column: "load_interval_ms",
		Tab: TabVirtual, Label: "Load reading interval", Help: "empty: piranha's, 20 s or the check interval if longer; a weight changes at most once per interval",
		Kind: KindSeconds, Range: Within(time.Second, time.Hour), ZeroOK: true, FormBlank: true, Example: "30"},
		Ref: func(vs *VirtualServer) any { return &vs.LoadInterval }},
	{Meta: Meta{Key: "load_ssh_user", Cf: "load_ssh_user", Form: "load_ssh_user", JSON: "load_ssh_user", Column: "load_ssh_user",
		Tab: TabVirtual, Label: "SSH user", Help: "uptime: the user it logs in as on the real servers; empty: root, as piranha's ssh did",
		Kind: KindText, Check: CheckUser, CfQuoted: true, Example: "lvsload"},
		Ref: func(vs *VirtualServer) any { return &vs.LoadSSHUser }},
	{Meta: Meta{Key: "load_ssh_key", Cf: "load_ssh_key", Form: "load_ssh_key", JSON: "load_ssh_key", Column: "load_ssh_key",
		Tab: TabVirtual, Label: "SSH private key", Help: "uptime: the private key's file on the director, readable by lvsconsole only; empty: the director's own key, made on first use (its public key is shown here)",
		Kind: KindText, Check: CheckFile, CfQuoted: true, Example: "/etc/lvsconsole/load_ed25519"},
		Ref: func(vs *VirtualServer) any { return &vs.LoadSSHKey }},
	{Meta: Meta{Key: "send", Cf: "send", Form: "send", JSON: "send", Column: "send",
		Tab: TabScripts, Label: "Send", Help: `written after connecting; \r \n \t allowed`,
		Kind: KindEscaped, Default: Defaults{Console: DefaultSend}, CfQuoted: true, Example: `HEAD / HTTP/1.0\r\nHost: "www"\r\n\r\n`},
		Ref: func(vs *VirtualServer) any { return &vs.Send }},
	{Meta: Meta{Key: "expect", Cf: "expect", Form: "expect", JSON: "expect", Column: "expect",
		Tab: TabScripts, Label: "Expect", Help: "the reply must start with this",
		Kind: KindEscaped, Default: Defaults{Console: DefaultExpect}, CfQuoted: true, Example: `^HTTP/1\.[01] 200`},
		Ref: func(vs *VirtualServer) any { return &vs.Expect }},
	{Meta: Meta{Key: "use_regex", Cf: "use_regex", Form: "use_regex", JSON: "use_regex", Column: "use_regex",
		Tab: TabScripts, Label: "Treat expect string as a regular expression", Help: "POSIX extended",
		Kind: KindBool, CfAlways: true, Example: "1"},
		Ref: func(vs *VirtualServer) any { return &vs.UseRegex }},
	{Meta: Meta{Key: "send_program", Cf: "send_program", Form: "send_program", JSON: "send_program", Column: "send_program",
		Tab: TabScripts, Label: "Sending program", Help: "%h = real server address, %p = its port; full path, run without a shell",
		Kind: KindCommand, CfQuoted: true, Example: "/bin/true %h %p"},
		Ref: func(vs *VirtualServer) any { return &vs.SendProgram }},
	{Meta: Meta{Key: "check", Cf: "check", Form: "check", JSON: "check", Column: "check_kind",
		Tab: TabScripts, Label: "Check type",
		Kind: KindEnum, Choices: checkChoices,
		Refusal: "is not a check kind: use " + strings.Join(CheckKinds, ", ") + ", or leave it empty for piranha's", Example: "https"},
		Ref: func(vs *VirtualServer) any { return &vs.CheckKind }},
	{Meta: Meta{Key: "check_interval", Cf: "check_interval", Form: "check_interval", JSON: "check_interval", Column: "check_interval_ms",
		Tab: TabScripts, Label: "Check interval", Help: "empty: the service timeout, as piranha",
		Kind: KindSeconds, Range: Within(minInterval, maxTimeout), ZeroOK: true, FormBlank: true, Example: "3"},
		Ref: func(vs *VirtualServer) any { return &vs.CheckInterval }},
	{Meta: Meta{Key: "check_failures", Cf: "check_failures", Form: "check_failures", JSON: "check_failures", Column: "check_failures",
		Tab: TabScripts, Label: "Failures before down", Help: "0 or 1: the first failure, as piranha",
		Kind: KindInt, Range: Between(0, 100), Example: "3"},
		Ref: func(vs *VirtualServer) any { return &vs.CheckFailures }},
	{Meta: Meta{Key: "http_path", Cf: "http_path", Form: "http_path", JSON: "http_path", Column: "http_path",
		Tab: TabScripts, Label: "HTTP path", Help: "default /",
		Kind: KindText, Check: CheckPath, CfQuoted: true, Example: "/health?full=1"},
		Ref: func(vs *VirtualServer) any { return &vs.HTTPPath }},
	{Meta: Meta{Key: "http_host", Cf: "http_host", Form: "http_host", JSON: "http_host", Column: "http_host",
		Tab: TabScripts, Label: "HTTP virtual host", Help: "default the real server's address",
		Kind: KindText, Check: CheckHost, CfQuoted: true, Example: "www.example.org"},
		Ref: func(vs *VirtualServer) any { return &vs.HTTPHost }},
	{Meta: Meta{Key: "http_status", Cf: "http_status", Form: "http_status", JSON: "http_status", Column: "http_status",
		Tab: TabScripts, Label: "Accepted status codes", Help: "default 200-399, e.g. 200-299,301",
		Kind: KindText, Check: statusRanges, CfQuoted: true, Example: "200-299,301"},
		Ref: func(vs *VirtualServer) any { return &vs.HTTPStatus }},
	{Meta: Meta{Key: "http_body", Cf: "http_body", Form: "http_body", JSON: "http_body", Column: "http_body",
		Tab: TabScripts, Label: "Body must match", Help: "POSIX extended regular expression",
		Kind: KindText, Check: optionalRegex, CfQuoted: true, Example: `"status": *"ok"`},
		Ref: func(vs *VirtualServer) any { return &vs.HTTPBody }},
	{Meta: Meta{Key: "tls_verify", Cf: "tls_verify", Form: "tls_verify", JSON: "tls_verify", Column: "tls_verify",
		Tab: TabScripts, Label: "Verify the certificate (HTTPS)",
		Kind: KindBool, Example: "1"},
		Ref: func(vs *VirtualServer) any { return &vs.TLSVerify }},
	// The checks keepalived has that piranha had not (issue 15).
	{Meta: Meta{Key: "http_digest", Cf: "http_digest", Form: "http_digest", JSON: "http_digest", Column: "http_digest",
		Keepalived: "digest",
		Tab:        TabScripts, Label: "Body MD5 digest", Help: "32 hex digits, as md5sum prints; empty: not checked",
		Kind: KindText, Check: CheckDigest, Example: "9e107d9d372bb6826bd81d3542a419d6"},
		Ref: func(vs *VirtualServer) any { return &vs.HTTPDigest }},
	{Meta: Meta{Key: "smtp_helo", Cf: "smtp_helo", Form: "smtp_helo", JSON: "smtp_helo", Column: "smtp_helo",
		Keepalived: "helo_name",
		Tab:        TabScripts, Label: "HELO name", Help: "empty: the director's host name",
		Kind: KindText, Check: CheckHelo, Example: "director.example.org"},
		Ref: func(vs *VirtualServer) any { return &vs.SMTPHelo }},
	{Meta: Meta{Key: "dns_type", Cf: "dns_type", Form: "dns_type", JSON: "dns_type", Column: "dns_type",
		Keepalived: "type",
		Tab:        TabScripts, Label: "DNS query type",
		Kind: KindEnum, Choices: dnsTypeChoices, Refusal: "is not a query type: use " + strings.Join(DNSTypes, ", ") + ", or leave it empty for SOA",
		Example: "AAAA"},
		Ref: func(vs *VirtualServer) any { return &vs.DNSType }},
	{Meta: Meta{Key: "dns_name", Cf: "dns_name", Form: "dns_name", JSON: "dns_name", Column: "dns_name",
		Keepalived: "name",
		Tab:        TabScripts, Label: "DNS name asked", Help: "empty: . (the root)",
		Kind: KindText, Check: CheckDNSName, Example: "www.example.org"},
		Ref: func(vs *VirtualServer) any { return &vs.DNSName }},
	{Meta: Meta{Key: "program_weight", Cf: "program_weight", Form: "program_weight", JSON: "program_weight", Column: "program_weight",
		Keepalived: "misc_dynamic",
		Tab:        TabScripts, Label: "Exit status sets the weight", Help: "0: up at the weight set; 1: down; 2-255: up with weight status-2",
		Kind: KindBool, Example: "1"},
		Ref: func(vs *VirtualServer) any { return &vs.ProgramWeight }},
	// Cluster mode (issue 19): last, so that lvs.cf writes it at the end
	// of the block.
	{Meta: Meta{Key: "bgp_announce", Cf: "bgp_announce", Form: "bgp_announce", JSON: "bgp_announce", Column: "bgp_announce",
		Tab: TabVirtual, Label: "Announce over BGP (cluster mode)", Help: "the VIP's route is announced while this director can serve it",
		Kind: KindBool, Default: Both("1"), Example: "0"},
		Ref: func(vs *VirtualServer) any { return &vs.Announce }},
}

// dnsTypeChoices are DNSTypes, after keepalived's default.
var dnsTypeChoices = func() []Choice {
	cs := []Choice{{"", "SOA (default)"}}
	for _, t := range DNSTypes {
		cs = append(cs, Choice{t, t})
	}
	return cs
}()

// RealFields are a real server's REAL SERVER form.
var RealFields = Fields[RealServer]{
	{Meta: Meta{Key: "name", Cf: "", Form: "name", JSON: "name", Column: "name",
		Tab: TabReal, Label: "Name",
		Kind: KindName, Example: "web1"},
		Ref: func(rs *RealServer) any { return &rs.Name }},
	{Meta: Meta{Key: "active", Cf: "active", Form: "active", JSON: "active", Column: "active",
		Tab: TabReal, Label: "Active",
		Kind: KindBool, CfAlways: true, Example: "1"},
		Ref: func(rs *RealServer) any { return &rs.Active }},
	// Whether an address is required, and may be the placeholder, depends
	// on Active: Validate says.
	{Meta: Meta{Key: "address", Cf: "address", Form: "address", JSON: "address", Column: "address",
		Tab: TabReal, Label: "Address",
		Kind: KindAddr, CfHost: true, Default: Defaults{Console: "0.0.0.0"}, FormBlank: true, Example: "10.10.0.11"},
		Ref: func(rs *RealServer) any { return &rs.Address }},
	{Meta: Meta{Key: "port", Cf: "port", Form: "port", JSON: "port", Column: "port",
		Tab: TabReal, Label: "Port", Help: "empty = the virtual server's port",
		Kind: KindPort, Range: Between(0, 65535), FormBlank: true, Example: "8080"},
		Ref: func(rs *RealServer) any { return &rs.Port }},
	{Meta: Meta{Key: "weight", Cf: "weight", Form: "weight", JSON: "weight", Column: "weight",
		Tab: TabReal, Label: "Weight", Help: "0-2147483647; 0 takes no new connections",
		Kind: KindInt, Range: Between(0, MaxWeight), Default: Both("1"), CfAlways: true, Example: "5"},
		Ref: func(rs *RealServer) any { return &rs.Weight }},
	{Meta: Meta{Key: "fwd", Cf: "fwd", Form: "fwd", JSON: "fwd", Column: "forward",
		Tab: TabReal, Label: "Forwarding method",
		Kind: KindEnum, Choices: []Choice{{"", "global setting"}, {string(NAT), "NAT"}, {string(Direct), "Direct routing"}, {string(Tunnel), "Tunneling"}},
		Refusal: "is not a forwarding method: use nat, direct or tunnel (or leave it empty for the global setting)", Example: "nat"},
		Ref: func(rs *RealServer) any { return &rs.Forward }},
	{Meta: Meta{Key: "uthreshold", Cf: "uthreshold", Form: "uthreshold", JSON: "uthreshold", Column: "uthreshold",
		Tab: TabReal, Label: "Upper connection threshold", Help: "0 = no limit",
		Kind: KindInt, Range: Between(0, MaxUint32), Example: "1000"},
		Ref: func(rs *RealServer) any { return &rs.UpperThreshold }},
	{Meta: Meta{Key: "lthreshold", Cf: "lthreshold", Form: "lthreshold", JSON: "lthreshold", Column: "lthreshold",
		Tab: TabReal, Label: "Lower connection threshold", Help: "0 = no limit; at most the upper one",
		Kind: KindInt, Range: Between(0, MaxUint32), Example: "100"},
		Ref: func(rs *RealServer) any { return &rs.LowerThreshold }},
	// Notify programs (issue 15, keepalived's notify_up and notify_down).
	{Meta: Meta{Key: "notify_up", Cf: "notify_up", Form: "notify_up", JSON: "notify_up", Column: "notify_up",
		Tab: TabReal, Label: "Run when it comes up", Help: "full path and arguments; run without a shell, as root",
		Kind: KindCommand, CfQuoted: true, Example: `/usr/bin/logger -t lvs "web1 up"`},
		Ref: func(rs *RealServer) any { return &rs.NotifyUp }},
	{Meta: Meta{Key: "notify_down", Cf: "notify_down", Form: "notify_down", JSON: "notify_down", Column: "notify_down",
		Tab: TabReal, Label: "Run when it goes down", Help: "full path and arguments; run without a shell, as root",
		Kind: KindCommand, CfQuoted: true, Example: `/usr/bin/logger -t lvs "web1 down"`},
		Ref: func(rs *RealServer) any { return &rs.NotifyDown }},
	// Load monitors (issue 18, lvs/load).
	{Meta: Meta{Key: "max_weight", Cf: "max_weight", Form: "max_weight", JSON: "max_weight", Column: "max_weight",
		Tab: TabReal, Label: "Most weight", Help: "the most a load monitor or a check's exit status may give; empty: 10 x the weight for a load monitor (piranha's), no limit for an exit status",
		Kind: KindInt, Range: Between(0, MaxWeight), FormBlank: true, Example: "1000"},
		Ref: func(rs *RealServer) any { return &rs.MaxWeight }},
	{Meta: Meta{Key: "load_port", Cf: "load_port", Form: "load_port", JSON: "load_port", Column: "load_port",
		Tab: TabReal, Label: "Load monitor port", Help: "empty: the virtual server's",
		Kind: KindPort, Range: Between(0, 65535), FormBlank: true, Example: "3335"},
		Ref: func(rs *RealServer) any { return &rs.LoadPort }},
}

// schedulerChoices are the kernel's schedulers with their names spelt out.
var schedulerChoices = func() []Choice {
	names := map[string]string{
		"rr": "round robin", "wrr": "weighted round robin", "lc": "least connection",
		"wlc": "weighted least connection", "lblc": "locality-based least connection",
		"lblcr": "locality-based least connection with replication", "dh": "destination hashing",
		"sh": "source hashing", "sed": "shortest expected delay", "nq": "never queue",
		"fo": "weighted failover", "ovf": "weighted overflow", "mh": "maglev hashing",
		"twos": "weighted random twos choice",
	}
	cs := make([]Choice, len(Schedulers))
	for i, s := range Schedulers {
		cs[i] = Choice{s, s + " – " + names[s]}
	}
	return cs
}()

func onlyLVS(s string) error {
	if s != "" && s != "lvs" {
		return fmt.Errorf("%q is not supported: only lvs", s)
	}
	return nil
}

func debugLevel(d string) error {
	if d != "" && d != "NONE" && strings.Trim(d, "0123456789") != "" {
		return fmt.Errorf("%q is not allowed: use NONE or a number", d)
	}
	return nil
}

func statusRanges(s string) error {
	_, err := ParseStatusRanges(s)
	return err
}

func optionalRegex(s string) error {
	if s == "" {
		return nil
	}
	_, err := CheckRegex(s)
	return err
}

// Limits the kernel or common sense sets.
const (
	MaxWeight    = math.MaxInt32
	MaxUint32    = math.MaxUint32
	maxNameLen   = 63
	maxIfNameLen = 15 // IFNAMSIZ less the NUL
	maxKeepalive = time.Hour
	maxTimeout   = time.Hour
	maxReentry   = 24 * time.Hour
	maxDrain     = 7 * 24 * time.Hour
	minInterval  = 10 * time.Millisecond
	maxAS        = math.MaxUint32 - 1 // 4294967295 is reserved (RFC 7300)
	maxBGPDrain  = 600 * time.Second
)
