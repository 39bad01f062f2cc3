package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// mapper turns the statements of a keepalived.conf into the model.
type mapper struct {
	rep    *report
	c      *config.Config
	places []places
	// gkeys are where global and redundancy values came from.
	gkeys  map[string]Pos
	groups map[string]*node
	vips   []*vip
	names  map[string]bool
	vrrp   *node // the vrrp_instance the redundancy settings come from
	file   Pos
}

// vip is an address of a virtual_ipaddress block.
type vip struct {
	pos    Pos
	addr   netip.Addr
	bits   int // -1: no prefix given
	device string
	used   bool
}

func newMapper(rep *report) *mapper {
	c := config.Default()
	// keepalived has no heartbeat of its own between directors: what
	// VRRP gives is read from vrrp_instance; without one, none.
	c.Redundancy.Heartbeat = false
	return &mapper{rep: rep, c: c, gkeys: map[string]Pos{}, groups: map[string]*node{}, names: map[string]bool{}}
}

// top reads the top-level statements: groups and VRRP first, as keepalived
// links them at the end whatever their order, then the virtual servers.
func (m *mapper) top(nodes []*node) {
	if len(nodes) > 0 {
		m.file = Pos{File: nodes[0].pos.File, Line: 1}
	}
	for _, n := range nodes {
		switch n.key {
		case "virtual_server_group":
			if len(n.args) != 1 {
				m.rep.errorf(n.pos, n.key, "takes a name")
				continue
			}
			if _, dup := m.groups[n.args[0]]; dup {
				m.rep.errorf(n.pos, n.key, "%s is defined twice", n.args[0])
			}
			m.groups[n.args[0]] = n
		case "vrrp_instance":
			m.vrrpInstance(n)
		case "global_defs":
			m.globalDefs(n)
		case "static_ipaddress":
			// Addresses keepalived keeps up whatever the VRRP state:
			// a director alone's VIPs (lvsconsole export writes them
			// so).
			for _, a := range n.kids {
				if v := m.vip(a); v != nil {
					m.vips = append(m.vips, v)
				}
			}
		}
	}
	for _, n := range nodes {
		switch n.key {
		case "virtual_server_group", "vrrp_instance", "global_defs", "static_ipaddress":
		case "virtual_server":
			m.virtualServer(n)
		case "vrrp_sync_group", "vrrp_script", "static_routes", "static_rules", "SSL",
			"net_namespace", "bfd_instance", "vrrp_track_file", "track_file", "track_process", "linkbeat_use_polling":
			m.unsupported(n, "")
		default:
			m.unknown(n, "the top level")
		}
	}
	m.finish()
}

func (m *mapper) arg(k *node) (string, bool) {
	if len(k.args) == 0 {
		m.rep.errorf(k.pos, k.key, "needs a value")
		return "", false
	}
	return k.args[0], true
}

// unsupported reports a keyword keepalived knows but the console has no
// place for; what names it when the keyword alone would not say.
func (m *mapper) unsupported(k *node, what string) {
	if what == "" {
		what = k.key
	}
	if k.block {
		m.rep.warnf(k.pos, k.key, "not supported by the console (%s): the block is left out", what)
		return
	}
	m.rep.warnf(k.pos, k.key, "not supported by the console (%s): left out", what)
}

// unknown reports a keyword keepalived 2.2 does not know where it is.
func (m *mapper) unknown(k *node, where string) {
	m.rep.warnf(k.pos, k.key, "is not a keepalived keyword in %s (keepalived ignores it too): left out", where)
}

func (m *mapper) globalDefs(n *node) {
	for _, k := range n.kids {
		switch k.key {
		case "lvs_timeouts":
			m.lvsTimeouts(k)
		case "lvs_sync_daemon":
			m.syncDaemon(k)
		default:
			m.unsupported(k, "")
		}
	}
}

