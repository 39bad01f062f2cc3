// Package config is the model of a load balancer's configuration: piranha's
// global settings, redundancy, virtual servers and real servers, plus what a
// modern IPVS kernel adds. It has no I/O: the store persists it, lvs.cf
// import/export and the console translate it, and the engine programs it.
//
// Every rule a configuration must obey lives in [Config.Validate], so that
// every writer (console, API, import, peer sync) refuses the same things with
// the same words.
package config

import (
	"net/netip"
	"time"
)

// Config is one complete configuration, as accepted at one serial number.
type Config struct {
	// Serial is the configuration serial number (piranha's serial_no). The
	// store bumps it on every accepted change; callers never set it.
	Serial int64

	Global     Global
	Redundancy Redundancy
	Virtuals   []VirtualServer
}

// Forward is an IPVS packet-forwarding method.
type Forward string

const (
	NAT    Forward = "nat"    // masquerading: the director rewrites addresses
	Direct Forward = "direct" // direct routing (LVS-DR, gatewaying)
	Tunnel Forward = "tunnel" // IP-in-IP tunnelling (LVS-TUN)
)

// Forwards lists the forwarding methods in the order a form offers them.
var Forwards = []Forward{NAT, Direct, Tunnel}

// Global holds piranha's GLOBAL SETTINGS and the global lvs.cf keys.
type Global struct {
	Primary        netip.Addr // public address of the primary director
	PrimaryPrivate netip.Addr // optional second heartbeat path
	Network        Forward    // default forwarding method of real servers

	NATRouter       netip.Addr // floating gateway address of the real servers (NAT only)
	NATRouterDevice string     // device (label) it is brought up on, e.g. eth1:1
	NATNetmask      Netmask

	// IPVS connection timeouts in seconds; 0 leaves the kernel's value.
	TCPTimeout    int64
	TCPFinTimeout int64
	UDPTimeout    int64

	// Commands run when this director becomes active or standby: a program
	// path and its arguments, split like a shell would but never run by one.
	ActiveCmd   string
	InactiveCmd string

	// Kept for lvs.cf fidelity; piranha-specific.
	Service      string // "lvs"
	HardShutdown bool
	RshCommand   string // rsh or ssh, for load monitoring
	DebugLevel   string // NONE, or a number
}

// Redundancy holds piranha's REDUNDANCY tab: the backup director and the
// heartbeat between the two.
type Redundancy struct {
	BackupActive  bool
	Backup        netip.Addr // public address of the backup director
	BackupPrivate netip.Addr // optional

	Heartbeat     bool          // piranha's heartbeat = 1
	Keepalive     time.Duration // heartbeat interval
	Deadtime      time.Duration // silence after which the peer is declared dead
	HeartbeatPort int           // UDP

	MonitorLinks bool

	// A recovered primary stays standby (piranha) unless Preempt is on; it
	// then takes over after hearing the active backup for PreemptDelay.
	Preempt      bool
	PreemptDelay time.Duration

	SyncDaemon bool   // run the IPVS connection sync daemon
	SyncIface  string // its interface
	SyncID     int    // its sync id (0-255)

	// Cluster mode (issue 19, docs/bgp.md): instead of an active/backup
	// pair, 2-16 active directors behind the routers' ECMP, each
	// announcing the VIPs it can serve over BGP. Exclusive with
	// BackupActive.
	Cluster          bool
	ClusterDirectors string // the directors' addresses, space or comma separated (Directors parses)

	BGPAS          int64         // this cluster's AS, 1-4294967294
	BGPPeers       string        // the routers: "ADDRESS AS" entries, comma separated (Peers parses)
	BGPPassword    string        // TCP MD5 password for every peer ("" = none)
	BGPHoldTime    time.Duration // 0 or 3 s-65535 s, whole seconds
	BGPCommunities string        // put on every route: "ASN:VALUE" (or well-known names), space separated
	BGPNextHop     netip.Addr    // invalid: next-hop self
	BGPDrain       time.Duration // after a clean stop, how long GRACEFUL_SHUTDOWN routes stay before the withdrawal
}

// Protocol is a virtual service's transport protocol.
type Protocol string

const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	SCTP Protocol = "sctp"
)

// Protocols lists the supported protocols.
var Protocols = []Protocol{TCP, UDP, SCTP}

