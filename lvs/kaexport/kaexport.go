// Package kaexport writes a configuration as a keepalived.conf for one of
// the two directors: the VRRP instance that holds the VIPs (the
// redundancy settings), and a virtual_server for each active virtual
// server that makes keepalived program the same IPVS table as
// engine.Desired with every active real server up.
//
// What keepalived cannot say is written as a comment naming the field,
// where it would have been, and returned as an Omission so that the
// command line can list it. The syntax is keepalived 2.2's
// (keepalived.conf(5)); tests run `keepalived -t` on what is written.
package kaexport

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Node is the director a file is written for.
type Node string

const (
	Primary Node = "primary"
	Backup  Node = "backup"
)

// ErrNode is the error of a node that is neither primary nor backup.
var ErrNode = errors.New("is not a director: use primary or backup")

// ErrNoBackup is the error of -node backup when the configuration has no
// backup director.
var ErrNoBackup = errors.New("the configuration has no active backup director (backup_active is off)")

// VRID is the virtual_router_id written: the configuration has none, and
// keepalived requires one; 51 is keepalived's sample's.
const VRID = 51

// Instance is the name of the VRRP instance written.
const Instance = "lvs"

// Priorities of the two directors in the VRRP instance.
const (
	primaryPriority = 150
	backupPriority  = 100
)

// Omission is a field whose value keepalived cannot express, or can only
// approach.
type Omission struct {
	Where string // "global", "redundancy", "virtual server www", "virtual server www, real server r1"
	Field string // the lvs.cf key
	Why   string
}

func (o Omission) String() string { return o.Where + ": " + o.Field + ": " + o.Why }

// Write writes cfg as node's keepalived.conf to w and returns what it
// could not express (also written in the file, as comments).
func Write(w io.Writer, cfg *config.Config, node Node) ([]Omission, error) {
	switch node {
	case Primary:
	case Backup:
		if !cfg.Redundancy.BackupActive {
			return nil, ErrNoBackup
		}
	default:
		return nil, fmt.Errorf("%q %w", node, ErrNode)
	}
	x := &writer{cfg: cfg, node: node}
	x.printf(0, "# keepalived.conf of the %s director, written by lvsconsole from configuration serial %d.", node, cfg.Serial)
	x.printf(0, "# Check it with: keepalived -t -f FILE")
	x.printf(0, "")
	x.global()
	x.redundancy()
	for i := range cfg.Virtuals {
		x.virtual(&cfg.Virtuals[i])
	}
	_, err := w.Write(x.b.Bytes())
	return x.omitted, err
}

type writer struct {
	cfg     *config.Config
	node    Node
	b       bytes.Buffer
	omitted []Omission
}

func (x *writer) printf(depth int, format string, args ...any) {
	x.b.WriteString(strings.Repeat("    ", depth))
	fmt.Fprintf(&x.b, format, args...)
	x.b.WriteByte('\n')
}

// omit records what keepalived cannot express and writes it as a comment.
func (x *writer) omit(depth int, where, field, why string) {
	x.omitted = append(x.omitted, Omission{where, field, why})
	x.printf(depth, "# not expressed: %s: %s", field, why)
}

func (x *writer) global() {
	g := &x.cfg.Global
	x.printf(0, "global_defs {")
	x.printf(1, "router_id lvsconsole-%s", x.node)
	var to []string
	for _, t := range []struct {
		kw string
		s  int64
	}{{"tcp", g.TCPTimeout}, {"tcpfin", g.TCPFinTimeout}, {"udp", g.UDPTimeout}} {
		if t.s != 0 {
			to = append(to, t.kw+" "+strconv.FormatInt(t.s, 10))
		}
	}
	if len(to) > 0 {
		x.printf(1, "lvs_timeouts %s", strings.Join(to, " "))
	}
	if x.runsPrograms() {
		// The console runs programs as root and only when only root can
		// change them (SECURITY.md); enable_script_security is
		// keepalived's same rule.
		x.printf(1, "script_user root")
		x.printf(1, "enable_script_security")
	}
	if r := &x.cfg.Redundancy; r.SyncDaemon {
		inst := ""
		if r.BackupActive {
			inst = " inst " + Instance
		}
		x.printf(1, "lvs_sync_daemon %s%s id %d", r.SyncIface, inst, r.SyncID)
	}
	if g.RshCommand != "" {
		x.omit(1, "global", "rsh_command", "keepalived has no load monitoring")
	}
	x.printf(0, "}")
	x.printf(0, "")
}

