package lvscf

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// A setter stores one value into the model. On error it leaves the target
// alone, so that the parser's default stays in place and Validate does not
// add a second, confusing complaint about a zero value nobody wrote.
type setter[T any] func(t *T, v string) error

type key[T any] struct {
	name string
	set  setter[T]
}

func lookup[T any](keys []key[T], name string) setter[T] {
	for _, k := range keys {
		if k.name == name {
			return k.set
		}
	}
	return nil
}

func names[T any](keys []key[T]) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.name
	}
	return strings.Join(s, ", ")
}

func str[T any](f func(*T) *string) setter[T] {
	return func(t *T, v string) error { *f(t) = v; return nil }
}

func boolean[T any](f func(*T) *bool) setter[T] {
	return func(t *T, v string) error {
		b, err := config.ParseBool(v)
		if err == nil {
			*f(t) = b
		}
		return err
	}
}

func integer[T any](f func(*T) *int64) setter[T] {
	return func(t *T, v string) error {
		n, err := config.ParseInt(v)
		if err == nil {
			*f(t) = n
		}
		return err
	}
}

// smallInt guards the int fields: on a 32-bit build a silent truncation
// would turn an out-of-range value into one Validate accepts.
func smallInt[T any](f func(*T) *int) setter[T] {
	return func(t *T, v string) error {
		n, err := config.ParseInt(v)
		if err != nil {
			return err
		}
		if int64(int(n)) != n {
			return fmt.Errorf("%q is far out of range", v)
		}
		*f(t) = int(n)
		return nil
	}
}

func port[T any](f func(*T) *int) setter[T] {
	return func(t *T, v string) error {
		n, err := config.ParsePort(v)
		if err == nil {
			*f(t) = n
		}
		return err
	}
}

func seconds[T any](f func(*T) *time.Duration) setter[T] {
	return func(t *T, v string) error {
		d, err := config.ParseSeconds(v)
		if err == nil {
			*f(t) = d
		}
		return err
	}
}

func addr[T any](f func(*T) *netip.Addr) setter[T] {
	return func(t *T, v string) error {
		a, err := config.ParseAddr(v)
		if err == nil {
			*f(t) = a
		}
		return err
	}
}

// mask reads a netmask; 0.0.0.0 (or 0) is "not given", as piranha's
// daemons read it (pulse.c sendArps brings an address up without a netmask
// when it is 0, lvsd.c startVirtualServer passes no pmask).
func mask[T any](f func(*T) *config.Netmask) setter[T] {
	return func(t *T, v string) error {
		m, err := config.ParseNetmask(v)
		if err == nil {
			if m.Bits() == 0 {
				m = config.Netmask{}
			}
			*f(t) = m
		}
		return err
	}
}

// optionalAddr reads an address of which 0.0.0.0 is "none", as piranha's
// sorry_server (lvsd.c checkClientMonitor: an all-zero one is no sorry
// server).
func optionalAddr[T any](f func(*T) *netip.Addr) setter[T] {
	return func(t *T, v string) error {
		a, err := config.ParseAddr(v)
		if err == nil {
			if a.IsUnspecified() {
				a = netip.Addr{}
			}
			*f(t) = a
		}
		return err
	}
}

// addrDev parses piranha's "IP dev" pair. Only ASCII blanks separate the
// two, because a device name may legally hold other Unicode spaces and must
// survive a round trip.
func addrDev(v string, a *netip.Addr, dev *string) error {
	f := strings.FieldsFunc(v, isBlank)
	switch {
	case len(f) == 0:
		*a, *dev = netip.Addr{}, ""
		return nil
	case len(f) > 2:
		return fmt.Errorf("%q: expected an address and a device, e.g. \"192.0.2.1 eth0:1\"", v)
	}
	ip, err := config.ParseAddr(f[0])
	if err != nil {
		return err
	}
	if !ip.IsValid() {
		// ParseAddr trims Unicode spaces, so a word of them reads as "no
		// address"; a device must not then stand alone, where it would be
		// unrepresentable.
		return fmt.Errorf("%q is not an IP address", f[0])
	}
	d := ""
	if len(f) == 2 {
		d = f[1]
	}
	*a, *dev = ip, d
	return nil
}