// Schedulers lists every IPVS scheduler of current kernels.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// VirtualServer is one IPVS virtual service and how its real servers are
// checked.
type VirtualServer struct {
	ID     int64 // assigned by the store; stable across renames
	Name   string
	Active bool

	Address netip.Addr // the VIP, IPv4 or IPv6
	Device  string     // device or label the VIP is brought up on, e.g. eth0:1
	Netmask Netmask    // of the VIP on that device

	Protocol Protocol
	// Port is the service port. A firewall-mark service has no port in IPVS;
	// there Port is only the port its real servers are checked on (piranha's
	// meaning) and may be 0.
	Port   int
	FWMark int64 // non-zero: a firewall-mark service

	Scheduler string
	// Flags of the sh and mh schedulers.
	SchedFallback bool // pick another server when the hashed one is unavailable
	SchedPort     bool // hash the source port as well
	OnePacket     bool // one-packet scheduling (UDP)

	Persistence        int64   // persistence timeout in seconds; 0 = none
	PersistenceNetmask Netmask // client granularity of persistence

	SorryServer netip.Addr // used while the service is below its quorum

	// Announce: in cluster mode, the VIP's host route is announced over
	// BGP while this director can serve it (default on).
	Announce bool

	// Quorum (keepalived's): the service is up while the weights of its
	// up real servers add up to Quorum (0 is keepalived's 1); below
	// Quorum-Hysteresis it is down (the sorry server takes over), and up
	// again at Quorum+Hysteresis. QuorumUp and QuorumDown are programs
	// run when it gains and loses its quorum.
	Quorum     int64
	Hysteresis int64
	QuorumUp   string
	QuorumDown string

	// Health checking (piranha's nanny).
	CheckTimeout time.Duration // interval and I/O timeout of a check
	Reentry      time.Duration // consecutive success needed before re-entry
	Quiesce      bool          // on failure set weight 0 instead of removing
	LoadMonitor  string        // none, rup, ruptime, uptime, agent, feedback (see lvs/load)
	Send         string        // written after connecting; \r \n \t escapes
	Expect       string        // expected reply prefix (or regex)
	UseRegex     bool
	SendProgram  string // check program; %h = address, %p = port

	// CheckKind picks the check: "" is piranha's (send_program when set,
	// else send/expect over TCP), or one of CheckKinds (see checks.go).
	CheckKind     string
	CheckInterval time.Duration // between checks; 0: the timeout, as piranha
	CheckFailures int           // consecutive failures before a server is DOWN; 0 is piranha's 1
	HTTPPath      string        // http and https checks: the path to GET ("" = /)
	HTTPHost      string        // virtual host ("" = the real server's address)
	HTTPStatus    string        // accepted status codes and ranges ("" = 200-399)
	HTTPBody      string        // POSIX extended regex the body must match ("" = any)
	TLSVerify     bool          // https: verify the certificate

	// Checks keepalived has (see checks.go).
	HTTPDigest    string // http and https: MD5 of the body, hex ("" = not checked)
	SMTPHelo      string // smtp: the HELO name ("" = the director's host name)
	DNSType       string // dns: the query type ("" = SOA, keepalived's default)
	DNSName       string // dns: the name asked for ("" = ".", the root)
	ProgramWeight bool   // program: the exit status sets the weight (keepalived's misc_dynamic)

	// DrainTimeout is the longest a real server drains (see
	// RealServer.Draining) before it is deactivated with connections
	// left; 0: until they end.
	DrainTimeout time.Duration

	// The load monitor's settings (LoadMonitor; issue 18, lvs/load).
	LoadPort     int           // agent, feedback, uptime: the port (0: feedback's 3333, ssh's 22)
	LoadSend     string        // agent: written after connecting (HAProxy's agent-send); \r \n \t escapes
	LoadHTTPPath string        // feedback: GET this path over HTTP ("" = the TCP agent)
	LoadInterval time.Duration // between two readings; 0: piranha's, 20 s or the check interval if longer
	LoadSSHUser  string        // uptime: the user to log in as
	LoadSSHKey   string        // uptime: the private key's file on the director

	Reals []RealServer
}