// runsPrograms reports whether the file names a program keepalived runs:
// a check program, a command run on becoming active or standby, a quorum's
// or a real server's program.
func (x *writer) runsPrograms() bool {
	if x.cfg.Redundancy.BackupActive && (x.cfg.Global.ActiveCmd != "" || x.cfg.Global.InactiveCmd != "") {
		return true
	}
	for i := range x.cfg.Virtuals {
		vs := &x.cfg.Virtuals[i]
		if !inTable(vs) || !hasReals(vs) {
			continue
		}
		if checkKind(vs) == config.CheckProgram && vs.SendProgram != "" || vs.QuorumUp != "" || vs.QuorumDown != "" {
			return true
		}
		for _, rs := range vs.Reals {
			if rs.Active && usable(rs.Address) && (rs.NotifyUp != "" || rs.NotifyDown != "") {
				return true
			}
		}
	}
	return false
}

// inTable reports whether vs is a service of the table: active, with a
// real address (as engine.Desired).
func inTable(vs *config.VirtualServer) bool { return vs.Active && usable(vs.Address) }

func usable(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

// vip is an address the active director brings up.
type vip struct {
	addr   netip.Addr
	bits   int    // -1: no netmask given (keepalived takes a host address, as the console does)
	device string // "eth0:1"
}

func (v vip) String() string {
	s := v.addr.String()
	if v.bits >= 0 {
		s = netip.PrefixFrom(v.addr, v.bits).String()
	}
	dev, _, labelled := strings.Cut(v.device, ":")
	if dev != "" {
		s += " dev " + dev
	}
	if labelled && v.addr.Is4() { // labels are IPv4's
		s += " label " + v.device
	}
	return s
}

// vips lists the addresses the active director brings up: each active
// virtual server's VIP, once, and the NAT router when the network is NAT.
func (x *writer) vips() []vip {
	var out []vip
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr, m config.Netmask, dev string) {
		if !usable(a) || seen[a] {
			return
		}
		seen[a] = true
		out = append(out, vip{a, m.Bits(), dev})
	}
	for i := range x.cfg.Virtuals {
		if vs := &x.cfg.Virtuals[i]; inTable(vs) {
			add(vs.Address, vs.Netmask, vs.Device)
		}
	}
	if g := &x.cfg.Global; g.Network == config.NAT {
		add(g.NATRouter, g.NATNetmask, g.NATRouterDevice)
	}
	return out
}