func isBlank(r rune) bool { return r == ' ' || r == '\t' }

// sched_flags and ops are ours, not piranha's: the sh/mh flags and one-packet
// scheduling did not exist in piranha's kernels.
func schedFlags(vs *config.VirtualServer, v string) error {
	var fallback, port bool
	if strings.Trim(v, " \t") != "" {
		for _, f := range strings.Split(v, ",") {
			switch strings.Trim(f, " \t") {
			case "fallback":
				fallback = true
			case "port":
				port = true
			default:
				return fmt.Errorf("%q is not a scheduler flag: use fallback, port or fallback,port", strings.Trim(f, " \t"))
			}
		}
	}
	vs.SchedFallback, vs.SchedPort = fallback, port
	return nil
}

func formatSchedFlags(vs *config.VirtualServer) string {
	var f []string
	if vs.SchedFallback {
		f = append(f, "fallback")
	}
	if vs.SchedPort {
		f = append(f, "port")
	}
	return strings.Join(f, ",")
}

// The key tables are in the order piranha documents them; error messages
// list them in that order.
var globalKeys = []key[config.Config]{
	{"serial_no", integer(func(c *config.Config) *int64 { return &c.Serial })},
	{"service", str(func(c *config.Config) *string { return &c.Global.Service })},
	{"primary", addr(func(c *config.Config) *netip.Addr { return &c.Global.Primary })},
	{"primary_private", addr(func(c *config.Config) *netip.Addr { return &c.Global.PrimaryPrivate })},
	{"backup_active", boolean(func(c *config.Config) *bool { return &c.Redundancy.BackupActive })},
	{"backup", addr(func(c *config.Config) *netip.Addr { return &c.Redundancy.Backup })},
	{"backup_private", addr(func(c *config.Config) *netip.Addr { return &c.Redundancy.BackupPrivate })},
	{"heartbeat", boolean(func(c *config.Config) *bool { return &c.Redundancy.Heartbeat })},
	{"heartbeat_port", port(func(c *config.Config) *int { return &c.Redundancy.HeartbeatPort })},
	{"keepalive", seconds(func(c *config.Config) *time.Duration { return &c.Redundancy.Keepalive })},
	{"deadtime", seconds(func(c *config.Config) *time.Duration { return &c.Redundancy.Deadtime })},
	{"network", func(c *config.Config, v string) error { c.Global.Network = config.Forward(v); return nil }},
	{"nat_router", func(c *config.Config, v string) error {
		return addrDev(v, &c.Global.NATRouter, &c.Global.NATRouterDevice)
	}},
	{"nat_nmask", mask(func(c *config.Config) *config.Netmask { return &c.Global.NATNetmask })},
	{"monitor_links", boolean(func(c *config.Config) *bool { return &c.Redundancy.MonitorLinks })},
	{"preempt", boolean(func(c *config.Config) *bool { return &c.Redundancy.Preempt })},
	{"preempt_delay", seconds(func(c *config.Config) *time.Duration { return &c.Redundancy.PreemptDelay })},
	{"syncdaemon", boolean(func(c *config.Config) *bool { return &c.Redundancy.SyncDaemon })},
	{"syncd_iface", str(func(c *config.Config) *string { return &c.Redundancy.SyncIface })},
	{"syncd_id", smallInt(func(c *config.Config) *int { return &c.Redundancy.SyncID })},
	{"tcp_timeout", integer(func(c *config.Config) *int64 { return &c.Global.TCPTimeout })},
	{"tcpfin_timeout", integer(func(c *config.Config) *int64 { return &c.Global.TCPFinTimeout })},
	{"udp_timeout", integer(func(c *config.Config) *int64 { return &c.Global.UDPTimeout })},
	{"hard_shutdown", boolean(func(c *config.Config) *bool { return &c.Global.HardShutdown })},
	{"active_cmd", str(func(c *config.Config) *string { return &c.Global.ActiveCmd })},
	{"inactive_cmd", str(func(c *config.Config) *string { return &c.Global.InactiveCmd })},
	{"rsh_command", str(func(c *config.Config) *string { return &c.Global.RshCommand })},
	{"debug_level", str(func(c *config.Config) *string { return &c.Global.DebugLevel })},
}