// lvsTimeouts reads "lvs_timeouts tcp N tcpfin N udp N".
func (m *mapper) lvsTimeouts(k *node) {
	g := &m.c.Global
	for i := 0; i < len(k.args); i += 2 {
		if i+1 >= len(k.args) {
			m.rep.errorf(k.pos, k.key, "%s needs a number of seconds", k.args[i])
			return
		}
		n, err := strconv.ParseUint(k.args[i+1], 10, 32)
		if err != nil {
			m.rep.errorf(k.pos, k.key, "%q is not a number of seconds", k.args[i+1])
			return
		}
		switch k.args[i] {
		case "tcp":
			g.TCPTimeout = int64(n)
			m.gkeys["tcp_timeout"] = k.pos
		case "tcpfin":
			g.TCPFinTimeout = int64(n)
			m.gkeys["tcpfin_timeout"] = k.pos
		case "udp":
			g.UDPTimeout = int64(n)
			m.gkeys["udp_timeout"] = k.pos
		default:
			m.rep.errorf(k.pos, k.key, "%q is not tcp, tcpfin or udp", k.args[i])
			return
		}
	}
}

// syncDaemon reads "lvs_sync_daemon IFACE [INSTANCE] [id N] [maxlen N]
// [port N] [ttl N] [group ADDR]".
func (m *mapper) syncDaemon(k *node) {
	r := &m.c.Redundancy
	if len(k.args) == 0 {
		m.rep.errorf(k.pos, k.key, "needs an interface")
		return
	}
	r.SyncDaemon, r.SyncIface = true, k.args[0]
	m.gkeys["syncd_iface"] = k.pos
	rest := k.args[1:]
	if len(rest) > 0 && !isSyncOption(rest[0]) {
		rest = rest[1:] // the VRRP instance it follows
	}
	for i := 0; i < len(rest); i += 2 {
		if i+1 >= len(rest) {
			m.rep.errorf(k.pos, k.key, "%s needs a value", rest[i])
			return
		}
		if rest[i] == "id" {
			n, err := strconv.ParseUint(rest[i+1], 10, 8)
			if err != nil {
				m.rep.errorf(k.pos, k.key, "id %q is not a sync id: use 0-255", rest[i+1])
				return
			}
			r.SyncID = int(n)
			m.gkeys["syncd_id"] = k.pos
			continue
		}
		m.rep.warnf(k.pos, k.key, "the sync daemon's %s is not supported: left out", rest[i])
	}
}

func isSyncOption(s string) bool {
	switch s {
	case "id", "maxlen", "port", "ttl", "group":
		return true
	}
	return false
}