func (x *writer) redundancy() {
	g, r := &x.cfg.Global, &x.cfg.Redundancy
	vips := x.vips()
	if r.Cluster {
		x.omit(0, "redundancy", "cluster", "keepalived has no BGP: cluster mode's announcements (bgp_*, bgp_announce) are left to a BGP daemon; this file serves the VIPs on this director alone")
	}
	if !r.BackupActive {
		// One director: the addresses are always up, no VRRP.
		x.printf(0, "# No backup director: the VIPs are always up on this one.")
		if len(vips) > 0 {
			x.printf(0, "static_ipaddress {")
			for _, v := range vips {
				x.printf(1, "%s", v)
			}
			x.printf(0, "}")
		}
		if g.ActiveCmd != "" || g.InactiveCmd != "" {
			x.omit(0, "global", "active_cmd", "without a backup director keepalived has no state to change, so runs no notify_master or notify_backup")
		}
		x.printf(0, "")
		return
	}
	self, peer := g.Primary, r.Backup
	state, prio := "MASTER", primaryPriority
	if x.node == Backup {
		self, peer = r.Backup, g.Primary
		state, prio = "BACKUP", backupPriority
	}
	x.printf(0, "vrrp_instance %s {", Instance)
	switch {
	case !r.Preempt:
		// piranha's: a recovered primary stays standby. keepalived's
		// nopreempt needs the initial state BACKUP on both; the higher
		// priority still wins when both start together.
		x.printf(1, "# preempt off: both directors start as BACKUP with nopreempt; the primary's higher priority wins an election.")
		state = "BACKUP"
	case r.PreemptDelay > 0:
		// keepalived clears preempt_delay of an initial MASTER.
		x.printf(1, "# preempt_delay: both directors start as BACKUP; the primary's higher priority takes over after the delay.")
		state = "BACKUP"
	}
	x.printf(1, "state %s", state)
	if !r.Preempt {
		x.printf(1, "nopreempt")
	} else if r.PreemptDelay > 0 {
		x.printf(1, "preempt_delay %s", seconds(r.PreemptDelay))
	}
	x.printf(1, "interface %s", x.vrrpInterface(vips))
	x.printf(1, "virtual_router_id %d", VRID)
	x.printf(1, "priority %d", prio)
	if r.Keepalive%time.Second != 0 {
		// VRRPv2 advertises whole seconds; v3 centiseconds.
		x.printf(1, "version 3")
	}
	x.printf(1, "advert_int %s", seconds(r.Keepalive))
	if dead := 3 * r.Keepalive; r.Deadtime != dead {
		x.omit(1, "redundancy", "deadtime", fmt.Sprintf("keepalived declares the master dead after 3 x advert_int + skew (%s s here), not %s s",
			seconds(dead), seconds(r.Deadtime)))
	}
	fam := netip.Addr{}
	if usable(self) && usable(peer) && self.Is4() == peer.Is4() {
		fam = self
		x.printf(1, "unicast_src_ip %s", self)
		x.printf(1, "unicast_peer {")
		x.printf(2, "%s", peer)
		x.printf(1, "}")
	} else {
		x.printf(1, "# No usable primary and backup addresses of one family: VRRP advertisements go by multicast.")
	}
	if !r.Heartbeat {
		x.omit(1, "redundancy", "heartbeat", "off in the configuration; keepalived's VRRP always advertises")
	}
	if r.HeartbeatPort != 539 {
		x.omit(1, "redundancy", "heartbeat_port", "VRRP is IP protocol 112 and has no port")
	}
	if g.PrimaryPrivate.IsValid() || r.BackupPrivate.IsValid() {
		x.omit(1, "redundancy", "primary_private/backup_private", "a VRRP instance advertises over one path")
	}
	if r.MonitorLinks {
		x.omit(1, "redundancy", "monitor_links", "keepalived watches its interface's link by default; other links need track_interface")
	}
	if !fam.IsValid() && len(vips) > 0 {
		fam = vips[0].addr
	}
	var same, other []vip
	for _, v := range vips {
		if v.addr.Is4() == fam.Is4() {
			same = append(same, v)
		} else {
			other = append(other, v)
		}
	}
	for _, blk := range []struct {
		kw   string
		vips []vip
	}{{"virtual_ipaddress", same}, {"virtual_ipaddress_excluded", other}} {
		if len(blk.vips) == 0 {
			continue
		}
		if blk.kw == "virtual_ipaddress_excluded" {
			x.printf(1, "# Not of the advertisements' family: brought up and down with the instance, not advertised.")
		}
		x.printf(1, "%s {", blk.kw)
		for _, v := range blk.vips {
			x.printf(2, "%s", v)
		}
		x.printf(1, "}")
	}
	x.notify("notify_master", "active_cmd", g.ActiveCmd)
	x.notify("notify_backup", "inactive_cmd", g.InactiveCmd)
	x.printf(0, "}")
	x.printf(0, "")
}