var virtualKeys = []key[config.VirtualServer]{
	{"active", boolean(func(vs *config.VirtualServer) *bool { return &vs.Active })},
	{"address", func(vs *config.VirtualServer, v string) error {
		return addrDev(v, &vs.Address, &vs.Device)
	}},
	{"vip_nmask", mask(func(vs *config.VirtualServer) *config.Netmask { return &vs.Netmask })},
	{"sorry_server", optionalAddr(func(vs *config.VirtualServer) *netip.Addr { return &vs.SorryServer })},
	{"fwmark", integer(func(vs *config.VirtualServer) *int64 { return &vs.FWMark })},
	{"protocol", func(vs *config.VirtualServer, v string) error { vs.Protocol = config.Protocol(v); return nil }},
	{"port", port(func(vs *config.VirtualServer) *int { return &vs.Port })},
	{"scheduler", str(func(vs *config.VirtualServer) *string { return &vs.Scheduler })},
	{"persistent", integer(func(vs *config.VirtualServer) *int64 { return &vs.Persistence })},
	{"pmask", mask(func(vs *config.VirtualServer) *config.Netmask { return &vs.PersistenceNetmask })},
	{"send", str(func(vs *config.VirtualServer) *string { return &vs.Send })},
	{"expect", str(func(vs *config.VirtualServer) *string { return &vs.Expect })},
	{"use_regex", boolean(func(vs *config.VirtualServer) *bool { return &vs.UseRegex })},
	{"send_program", str(func(vs *config.VirtualServer) *string { return &vs.SendProgram })},
	{"timeout", seconds(func(vs *config.VirtualServer) *time.Duration { return &vs.CheckTimeout })},
	{"reentry", seconds(func(vs *config.VirtualServer) *time.Duration { return &vs.Reentry })},
	{"load_monitor", str(func(vs *config.VirtualServer) *string { return &vs.LoadMonitor })},
	{"quiesce_server", boolean(func(vs *config.VirtualServer) *bool { return &vs.Quiesce })},
	{"sched_flags", schedFlags},
	{"ops", boolean(func(vs *config.VirtualServer) *bool { return &vs.OnePacket })},
	{"check", str(func(vs *config.VirtualServer) *string { return &vs.CheckKind })},
	{"check_interval", seconds(func(vs *config.VirtualServer) *time.Duration { return &vs.CheckInterval })},
	{"check_failures", smallInt(func(vs *config.VirtualServer) *int { return &vs.CheckFailures })},
	{"http_path", str(func(vs *config.VirtualServer) *string { return &vs.HTTPPath })},
	{"http_host", str(func(vs *config.VirtualServer) *string { return &vs.HTTPHost })},
	{"http_status", str(func(vs *config.VirtualServer) *string { return &vs.HTTPStatus })},
	{"http_body", str(func(vs *config.VirtualServer) *string { return &vs.HTTPBody })},
	{"tls_verify", boolean(func(vs *config.VirtualServer) *bool { return &vs.TLSVerify })},
}