// RealServer is one destination of a virtual service.
type RealServer struct {
	ID      int64 // assigned by the store
	Name    string
	Active  bool
	Address netip.Addr
	Port    int   // 0: the virtual server's port
	Weight  int64 // 0..2147483647; 0 takes no new connections
	// Forward is the forwarding method; "" means the global Network setting.
	Forward Forward
	// Connection thresholds; 0 = no limit.
	UpperThreshold int64
	LowerThreshold int64
	// Programs run when the health checks find it up, and down
	// (keepalived's notify_up and notify_down).
	NotifyUp   string
	NotifyDown string
	// MaxWeight is the most a load monitor or a check's exit status may
	// set (0: 10 x Weight for a load monitor, piranha's scale; no bound
	// other than MaxWeight for a check's exit status, keepalived's).
	MaxWeight int64
	// LoadPort is this server's agent, feedback or ssh port (0: the
	// virtual server's LoadPort).
	LoadPort int

	// Draining is the console's state, not a configuration field: no
	// lvs.cf key, not on the form. The engine gives a draining server
	// weight 0 (its configured Weight stays, for when it is activated
	// again) until lvs/drain deactivates it, once its connections end.
	Draining bool
	// DrainSince is when it began draining: the store sets it (UTC, to
	// the millisecond) when Draining becomes true, and clears it with it.
	DrainSince time.Time
}

// StartDrain puts rs into draining; activating or deactivating it ends
// the drain (SetActive).
func (rs *RealServer) StartDrain() { rs.Draining = true }

// SetActive activates or deactivates rs, ending a drain: an activated
// server takes its configured weight again.
func (rs *RealServer) SetActive(on bool) {
	rs.Active, rs.Draining, rs.DrainSince = on, false, time.Time{}
}

// IsFWMark reports whether vs is a firewall-mark service.
func (vs *VirtualServer) IsFWMark() bool { return vs.FWMark != 0 }

// Real returns the real server named name, or nil.
func (vs *VirtualServer) Real(name string) *RealServer {
	for i := range vs.Reals {
		if vs.Reals[i].Name == name {
			return &vs.Reals[i]
		}
	}
	return nil
}

// Virtual returns the virtual server named name, or nil.
func (c *Config) Virtual(name string) *VirtualServer {
	for i := range c.Virtuals {
		if c.Virtuals[i].Name == name {
			return &c.Virtuals[i]
		}
	}
	return nil
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	n := *c
	if c.Virtuals == nil {
		return &n // nil stays nil: a clone is DeepEqual to its original
	}
	n.Virtuals = make([]VirtualServer, len(c.Virtuals))
	// All real servers in one allocation, each virtual server's slice
	// capped at its length so that an append copies rather than runs
	// into the next one's: at 10,000 x 10 a third of the time of 10,000
	// allocations (issue 20).
	total := 0
	for i := range c.Virtuals {
		total += len(c.Virtuals[i].Reals)
	}
	all := make([]RealServer, 0, total)
	for i, vs := range c.Virtuals {
		vs.Reals = nil // as append([]RealServer(nil), none...)
		if len(c.Virtuals[i].Reals) > 0 {
			k := len(all)
			all = append(all, c.Virtuals[i].Reals...)
			vs.Reals = all[k:len(all):len(all)]
		}
		n.Virtuals[i] = vs
	}
	return &n
}

// EffectiveQuorum is vs's quorum after applying the default, 1.
func (vs *VirtualServer) EffectiveQuorum() int64 { return max(vs.Quorum, 1) }

// EffectivePort is the port IPVS and the checks use for rs within vs.
func (rs *RealServer) EffectivePort(vs *VirtualServer) int {
	if rs.Port != 0 {
		return rs.Port
	}
	return vs.Port
}

// EffectiveForward is rs's forwarding method after applying the default.
func (rs *RealServer) EffectiveForward(g *Global) Forward {
	if rs.Forward != "" {
		return rs.Forward
	}
	if g.Network != "" {
		return g.Network
	}
	return Direct
}

// UsesFamily reports whether an active virtual server of c has an address
// of the family (IPv4 when ipv4): what forwarding a NAT director needs.
func (c *Config) UsesFamily(ipv4 bool) bool {
	for i := range c.Virtuals {
		if a := c.Virtuals[i].Address; c.Virtuals[i].Active && a.IsValid() && a.Is4() == ipv4 {
			return true
		}
	}
	return false
}