// vrrpInterface is where the instance advertises: the device of the first
// VIP, else the sync daemon's, else eth0. The configuration does not say
// which interface holds the director's address.
func (x *writer) vrrpInterface(vips []vip) string {
	for _, v := range vips {
		if dev, _, _ := strings.Cut(v.device, ":"); dev != "" {
			return dev
		}
	}
	if x.cfg.Redundancy.SyncIface != "" {
		return x.cfg.Redundancy.SyncIface
	}
	return "eth0"
}

func (x *writer) notify(kw, field, cmd string) { x.program(1, "global", kw, field, cmd) }

// program writes a program keepalived runs on a transition, as root, at
// depth; where and field name it in an omission.
func (x *writer) program(depth int, where, kw, field, cmd string) {
	if cmd == "" {
		return
	}
	q, err := command(cmd, nil)
	if err != nil {
		x.omit(depth, where, field, err.Error())
		return
	}
	x.printf(depth, "%s %s root", kw, q)
}

// command writes a command line as keepalived's quoted script string, with
// subst applied to each argument. Only arguments keepalived reads back
// unchanged are written: no spaces, quotes, backslashes, comment or
// parameter characters.
func command(cmd string, subst *strings.Replacer) (string, error) {
	args, err := config.SplitArgs(cmd)
	if err != nil || len(args) == 0 {
		return "", fmt.Errorf("%q is not a command line", cmd)
	}
	for i, a := range args {
		if subst != nil {
			a = subst.Replace(a)
		}
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return r <= ' ' || r == 0x7f || strings.ContainsRune(`"'\#!${}`, r)
		}) {
			return "", fmt.Errorf("argument %q cannot be written in keepalived's script syntax as it is (a space, quote, backslash, #, !, $ or brace)", a)
		}
		args[i] = a
	}
	return `"` + strings.Join(args, " ") + `"`, nil
}

// seconds writes a duration as keepalived's timers read it.
func seconds(d time.Duration) string { return config.FormatSeconds(d) }

// lbKind is keepalived's name of a forwarding method.
func lbKind(f config.Forward) string {
	switch f {
	case config.NAT:
		return "NAT"
	case config.Tunnel:
		return "TUN"
	}
	return "DR"
}

// defaultForward is the forwarding method of the virtual server as a
// whole: the global network, as engine.Desired gives the sorry server.
func (x *writer) defaultForward() config.Forward {
	if n := x.cfg.Global.Network; n != "" {
		return n
	}
	return config.Direct
}