var serverKeys = []key[config.RealServer]{
	{"address", addr(func(rs *config.RealServer) *netip.Addr { return &rs.Address })},
	{"active", boolean(func(rs *config.RealServer) *bool { return &rs.Active })},
	{"weight", integer(func(rs *config.RealServer) *int64 { return &rs.Weight })},
	{"port", port(func(rs *config.RealServer) *int { return &rs.Port })},
	{"fwd", func(rs *config.RealServer, v string) error { rs.Forward = config.Forward(v); return nil }},
	{"uthreshold", integer(func(rs *config.RealServer) *int64 { return &rs.UpperThreshold })},
	{"lthreshold", integer(func(rs *config.RealServer) *int64 { return &rs.LowerThreshold })},
}

// Parser defaults for absent keys. They are piranha's parser's, not the
// console's (config.Default), because a file written for piranha meant these
// (lvsconfig.c lvsParseConfig and lvsInitVirtualServer).
const (
	defKeepalive     = 2 * time.Second
	defDeadtime      = 5 * time.Second
	defHeartbeatPort = 539
	defService       = "lvs"
	defNetwork       = config.NAT
	defSyncIface     = "eth0"
	defProtocol      = config.TCP
	defPort          = 80
	defScheduler     = "wlc"
	defTimeout       = 10 * time.Second
	defReentry       = 180 * time.Second
	defWeight        = 1
)

func defaultConfig() *config.Config {
	return &config.Config{
		Global: config.Global{
			Network:      defNetwork,
			Service:      defService,
			HardShutdown: true,
		},
		Redundancy: config.Redundancy{
			Keepalive:     defKeepalive,
			Deadtime:      defDeadtime,
			HeartbeatPort: defHeartbeatPort,
			SyncIface:     defSyncIface,
		},
	}
}

func defaultVirtual(name string) *config.VirtualServer {
	return &config.VirtualServer{
		Name:         name,
		Protocol:     defProtocol,
		Port:         defPort,
		Scheduler:    defScheduler,
		CheckTimeout: defTimeout,
		Reentry:      defReentry,
	}
}

func defaultReal(name string) *config.RealServer {
	return &config.RealServer{Name: name, Weight: defWeight}
}

// droppedKey is a key piranha's parser reads that does nothing here: it is
// accepted, if piranha would have accepted its value, and dropped with a
// warning saying why.
type droppedKey struct {
	why   string
	check func(v string) error // piranha's own check of the value, if any
}

// piranhaOnly lists them by block, from lvsconfig.c parseConfiguration and
// parseVirtualServer.
var piranhaOnly = map[kind]map[string]droppedKey{
	global: {
		"primary_shared": {why: "the shared SCSI disk piranha's pulse reserved when its director became active " +
			"(pulse.c using_shared_SCSI); lvsconsole reserves no disk"},
		"backup_shared": {why: "the shared SCSI disk piranha's pulse reserved when its director became active " +
			"(pulse.c using_shared_SCSI); lvsconsole reserves no disk"},
		"reservation_conflict_action": {why: "what piranha's pulse did when its SCSI reservation of the shared disk " +
			"conflicted; lvsconsole reserves no disk", check: func(v string) error {
			if v != "nothing" && v != "preempt" {
				return fmt.Errorf("%q is not allowed: use nothing or preempt", v)
			}
			return nil
		}},
		"ipvsadm": {why: "the ipvsadm program piranha's daemons ran; lvsconsole programs IPVS over netlink, without it"},
		"sync": {why: "piranha's file sync switch, which its daemons never read; lvsconsole copies the configuration " +
			"to the backup itself", check: func(v string) error { _, err := config.ParseBool(v); return err }},
	},
	virtual: {
		"client_monitor": {why: "the checker piranha's lvsd started for each real server (nanny); lvsconsole " +
			"checks real servers itself (check, send and expect)"},
		"master":    {why: "a setting piranha's daemons never read"},
		"dirs":      {why: "a setting piranha's daemons never read"},
		"start_cmd": {why: "a command of piranha's failover services (fos), which a virtual server never runs"},
		"stop_cmd":  {why: "a command of piranha's failover services (fos), which a virtual server never runs"},
	},
}