// vrrpInstance reads the VIPs of an instance and, from the first instance,
// the pair of directors and the heartbeat.
func (m *mapper) vrrpInstance(n *node) {
	first := m.vrrp == nil
	if first {
		m.vrrp = n
	}
	var (
		iface        string
		state        string
		statePos     Pos
		priority     = 100
		advert       = time.Second
		src          netip.Addr
		peers        []netip.Addr
		noPreempt    bool
		preemptDelay time.Duration
		vips         []*vip
	)
	r := &m.c.Redundancy
	for _, k := range n.kids {
		switch k.key {
		case "interface":
			iface, _ = m.arg(k)
		case "state":
			if v, ok := m.arg(k); ok {
				if v != "MASTER" && v != "BACKUP" {
					m.rep.errorf(k.pos, k.key, "%q is not a state: use MASTER or BACKUP", v)
				}
				state, statePos = v, k.pos
			}
		case "priority":
			if v, ok := m.arg(k); ok {
				p, err := strconv.Atoi(v)
				if err != nil || p < 1 || p > 255 {
					m.rep.errorf(k.pos, k.key, "%q is not a priority: use 1-255", v)
					continue
				}
				priority = p
			}
		case "advert_int":
			if v, ok := m.arg(k); ok {
				d, err := config.ParseSeconds(v)
				if err != nil || d <= 0 || d > 255*time.Second {
					m.rep.errorf(k.pos, k.key, "%q is not an interval: use 0.01-255 seconds", v)
					continue
				}
				advert = d
				if first {
					m.gkeys["keepalive"], m.gkeys["deadtime"] = k.pos, k.pos
				}
			}
		case "unicast_src_ip":
			if v, ok := m.arg(k); ok {
				a, err := parseAddr(v)
				if err != nil {
					m.rep.errorf(k.pos, k.key, "%v", err)
					continue
				}
				src = a
				if first {
					m.gkeys["primary"], m.gkeys["backup"] = k.pos, k.pos
				}
			}
		case "unicast_peer":
			for _, p := range k.kids {
				a, err := parseAddr(p.key)
				if err != nil {
					m.rep.errorf(p.pos, k.key, "%v", err)
					continue
				}
				if len(peers) > 0 {
					m.rep.warnf(p.pos, k.key, "the console pairs two directors: peer %s is left out", a)
					continue
				}
				if len(p.args) > 0 {
					m.rep.warnf(p.pos, k.key, "peer options %q are not supported: left out", strings.Join(p.args, " "))
				}
				peers = append(peers, a)
			}
		case "nopreempt":
			noPreempt = true
		case "preempt_delay":
			if v, ok := m.arg(k); ok {
				d, err := config.ParseSeconds(v)
				if err != nil || d > time.Hour {
					m.rep.errorf(k.pos, k.key, "%q is not a delay: use 0-3600 seconds", v)
					continue
				}
				preemptDelay = d
				if first {
					m.gkeys["preempt_delay"] = k.pos
				}
			}
		case "virtual_ipaddress", "virtual_ipaddress_excluded":
			for _, a := range k.kids {
				if v := m.vip(a); v != nil {
					vips = append(vips, v)
				}
			}
		case "lvs_sync_daemon_interface":
			if v, ok := m.arg(k); ok {
				r.SyncDaemon, r.SyncIface = true, v
				m.gkeys["syncd_iface"] = k.pos
			}
		case "virtual_router_id", "authentication", "track_interface", "track_script", "track_file", "track_process",
			"track_bfd", "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify_master_rx_lower_pri",
			"smtp_alert", "garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat",
			"garp_lower_prio_delay", "garp_lower_prio_repeat", "use_vmac", "vmac_xmit_base", "native_ipv6", "dont_track_primary",
			"version", "accept", "no_accept", "mcast_src_ip", "unicast_ttl", "debug", "strict_mode", "virtual_routes",
			"virtual_rules", "skip_check_adv_addr", "check_unicast_src", "unicast_fault_no_peer", "higher_prio_send_advert",
			"kernel_rx_buf_size", "lower_prio_no_advert", "promote_secondaries", "linkbeat_use_polling", "old_unicast_checksum",
			"vrrp_garp_lower_prio_repeat", "unicast_src_ip_port":
			m.unsupported(k, "")
		default:
			m.unknown(k, "vrrp_instance")
		}
	}
	for _, v := range vips {
		if v.device == "" {
			v.device = iface
		}
	}
	m.vips = append(m.vips, vips...)
	if !first {
		m.rep.warnf(n.pos, n.key, "the console has one pair of directors: only the VIPs of this instance are taken, its other settings are the first instance's")
		return
	}
	primary := state == "MASTER" || priority == 255
	if statePos == (Pos{}) {
		statePos = n.pos
	}
	r.Heartbeat = true
	r.Keepalive = advert
	// keepalived's master-down interval: 3 x advert_int plus the skew of
	// this director's priority.
	skew := time.Duration(256-priority) * advert / 256
	r.Deadtime = (3*advert + skew).Round(time.Millisecond)
	r.Preempt, r.PreemptDelay = !noPreempt, preemptDelay
	who := "backup"
	if primary {
		who = "primary"
	}
	m.rep.warnf(statePos, "state", "this is the %s director's file (state %s, priority %d): heartbeat every %ss, peer dead after %ss (keepalived's master-down interval)",
		who, cmpOr(state, "BACKUP"), priority, config.FormatSeconds(r.Keepalive), config.FormatSeconds(r.Deadtime))
	switch {
	case src.IsValid() && len(peers) > 0:
		r.BackupActive = true
		if primary {
			m.c.Global.Primary, r.Backup = src, peers[0]
		} else {
			m.c.Global.Primary, r.Backup = peers[0], src
		}
	default:
		m.rep.warnf(n.pos, n.key, "without unicast_src_ip and unicast_peer the other director's address is not in the file: set the backup director on the REDUNDANCY tab")
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// vip reads a line of virtual_ipaddress: ADDR[/PREFIX] [dev X] [label Y]
// [other options].
func (m *mapper) vip(n *node) *vip {
	addr, prefix, hasPrefix := strings.Cut(n.key, "/")
	a, err := parseAddr(addr)
	if err != nil {
		m.rep.errorf(n.pos, "virtual_ipaddress", "%v", err)
		return nil
	}
	v := &vip{pos: n.pos, addr: a, bits: -1}
	if hasPrefix {
		b, err := strconv.Atoi(prefix)
		if err != nil || b < 1 || b > a.BitLen() {
			m.rep.errorf(n.pos, "virtual_ipaddress", "/%s is not a prefix length of 1-%d", prefix, a.BitLen())
			return nil
		}
		v.bits = b
	}
	var dev, label string
	for i := 0; i < len(n.args); i++ {
		opt := n.args[i]
		takesValue := opt != "no_track" && opt != "home" && opt != "-nodad" && opt != "nodad" && opt != "noprefixroute" && opt != "autojoin"
		if takesValue && i+1 >= len(n.args) {
			m.rep.errorf(n.pos, "virtual_ipaddress", "%s needs a value", opt)
			return nil
		}
		switch opt {
		case "dev":
			dev = n.args[i+1]
		case "label":
			label = n.args[i+1]
		default:
			m.rep.warnf(n.pos, "virtual_ipaddress", "option %s is not supported: left out", opt)
		}
		if takesValue {
			i++
		}
	}
	v.device = cmpOr(label, dev)
	return v
}

// addModel adds a virtual server to the model with a name of its own.
func (m *mapper) addModel(vs config.VirtualServer, pl places, kv *kvirtual) {
	ports := make([]int, len(vs.Reals))
	for i, rs := range vs.Reals {
		ports[i] = rs.EffectivePort(&vs)
	}
	vs.Name = m.unique(virtualName(&vs))
	names := map[string]bool{}
	for i := range vs.Reals {
		rs := &vs.Reals[i]
		base := "rs_" + nameAddr(rs.Address)
		if ports[i] != 0 {
			base += "_" + strconv.Itoa(ports[i])
		}
		name := base
		for n := 2; names[name]; n++ {
			name = base + "_" + strconv.Itoa(n)
		}
		names[name] = true
		rs.Name = name
	}
	if vs.IsFWMark() && kv.family == "inet6" {
		vs.Address = netip.IPv6Unspecified() // chosen from the VIPs later
	}
	m.c.Virtuals = append(m.c.Virtuals, vs)
	m.places = append(m.places, pl)
}

// virtualName is a stable name for vs: vs_ADDR_PORT (with the protocol
// when not TCP), or vs_fwm_MARK.
func virtualName(vs *config.VirtualServer) string {
	if vs.IsFWMark() {
		return "vs_fwm_" + strconv.FormatInt(vs.FWMark, 10)
	}
	s := "vs_" + nameAddr(vs.Address) + "_" + strconv.Itoa(vs.Port)
	if vs.Protocol != config.TCP {
		s += "_" + string(vs.Protocol)
	}
	return s
}

// nameAddr writes an address in the letters names allow.
func nameAddr(a netip.Addr) string { return strings.ReplaceAll(a.String(), ":", "-") }

func (m *mapper) unique(base string) string {
	name := base
	for n := 2; m.names[name]; n++ {
		name = base + "_" + strconv.Itoa(n)
	}
	m.names[name] = true
	return name
}

// finish decides what depends on everything read: the global forwarding
// method, each VIP's device, and the address of firewall-mark services.
func (m *mapper) finish() {
	count := map[config.Forward]int{}
	for i := range m.c.Virtuals {
		for _, rs := range m.c.Virtuals[i].Reals {
			count[rs.Forward]++
		}
	}
	network := config.NAT // keepalived's default
	for _, f := range config.Forwards {
		if count[f] > count[network] {
			network = f
		}
	}
	m.c.Global.Network = network
	for i := range m.c.Virtuals {
		vs := &m.c.Virtuals[i]
		for j := range vs.Reals {
			if vs.Reals[j].Forward == network {
				vs.Reals[j].Forward = ""
			}
		}
		if vs.IsFWMark() {
			m.fwmarkAddress(vs, m.places[i].head)
		}
		for _, v := range m.vips {
			if v.addr == vs.Address {
				v.used = true
				vs.Device = v.device
				if v.bits >= 0 {
					vs.Netmask = config.MaskBits(v.bits)
				}
				break
			}
		}
		if usable(vs.SorryServer) && len(vs.Reals) > 0 {
			if f := vs.Reals[0].EffectiveForward(&m.c.Global); f != network {
				m.rep.warnf(m.places[i].head, "sorry_server", "the console forwards to a sorry server with the global method (%s), not %s", network, f)
			}
		}
	}
	for _, v := range m.vips {
		if !v.used {
			m.rep.warnf(v.pos, "virtual_ipaddress", "no virtual server has the address %s: the console brings a VIP up with its virtual servers, so this one is left out", v.addr)
		}
	}
}

// fwmarkAddress gives a firewall-mark service, which has no address in
// keepalived, the one the model needs: the VIP of its family if there is
// exactly one; else the service is left inactive for the admin to finish.
func (m *mapper) fwmarkAddress(vs *config.VirtualServer, head Pos) {
	v6 := vs.Address.Is6()
	if !vs.Address.IsValid() && len(vs.Reals) > 0 {
		v6 = vs.Reals[0].Address.Is6()
	}
	var found []netip.Addr
	for _, v := range m.vips {
		if v.addr.Is6() == v6 && !containsAddr(found, v.addr) {
			found = append(found, v.addr)
		}
	}
	if len(found) == 1 {
		vs.Address = found[0]
		m.rep.warnf(head, "virtual_server", "a firewall-mark service has no address in keepalived; the console brings its VIP up with it: %s, the only VIP of its family, is taken", found[0])
		return
	}
	vs.Address, vs.Active = netip.Addr{}, false
	m.rep.warnf(head, "virtual_server", "a firewall-mark service has no address in keepalived, and the VIPs do not say which is its (%d of its family): imported inactive, give it its VIP and activate it", len(found))
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

func usable(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

// validate runs the model's rules, reporting each refusal at the line of
// the keyword that set the value (or the block's first line).
func (m *mapper) validate() {
	err := m.c.Validate()
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		if err != nil {
			m.rep.errorf(m.file, "", "%v", err)
		}
		return
	}
	for _, fe := range ve.Fields {
		pos := m.file
		switch fe.Section {
		case "global", "redundancy":
			if p, ok := m.gkeys[fe.Field]; ok {
				pos = p
			} else if m.vrrp != nil && fe.Section == "redundancy" {
				pos = m.vrrp.pos
			}
		case "virtual", "server":
			pl := m.places[fe.Virtual]
			pos = pl.head
			if p, ok := pl.keys[fe.Field]; ok && fe.Section == "virtual" {
				pos = p
			}
			if fe.Section == "server" && fe.Real < len(pl.realHead) {
				pos = pl.realHead[fe.Real]
				if p, ok := pl.reals[fe.Real][fe.Field]; ok {
					pos = p
				}
			}
		}
		m.rep.errorf(pos, fe.Field, "%s", modelMessage(fe))
	}
}

// modelMessage is a refusal of the model in the file's terms: the model's
// names of the servers are the import's own.
func modelMessage(fe *config.FieldError) string {
	return fmt.Sprintf("%s (the console's %s)", fe.Msg, fe.Field)
}