func (x *writer) virtual(vs *config.VirtualServer) {
	where := "virtual server " + vs.Name
	if !vs.Active {
		x.printf(0, "# %s is inactive: left out.", where)
		x.printf(0, "")
		return
	}
	if !usable(vs.Address) {
		x.printf(0, "# %s has no address yet: left out.", where)
		x.printf(0, "")
		return
	}
	if !hasReals(vs) {
		x.printf(0, "# %s", where)
		x.omit(0, where, "real servers", "none is active, and keepalived ignores a virtual server without real servers (its sorry server too): left out")
		x.printf(0, "")
		return
	}
	x.printf(0, "# %s", where)
	if vs.IsFWMark() {
		x.printf(0, "virtual_server fwmark %d {", vs.FWMark)
	} else {
		x.printf(0, "virtual_server %s %d {", vs.Address, vs.Port)
	}
	x.printf(1, "delay_loop %s", seconds(interval(vs)))
	x.printf(1, "lb_algo %s", vs.Scheduler)
	if vs.Scheduler == "sh" || vs.Scheduler == "mh" {
		if vs.SchedFallback {
			x.printf(1, "%s-fallback", vs.Scheduler)
		}
		if vs.SchedPort {
			x.printf(1, "%s-port", vs.Scheduler)
		}
	}
	if vs.OnePacket {
		x.printf(1, "ops")
	}
	fwd := x.defaultForward()
	x.printf(1, "lb_kind %s", lbKind(fwd))
	if vs.IsFWMark() {
		// keepalived ignores (and warns of) a protocol for a mark.
		if vs.Address.Is6() {
			x.printf(1, "ip_family inet6")
		}
	} else {
		x.printf(1, "protocol %s", strings.ToUpper(string(vs.Protocol)))
	}
	if vs.Persistence > 0 {
		x.printf(1, "persistence_timeout %d", vs.Persistence)
		if vs.PersistenceNetmask.IsSet() {
			x.printf(1, "persistence_granularity %s", vs.PersistenceNetmask.Format(vs.Address.Is6()))
		}
	}
	if usable(vs.SorryServer) {
		if vs.Port != 0 {
			x.printf(1, "sorry_server %s %d", vs.SorryServer, vs.Port)
		} else {
			x.printf(1, "sorry_server %s", vs.SorryServer)
		}
	}
	if vs.Quiesce {
		x.printf(1, "inhibit_on_failure")
	}
	if vs.Quorum != 0 {
		x.printf(1, "quorum %d", vs.Quorum)
		if total := totalWeight(vs); vs.Quorum > total {
			x.omit(1, where, "quorum", fmt.Sprintf("keepalived lowers a quorum above the weight of all the real servers to that weight, %d", total))
		}
	}
	if vs.Hysteresis != 0 {
		x.printf(1, "hysteresis %d", vs.Hysteresis)
	}
	x.program(1, where, "quorum_up", "quorum_up", vs.QuorumUp)
	x.program(1, where, "quorum_down", "quorum_down", vs.QuorumDown)
	if vs.Reentry > 0 {
		x.omit(1, where, "reentry", "keepalived puts a real server back at its first successful check")
	}
	if vs.LoadMonitor != "" && vs.LoadMonitor != "none" {
		x.omit(1, where, "load_monitor", "keepalived has no load monitoring")
	}
	x.checkNotes(vs, where)
	for i := range vs.Reals {
		x.real(vs, &vs.Reals[i], fwd)
	}
	x.printf(0, "}")
	x.printf(0, "")
}

// hasReals reports whether vs has a real server in the table.
func hasReals(vs *config.VirtualServer) bool {
	for i := range vs.Reals {
		if rs := &vs.Reals[i]; rs.Active && usable(rs.Address) {
			return true
		}
	}
	return false
}

// totalWeight is the weight of vs's real servers in the table.
func totalWeight(vs *config.VirtualServer) int64 {
	var n int64
	for i := range vs.Reals {
		if rs := &vs.Reals[i]; rs.Active && usable(rs.Address) {
			n += rs.Weight
		}
	}
	return n
}

// interval is the time between checks: the check interval, or piranha's
// timeout.
func interval(vs *config.VirtualServer) time.Duration {
	if vs.CheckInterval > 0 {
		return vs.CheckInterval
	}
	return vs.CheckTimeout
}

// checkKind resolves piranha's automatic check kind.
func checkKind(vs *config.VirtualServer) string {
	if vs.CheckKind != config.CheckPiranha {
		return vs.CheckKind
	}
	if vs.SendProgram != "" {
		return config.CheckProgram
	}
	return config.CheckSend
}

func (x *writer) real(vs *config.VirtualServer, rs *config.RealServer, vsFwd config.Forward) {
	where := "virtual server " + vs.Name + ", real server " + rs.Name
	if !rs.Active {
		x.printf(1, "# real server %s is inactive: left out.", rs.Name)
		return
	}
	if !usable(rs.Address) {
		x.printf(1, "# real server %s has no address yet: left out.", rs.Name)
		return
	}
	fwd := rs.EffectiveForward(&x.cfg.Global)
	checkPort := rs.EffectivePort(vs)
	port := checkPort // engine.Desired's
	if vs.IsFWMark() {
		port = rs.Port
	}
	// keepalived gives a real server of a mark no port, and a direct or
	// tunnelled one the service's (it resets others, and warns): only NAT
	// rewrites ports.
	kaPort := port
	switch {
	case vs.IsFWMark():
		kaPort = 0
	case fwd != config.NAT:
		kaPort = vs.Port
	}
	x.printf(1, "# real server %s", rs.Name)
	if kaPort != 0 {
		x.printf(1, "real_server %s %d {", rs.Address, kaPort)
	} else {
		x.printf(1, "real_server %s {", rs.Address)
	}
	if kaPort != port {
		why := fmt.Sprintf("keepalived gives a %s real server the virtual server's port %d, not %d", lbKind(fwd), vs.Port, port)
		if vs.IsFWMark() {
			why = fmt.Sprintf("keepalived gives a real server of a firewall-mark service no port, not %d", port)
		}
		x.omit(2, where, "port", why+"; the check still goes to "+strconv.Itoa(checkPort))
	}
	x.printf(2, "weight %d", rs.Weight)
	if fwd != vsFwd {
		x.printf(2, "lvs_method %s", lbKind(fwd))
	}
	if rs.UpperThreshold != 0 {
		x.printf(2, "uthreshold %d", rs.UpperThreshold)
	}
	if rs.LowerThreshold != 0 {
		x.printf(2, "lthreshold %d", rs.LowerThreshold)
	}
	x.program(2, where, "notify_up", "notify_up", rs.NotifyUp)
	x.program(2, where, "notify_down", "notify_down", rs.NotifyDown)
	connectPort := 0
	if checkPort != kaPort {
		connectPort = checkPort
	}
	x.checker(vs, rs, where, connectPort, checkPort)
	x.printf(1, "}")
}

// checker writes the real server's checker block from the virtual
// server's check settings.
func (x *writer) checker(vs *config.VirtualServer, rs *config.RealServer, where string, connectPort, checkPort int) {
	kind := checkKind(vs)
	retry := vs.CheckFailures - 1 // keepalived: down after retry+1 failures
	if retry < 0 {
		retry = 0
	}
	common := func() {
		if connectPort != 0 {
			x.printf(3, "connect_port %d", connectPort)
		}
		x.printf(3, "connect_timeout %s", seconds(vs.CheckTimeout))
		x.printf(3, "retry %d", retry)
		x.printf(3, "delay_before_retry %s", seconds(interval(vs)))
	}
	switch kind {
	case config.CheckTCP:
		x.printf(2, "TCP_CHECK {")
		common()
	case config.CheckSYN, config.CheckSend:
		x.printf(2, "TCP_CHECK {") // the nearest: see checkNotes
		common()
	case config.CheckHTTP, config.CheckHTTPS:
		x.httpChecker(vs, where, kind, common)
	case config.CheckSMTP:
		x.printf(2, "SMTP_CHECK {")
		common()
		if vs.SMTPHelo != "" {
			x.printf(3, "helo_name %s", vs.SMTPHelo) // config.CheckHelo: one word
		}
	case config.CheckDNS:
		x.printf(2, "DNS_CHECK {")
		common()
		if vs.DNSType != "" {
			x.printf(3, "type %s", vs.DNSType)
		}
		if vs.DNSName != "" {
			x.printf(3, "name %s", vs.DNSName)
		}
	case config.CheckPing:
		x.printf(2, "PING_CHECK {")
		x.printf(3, "connect_timeout %s", seconds(vs.CheckTimeout))
		x.printf(3, "retry %d", retry)
		x.printf(3, "delay_before_retry %s", seconds(interval(vs)))
	case config.CheckUDP:
		x.printf(2, "UDP_CHECK {")
		common()
		if vs.Send != "" {
			x.printf(3, "payload %s", hex.EncodeToString([]byte(check.Unescape(vs.Send))))
		}
		switch {
		case vs.Expect == "":
			x.printf(3, "require_reply")
		case vs.UseRegex:
			x.printf(3, "require_reply") // any reply: see checkNotes
		default:
			x.printf(3, "require_reply %s", hex.EncodeToString([]byte(check.Unescape(vs.Expect))))
		}
	case config.CheckProgram:
		subst := strings.NewReplacer("%h", rs.Address.String(), "%p", strconv.Itoa(checkPort))
		q, err := command(vs.SendProgram, subst)
		if err != nil {
			x.omit(2, where, "send_program", err.Error()+"; no checker written, so the real server is always up")
			return
		}
		x.printf(2, "MISC_CHECK {")
		x.printf(3, "misc_path %s", q)
		x.printf(3, "misc_timeout %d", ceilSeconds(vs.CheckTimeout))
		if vs.ProgramWeight {
			x.printf(3, "misc_dynamic")
		}
		x.printf(3, "user root")
		x.printf(3, "retry %d", retry)
		x.printf(3, "delay_before_retry %s", seconds(interval(vs)))
	default:
		x.omit(2, where, "check", fmt.Sprintf("%q is not a check kind keepalived has; no checker written", kind))
		return
	}
	x.printf(2, "}")
}

func (x *writer) httpChecker(vs *config.VirtualServer, where, kind string, common func()) {
	name := "HTTP_GET"
	if kind == config.CheckHTTPS {
		name = "SSL_GET"
	}
	x.printf(2, "%s {", name)
	x.printf(3, "url {")
	path := vs.HTTPPath
	if path == "" {
		path = "/"
	}
	if safeWord(path) {
		x.printf(4, "path %s", path)
	} else {
		x.printf(4, "path /")
		x.omit(4, where, "http_path", fmt.Sprintf("%q has a character keepalived's parser takes otherwise; / is checked", path))
	}
	ranges, err := config.ParseStatusRanges(vs.HTTPStatus)
	if err == nil {
		var codes []string
		for _, r := range ranges {
			if r.Lo == r.Hi {
				codes = append(codes, strconv.Itoa(r.Lo))
			} else {
				codes = append(codes, fmt.Sprintf("%d-%d", r.Lo, r.Hi))
			}
		}
		x.printf(4, "status_code %s", strings.Join(codes, " "))
	}
	switch {
	case safeWord(vs.HTTPHost):
		x.printf(4, "virtualhost %s", vs.HTTPHost)
	case vs.HTTPHost != "":
		x.omit(4, where, "http_host", fmt.Sprintf("%q has a character keepalived's parser takes otherwise", vs.HTTPHost))
	}
	if vs.HTTPBody != "" {
		if strings.ContainsAny(vs.HTTPBody, "\"\n\r") {
			x.omit(4, where, "http_body", "the expression has a quote or a line break")
		} else {
			// POSIX extended expressions mean the same in PCRE2 for all
			// but bracket classes such as [[:alpha:]] edge cases.
			x.printf(4, "regex \"%s\"", vs.HTTPBody)
		}
	}
	if vs.HTTPDigest != "" {
		x.printf(4, "digest %s", vs.HTTPDigest) // config.CheckDigest: hex
	}
	x.printf(3, "}")
	if kind == config.CheckHTTPS && safeWord(vs.HTTPHost) {
		x.printf(3, "enable_sni")
	}
	common()
}

// checkNotes writes, once for the virtual server, what its check asks
// that keepalived's checker of each real server cannot do.
func (x *writer) checkNotes(vs *config.VirtualServer, where string) {
	switch checkKind(vs) {
	case config.CheckSYN:
		x.omit(1, where, "check", "syn: keepalived has no half-open check; TCP_CHECK connects fully")
	case config.CheckSend:
		x.omit(1, where, "send/expect", "keepalived has no generic send/expect check; the nearest, TCP_CHECK, only connects")
	case config.CheckUDP:
		if vs.Expect != "" && vs.UseRegex {
			x.omit(1, where, "expect", "a regular expression; keepalived's UDP_CHECK compares bytes, so any reply is taken")
		}
	case config.CheckProgram:
		if vs.Expect != "" {
			x.omit(1, where, "expect", "MISC_CHECK looks only at the exit status")
		}
	case config.CheckHTTPS:
		if vs.TLSVerify {
			x.omit(1, where, "tls_verify", "keepalived's SSL_GET does not verify the certificate")
		}
	}
}

// safeWord reports whether s is read back by keepalived as one word.
func safeWord(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`"#!${}`, r)
	})
}

// ceilSeconds is d in whole seconds, rounded up, at least 1.
func ceilSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
