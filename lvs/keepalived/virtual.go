package keepalived

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// keepalived's defaults (check_data.c alloc_vs, check_api.c).
const (
	defaultConnectTimeout = 5 * time.Second
	defaultDelayLoop      = 60 * time.Second
	defaultRetry          = 1
	defaultPersistence    = 360 // IPVS_SVC_PERSISTENT_TIMEOUT, for a persistence_timeout without value
	maxPersistence        = 86400 * 31
	// alwaysUp is the check of a real server keepalived does not check:
	// a program that succeeds.
	alwaysUp = "/bin/true"
)

// places remembers where a virtual server's values came from, so that the
// model's refusals are reported at those lines.
type places struct {
	head     Pos
	keys     map[string]Pos
	realHead []Pos
	reals    []map[string]Pos
}

// spec is how one real server is checked, in the model's terms; the model
// checks all the real servers of a virtual server alike.
type spec struct {
	kind, path, host, status, body, program, expect string
	digest, helo, dnsType, dnsName                  string
	weight                                          bool // misc_dynamic
	timeout, interval                               time.Duration
	failures                                        int
	port                                            int // connect_port; 0: the real server's
}

// timing is what a virtual server, a real server or a checker says of the
// checks; unset values are inherited (check_data.c).
type timing struct {
	timeout, interval, retryDelay     time.Duration
	retry                             int
	hasTimeout, hasInterval, hasRetry bool
	host                              string
}

func (t timing) over(base timing) timing {
	if !t.hasTimeout {
		t.timeout, t.hasTimeout = base.timeout, base.hasTimeout
	}
	if !t.hasInterval {
		t.interval, t.hasInterval = base.interval, base.hasInterval
	}
	if !t.hasRetry {
		t.retry, t.hasRetry = base.retry, base.hasRetry
	}
	if t.host == "" {
		t.host = base.host
	}
	return t
}

// kvirtual is a virtual_server block read, before it becomes one model
// virtual server (or one per member of its group).
type kvirtual struct {
	pos      Pos
	vs       config.VirtualServer
	pl       places
	fwd      config.Forward
	fwdPos   Pos
	family   string // ip_family
	timing   timing
	quiesce  bool
	sorry    netip.AddrPort
	sorryPos Pos
	weight   int64
	reals    []*kreal
	group    string
}

type kreal struct {
	pos     Pos
	rs      config.RealServer
	keys    map[string]Pos
	fwd     config.Forward
	spec    spec
	specPos Pos
}

func (m *mapper) virtualServer(n *node) {
	kv := &kvirtual{pos: n.pos, weight: 1}
	kv.vs = config.NewVirtual("")
	vs := &kv.vs
	vs.Active, vs.Device, vs.Scheduler, vs.Protocol = true, "", "wlc", config.TCP
	vs.Send, vs.Expect, vs.LoadMonitor = "", "", "none"
	vs.Reentry = 0 // keepalived takes a server back at its first good check
	kv.pl = places{head: n.pos, keys: map[string]Pos{}}
	kv.timing = timing{timeout: defaultConnectTimeout, interval: defaultDelayLoop, retry: defaultRetry}

	switch {
	case len(n.args) == 2 && n.args[0] == "group":
		kv.group = n.args[1]
	case len(n.args) == 2 && n.args[0] == "fwmark":
		mark, err := strconv.ParseUint(n.args[1], 10, 32)
		if err != nil || mark == 0 {
			m.rep.errorf(n.pos, "virtual_server", "fwmark %q is not a firewall mark: use 1-%d", n.args[1], uint32(config.MaxUint32))
			return
		}
		vs.FWMark, vs.Port = int64(mark), 0
	case len(n.args) == 1 || len(n.args) == 2:
		a, err := parseAddr(n.args[0])
		if err != nil {
			m.rep.errorf(n.pos, "virtual_server", "%v", err)
			return
		}
		vs.Address = a
		port := 0
		if len(n.args) == 2 {
			if port, err = parsePort(n.args[1], 0); err != nil {
				m.rep.errorf(n.pos, "virtual_server", "%v", err)
				return
			}
		}
		if port == 0 {
			m.rep.warnf(n.pos, "virtual_server", "a service of every port (port 0) is not supported by the console: virtual server left out")
			return
		}
		vs.Port = port
	default:
		m.rep.errorf(n.pos, "virtual_server", "takes an address and a port, fwmark N or group NAME, not %q", strings.Join(n.args, " "))
		return
	}
	if !n.block {
		m.rep.errorf(n.pos, "virtual_server", "has no { block }")
		return
	}
	for _, k := range n.kids {
		m.virtualKey(kv, k)
	}
	m.finishVirtual(kv)
}

func (m *mapper) virtualKey(kv *kvirtual, k *node) {
	vs := &kv.vs
	set := func(field string) { kv.pl.keys[field] = k.pos }
	switch k.key {
	case "ip_family":
		if v, ok := m.arg(k); ok {
			if v != "inet" && v != "inet6" {
				m.rep.errorf(k.pos, k.key, "%q is not an address family: use inet or inet6", v)
			}
			kv.family = v
		}
	case "lb_algo", "lvs_sched":
		if v, ok := m.arg(k); ok {
			if !slices.Contains(config.Schedulers, v) {
				m.rep.errorf(k.pos, k.key, "%q is not an IPVS scheduler: use one of %s", v, strings.Join(config.Schedulers, " "))
			}
			vs.Scheduler = v
			set("scheduler")
		}
	case "ops":
		vs.OnePacket = true
		set("ops")
	case "sh-port", "sh-fallback", "mh-port", "mh-fallback":
		// As keepalived: the flag counts only after lb_algo names its
		// scheduler.
		if !strings.HasPrefix(k.key, vs.Scheduler+"-") {
			m.rep.warnf(k.pos, k.key, "applies to the %s scheduler only (set before it with lb_algo), as keepalived: ignored", k.key[:2])
			return
		}
		if strings.HasSuffix(k.key, "port") {
			vs.SchedPort = true
		} else {
			vs.SchedFallback = true
		}
		set("sched_flags")
	case "flag-1":
		vs.SchedFallback = true
		set("sched_flags")
	case "flag-2":
		vs.SchedPort = true
		set("sched_flags")
	case "flag-3", "hashed":
		m.unsupported(k, "this scheduler flag")
	case "lb_kind", "lvs_method":
		if f, ok := m.forward(k); ok {
			kv.fwd, kv.fwdPos = f, k.pos
		}
	case "persistence_timeout":
		vs.Persistence = defaultPersistence
		if len(k.args) > 0 {
			n, err := strconv.ParseUint(k.args[0], 10, 32)
			if err != nil || n < 1 || n > maxPersistence {
				m.rep.errorf(k.pos, k.key, "%q is not a timeout: use 1-%d seconds", k.args[0], maxPersistence)
				return
			}
			vs.Persistence = int64(n)
		}
		set("persistent")
	case "persistence_granularity":
		if v, ok := m.arg(k); ok {
			mask, err := config.ParseNetmask(v)
			if err != nil {
				m.rep.errorf(k.pos, k.key, "%v", err)
				return
			}
			vs.PersistenceNetmask = mask
			if vs.Persistence == 0 {
				vs.Persistence = defaultPersistence
			}
			set("pmask")
		}
	case "protocol":
		if v, ok := m.arg(k); ok {
			p := config.Protocol(strings.ToLower(v))
			if !slices.Contains(config.Protocols, p) {
				m.rep.errorf(k.pos, k.key, "%q is not a protocol: use TCP, UDP or SCTP", v)
				return
			}
			if vs.IsFWMark() || kv.group != "" {
				m.rep.warnf(k.pos, k.key, "a firewall-mark service has no protocol: ignored, as keepalived")
			}
			vs.Protocol = p
			set("protocol")
		}
	case "inhibit_on_failure":
		kv.quiesce = true
		set("quiesce_server")
	case "sorry_server":
		if len(k.args) < 1 || len(k.args) > 2 {
			m.rep.errorf(k.pos, k.key, "takes an address and a port")
			return
		}
		a, err := parseAddr(k.args[0])
		if err != nil {
			m.rep.errorf(k.pos, k.key, "%v", err)
			return
		}
		port := 0
		if len(k.args) == 2 {
			if port, err = parsePort(k.args[1], 0); err != nil {
				m.rep.errorf(k.pos, k.key, "%v", err)
				return
			}
		}
		kv.sorry, kv.sorryPos = netip.AddrPortFrom(a, uint16(port)), k.pos
		set("sorry_server")
	case "weight":
		if v, ok := m.arg(k); ok {
			w, err := parseWeight(v)
			if err != nil {
				m.rep.errorf(k.pos, k.key, "%v", err)
				return
			}
			kv.weight = w
		}
	case "virtualhost":
		if v, ok := m.arg(k); ok {
			kv.timing.host = v
		}
	case "delay_loop", "connect_timeout", "retry", "delay_before_retry", "warmup":
		m.timingKey(&kv.timing, k)
		set(map[string]string{"delay_loop": "check_interval", "connect_timeout": "timeout", "retry": "check_failures"}[k.key])
	case "real_server":
		m.realServer(kv, k)
	case "quorum":
		// keepalived reads a bad quorum as 1, with an error; so do we.
		if v, ok := m.arg(k); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n < 1 {
				m.rep.errorf(k.pos, k.key, "%q is not a quorum: use 1-%d", v, uint32(config.MaxUint32))
				return
			}
			vs.Quorum = int64(n)
			set("quorum")
		}
	case "hysteresis":
		if v, ok := m.arg(k); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				m.rep.errorf(k.pos, k.key, "%q is not a hysteresis: use 0-%d", v, uint32(config.MaxUint32))
				return
			}
			vs.Hysteresis = int64(n)
			set("hysteresis")
		}
	case "quorum_up":
		if c, ok := m.command(k); ok {
			vs.QuorumUp = c
			set("quorum_up")
		}
	case "quorum_down":
		if c, ok := m.command(k); ok {
			vs.QuorumDown = c
			set("quorum_down")
		}
	case "ha_suspend", "smtp_alert", "alpha", "omega",
		"persistence_engine", "snmp_name", "sorry_server_inhibit", "sorry_server_lvs_method":
		m.unsupported(k, "")
	default:
		m.unknown(k, "virtual_server")
	}
}

// timingKey reads the check timing keywords common to virtual servers,
// real servers and checkers.
func (m *mapper) timingKey(t *timing, k *node) {
	v, ok := m.arg(k)
	if !ok {
		return
	}
	switch k.key {
	case "retry", "nb_get_retry":
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			m.rep.errorf(k.pos, k.key, "%q is not a number of retries", v)
			return
		}
		t.retry, t.hasRetry = int(min(n, 1000)), true
		return
	case "warmup":
		m.unsupported(k, "")
		return
	}
	d, err := config.ParseSeconds(v)
	if err != nil || d <= 0 {
		m.rep.errorf(k.pos, k.key, "%q is not a time: use seconds, e.g. 5 or 0.5", v)
		return
	}
	switch k.key {
	case "delay_loop":
		t.interval, t.hasInterval = d, true
	case "connect_timeout":
		t.timeout, t.hasTimeout = d, true
	case "delay_before_retry":
		t.retryDelay = d
		m.rep.warnf(k.pos, k.key, "not supported: the console checks again after the check interval (delay_loop), not after delay_before_retry")
	}
}

func (m *mapper) realServer(kv *kvirtual, n *node) {
	kr := &kreal{pos: n.pos, keys: map[string]Pos{}}
	kr.rs = config.NewReal("")
	kr.rs.Active, kr.rs.Weight = true, kv.weight
	if len(n.args) < 1 || len(n.args) > 2 {
		m.rep.errorf(n.pos, n.key, "takes an address and a port")
		return
	}
	a, err := parseAddr(n.args[0])
	if err != nil {
		m.rep.errorf(n.pos, n.key, "%v", err)
		return
	}
	kr.rs.Address = a
	if len(n.args) == 2 {
		if kr.rs.Port, err = parsePort(n.args[1], 0); err != nil {
			m.rep.errorf(n.pos, n.key, "%v", err)
			return
		}
	}
	rt := timing{}
	quiesce, qpos := kv.quiesce, Pos{}
	var checks []spec
	var checkPos []Pos
	var checkTimings []timing
	for _, k := range n.kids {
		switch k.key {
		case "weight":
			if v, ok := m.arg(k); ok {
				if kr.rs.Weight, err = parseWeight(v); err != nil {
					m.rep.errorf(k.pos, k.key, "%v", err)
				}
				kr.keys["weight"] = k.pos
			}
		case "lvs_method":
			if f, ok := m.forward(k); ok {
				kr.fwd = f
				kr.keys["fwd"] = k.pos
			}
		case "uthreshold", "lthreshold":
			if v, ok := m.arg(k); ok {
				t, err := strconv.ParseUint(v, 10, 32)
				if err != nil {
					m.rep.errorf(k.pos, k.key, "%q is not a number of connections", v)
					continue
				}
				if k.key == "uthreshold" {
					kr.rs.UpperThreshold = int64(t)
				} else {
					kr.rs.LowerThreshold = int64(t)
				}
				kr.keys[k.key] = k.pos
			}
		case "inhibit_on_failure":
			quiesce, qpos = true, k.pos
		case "delay_loop", "connect_timeout", "retry", "delay_before_retry", "warmup":
			m.timingKey(&rt, k)
		case "virtualhost":
			if v, ok := m.arg(k); ok {
				rt.host = v
			}
		case "notify_up", "notify_down":
			if c, ok := m.command(k); ok {
				if k.key == "notify_up" {
					kr.rs.NotifyUp = c
				} else {
					kr.rs.NotifyDown = c
				}
				kr.keys[k.key] = k.pos
			}
		case "alpha", "smtp_alert", "snmp_name":
			m.unsupported(k, "")
		case "TCP_CHECK", "HTTP_GET", "SSL_GET", "SMTP_CHECK", "MISC_CHECK", "UDP_CHECK", "DNS_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK":
			if s, t, ok := m.checker(k); ok {
				checks, checkPos, checkTimings = append(checks, s), append(checkPos, k.pos), append(checkTimings, t)
			}
		default:
			m.unknown(k, "real_server")
		}
	}
	if quiesce != kv.quiesce {
		m.rep.warnf(qpos, "inhibit_on_failure", "the console quiesces all the real servers of a virtual server or none: this one's inhibit_on_failure is left out")
	}
	rt = rt.over(kv.timing)
	switch {
	case len(checks) == 0:
		kr.spec = spec{kind: config.CheckProgram, program: alwaysUp}
		kr.specPos = n.pos
		m.rep.warnf(n.pos, n.key, "has no checker, so keepalived keeps it in: the console checks it with the program %s, which always succeeds", alwaysUp)
	default:
		for i := 1; i < len(checks); i++ {
			m.rep.warnf(checkPos[i], "", "the console runs one check per real server: this second checker is left out")
		}
		kr.spec, kr.specPos = checks[0], checkPos[0]
		t := checkTimings[0].over(rt)
		if kr.spec.kind == config.CheckHTTP || kr.spec.kind == config.CheckHTTPS {
			if kr.spec.host == "" {
				kr.spec.host = t.host
			}
		}
		kr.spec.timeout, kr.spec.interval, kr.spec.failures = t.timeout, t.interval, t.retry+1
	}
	if len(checks) == 0 {
		kr.spec.timeout, kr.spec.interval, kr.spec.failures = rt.timeout, rt.interval, rt.retry+1
	}
	kv.reals = append(kv.reals, kr)
}

// checker reads a checker block into the check it maps to.
func (m *mapper) checker(n *node) (spec, timing, bool) {
	var s spec
	var t timing
	switch n.key {
	case "TCP_CHECK":
		s.kind = config.CheckTCP
	case "HTTP_GET":
		s.kind = config.CheckHTTP
	case "SSL_GET":
		s.kind = config.CheckHTTPS
	case "SMTP_CHECK":
		s.kind = config.CheckSMTP
	case "DNS_CHECK":
		s.kind = config.CheckDNS
	case "PING_CHECK":
		s.kind = config.CheckPing
	case "MISC_CHECK":
		s.kind = config.CheckProgram
	default:
		m.unsupported(n, "this checker")
		return s, t, false
	}
	urls := 0
	for _, k := range n.kids {
		switch k.key {
		case "connect_port":
			if v, ok := m.arg(k); ok {
				p, err := parsePort(v, 1)
				if err != nil {
					m.rep.errorf(k.pos, k.key, "%v", err)
					continue
				}
				s.port = p
			}
		case "connect_timeout", "delay_loop", "retry", "nb_get_retry", "delay_before_retry", "warmup":
			if k.key == "connect_timeout" && n.key == "MISC_CHECK" {
				m.unknown(k, n.key)
				continue
			}
			m.timingKey(&t, k)
		case "connect_ip", "bindto", "bind_port", "bind_if", "fwmark", "alpha", "log_all_failures",
			"http_protocol", "enable_sni", "fast_recovery", "tls_compliant", "host", "user":
			what := ""
			if k.key == "connect_ip" {
				what = "checking another address than the real server's"
			}
			m.unsupported(k, what)
		case "virtualhost":
			if v, ok := m.arg(k); ok && (s.kind == config.CheckHTTP || s.kind == config.CheckHTTPS) {
				t.host = v
			}
		case "url":
			if s.kind != config.CheckHTTP && s.kind != config.CheckHTTPS {
				m.unknown(k, n.key)
				continue
			}
			urls++
			if urls > 1 {
				m.rep.warnf(k.pos, k.key, "the console gets one path per check: this url is left out")
				continue
			}
			m.url(&s, k)
		case "helo_name":
			if v, ok := m.arg(k); ok && s.kind == config.CheckSMTP {
				if err := config.CheckHelo(v); err != nil {
					m.rep.errorf(k.pos, k.key, "%v", err)
					continue
				}
				s.helo = v
			} else if ok {
				m.unknown(k, n.key)
			}
		case "type", "name":
			if s.kind != config.CheckDNS {
				m.unknown(k, n.key)
				continue
			}
			v, ok := m.arg(k)
			if !ok {
				continue
			}
			if k.key == "name" {
				if err := config.CheckDNSName(v); err != nil {
					m.rep.errorf(k.pos, k.key, "%v", err)
					continue
				}
				s.dnsName = v
				continue
			}
			if t := strings.ToUpper(v); slices.Contains(config.DNSTypes, t) {
				s.dnsType = t
			} else {
				m.rep.errorf(k.pos, k.key, "%q is not a query type: use %s", v, strings.Join(config.DNSTypes, ", "))
			}
		case "misc_dynamic":
			if s.kind != config.CheckProgram {
				m.unknown(k, n.key)
				continue
			}
			s.weight = true
		case "misc_path":
			if s.kind == config.CheckProgram && len(k.args) > 0 {
				// A quoted string is the command line; words are its words.
				s.program = k.args[0]
				if len(k.args) > 1 {
					s.program = joinArgs(k.args)
				}
				if strings.Contains(s.program, "%") {
					m.rep.warnf(k.pos, k.key, "the console replaces %%h and %%p in a check program by the real server's address and port")
				}
			}
		case "misc_timeout":
			if v, ok := m.arg(k); ok && s.kind == config.CheckProgram {
				d, err := config.ParseSeconds(v)
				if err != nil || d <= 0 {
					m.rep.errorf(k.pos, k.key, "%q is not a time: use seconds", v)
					continue
				}
				t.timeout, t.hasTimeout = d, true
			}
		default:
			m.unknown(k, n.key)
		}
	}
	if (s.kind == config.CheckHTTP || s.kind == config.CheckHTTPS) && s.status == "" {
		s.status = "200-299" // keepalived's default, HTTP_DEFAULT_STATUS_CODE_MIN-MAX
	}
	if s.kind == config.CheckProgram && s.program == "" {
		m.rep.errorf(n.pos, n.key, "has no misc_path: the program to run")
		return s, t, false
	}
	return s, t, true
}

func (m *mapper) url(s *spec, n *node) {
	for _, k := range n.kids {
		switch k.key {
		case "path":
			if v, ok := m.arg(k); ok {
				s.path = v
			}
		case "status_code":
			var codes []string
			for _, c := range k.args {
				lo, hi, isRange := strings.Cut(c, "-")
				a, err1 := strconv.Atoi(lo)
				b, err2 := a, error(nil)
				if isRange {
					b, err2 = strconv.Atoi(hi)
				}
				if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
					m.rep.errorf(k.pos, k.key, "%q is not a status code or range of 100-599", c)
					continue
				}
				codes = append(codes, c)
			}
			s.status = strings.Join(codes, ",")
		case "virtualhost":
			if v, ok := m.arg(k); ok {
				s.host = v
			}
		case "regex":
			if v, ok := m.arg(k); ok {
				s.body = v
				m.rep.warnf(k.pos, k.key, "keepalived's regex is PCRE; the console matches the body with a POSIX extended regular expression")
			}
		case "digest":
			if v, ok := m.arg(k); ok {
				if err := config.CheckDigest(v); err != nil {
					m.rep.errorf(k.pos, k.key, "%v", err)
					continue
				}
				s.digest = strings.ToLower(v)
			}
		default:
			m.unsupported(k, "")
		}
	}
}

// forward reads lb_kind or lvs_method.
func (m *mapper) forward(k *node) (config.Forward, bool) {
	v, ok := m.arg(k)
	if !ok {
		return "", false
	}
	var f config.Forward
	switch v {
	case "NAT":
		f = config.NAT
	case "DR":
		f = config.Direct
	case "TUN":
		f = config.Tunnel
	default:
		m.rep.errorf(k.pos, k.key, "%q is not a forwarding method: use NAT, DR or TUN", v)
		return "", false
	}
	if len(k.args) > 1 {
		if f == config.Tunnel && len(k.args) == 3 && k.args[1] == "type" && k.args[2] == "ipip" {
			return f, true
		}
		m.rep.warnf(k.pos, k.key, "tunnel options %q are not supported: the console tunnels with IP-in-IP", strings.Join(k.args[1:], " "))
	}
	return f, true
}

// finishVirtual turns a virtual_server block into model virtual servers:
// one, or one per member of its group.
func (m *mapper) finishVirtual(kv *kvirtual) {
	kv.vs.Quiesce = kv.quiesce
	if kv.group == "" {
		m.addVirtual(kv, kv.vs)
		return
	}
	g, ok := m.groups[kv.group]
	if !ok {
		m.rep.errorf(kv.pos, "virtual_server", "group %q is not defined by a virtual_server_group", kv.group)
		return
	}
	members := m.groupMembers(g)
	if len(members) == 0 {
		return
	}
	m.rep.warnf(kv.pos, "virtual_server", "the console has no virtual server groups: group %s becomes %d virtual servers, one per member, as IPVS has them", kv.group, len(members))
	for _, mb := range members {
		vs := kv.vs
		if mb.fwmark != 0 {
			vs.FWMark, vs.Port = mb.fwmark, 0
		} else {
			vs.Address, vs.Port = mb.addr, mb.port
		}
		m.addVirtual(kv, vs)
	}
}

type member struct {
	addr   netip.Addr
	port   int
	fwmark int64
}

// groupMembers reads a virtual_server_group: "IP PORT", "IP-LAST PORT"
// (a range of the last byte or group), or "fwmark N".
func (m *mapper) groupMembers(g *node) []member {
	var out []member
	for _, k := range g.kids {
		if k.key == "fwmark" {
			n, err := strconv.ParseUint(strings.Join(k.args, ""), 10, 32)
			if err != nil || n == 0 {
				m.rep.errorf(k.pos, "fwmark", "%q is not a firewall mark", strings.Join(k.args, " "))
				continue
			}
			out = append(out, member{fwmark: int64(n)})
			continue
		}
		if len(k.args) != 1 {
			m.rep.errorf(k.pos, "virtual_server_group", "an entry is an address (or range) and a port, or fwmark N")
			continue
		}
		port, err := parsePort(k.args[0], 0)
		if err != nil || port == 0 {
			m.rep.errorf(k.pos, "virtual_server_group", "%q is not a port of 1-65535", k.args[0])
			continue
		}
		first, last, isRange := strings.Cut(k.key, "-")
		a, err := parseAddr(first)
		if err != nil {
			m.rep.errorf(k.pos, "virtual_server_group", "%v", err)
			continue
		}
		if !isRange {
			out = append(out, member{addr: a, port: port})
			continue
		}
		base := 10
		if a.Is6() {
			base = 16
		}
		end, err := strconv.ParseUint(last, base, 16)
		b := a.AsSlice()
		lastByte := uint64(b[len(b)-1])
		if a.Is6() {
			lastByte = uint64(b[len(b)-2])<<8 | uint64(b[len(b)-1])
		}
		if err != nil || end < lastByte || (a.Is4() && end > 255) || end-lastByte >= maxGroup {
			m.rep.errorf(k.pos, "virtual_server_group", "%q is not a range of at most %d addresses", k.key, maxGroup)
			continue
		}
		for x := a; ; x = x.Next() {
			out = append(out, member{addr: x, port: port})
			xb := x.AsSlice()
			cur := uint64(xb[len(xb)-1])
			if x.Is6() {
				cur = uint64(xb[len(xb)-2])<<8 | uint64(xb[len(xb)-1])
			}
			if cur >= end {
				break
			}
		}
	}
	if len(out) == 0 {
		m.rep.errorf(g.pos, "virtual_server_group", "group %s has no entries", g.args)
	}
	return out
}

// addVirtual adds one model virtual server made from kv.
func (m *mapper) addVirtual(kv *kvirtual, vs config.VirtualServer) {
	pl := places{head: kv.pl.head, keys: kv.pl.keys}
	vs.Reals = nil
	var first *kreal
	for _, kr := range kv.reals {
		rs := kr.rs
		f := kr.fwd
		if f == "" {
			f = kv.fwd
		}
		if f == "" {
			f = config.NAT
		}
		rs.Forward = f // the global default is chosen once all are known
		if vs.IsFWMark() {
			if rs.Port == 0 && kr.spec.port != 0 {
				// a fwmark service's port is its check port
				vs.Port = kr.spec.port
			}
		} else {
			if kr.spec.port != 0 && kr.spec.port != max(rs.Port, vs.Port) && (rs.Port != 0 || kr.spec.port != vs.Port) {
				m.rep.warnf(kr.specPos, "connect_port", "the console checks a real server on its own port: connect_port %d is left out", kr.spec.port)
			}
			if rs.Port == vs.Port {
				rs.Port = 0
			}
		}
		if first == nil {
			first = kr
			vs.CheckKind, vs.HTTPPath, vs.HTTPHost, vs.HTTPStatus = kr.spec.kind, kr.spec.path, kr.spec.host, kr.spec.status
			vs.HTTPBody, vs.SendProgram, vs.Expect = kr.spec.body, kr.spec.program, kr.spec.expect
			vs.HTTPDigest, vs.SMTPHelo, vs.DNSType, vs.DNSName = kr.spec.digest, kr.spec.helo, kr.spec.dnsType, kr.spec.dnsName
			vs.ProgramWeight = kr.spec.weight
			vs.CheckTimeout, vs.CheckInterval, vs.CheckFailures = kr.spec.timeout, kr.spec.interval, min(kr.spec.failures, 100)
			pl.keys["check"] = kr.specPos
			for _, f := range []string{"timeout", "check_interval", "check_failures", "http_path", "http_host", "http_status", "http_body", "send_program",
				"http_digest", "smtp_helo", "dns_type", "dns_name", "program_weight"} {
				if _, ok := pl.keys[f]; !ok {
					pl.keys[f] = kr.specPos
				}
			}
		} else if !sameCheck(first.spec, kr.spec) {
			m.rep.warnf(kr.specPos, "", "the console checks the real servers of a virtual server alike: this check differs from that of %s (line %d), which is used", first.rs.Address, first.pos.Line)
		}
		pl.realHead = append(pl.realHead, kr.pos)
		pl.reals = append(pl.reals, kr.keys)
		vs.Reals = append(vs.Reals, rs)
	}
	if len(kv.reals) == 0 {
		vs.CheckKind, vs.CheckTimeout, vs.CheckInterval = config.CheckTCP, kv.timing.timeout, kv.timing.interval
		vs.CheckFailures = kv.timing.retry + 1
	}
	m.quorum(&vs, pl)
	if kv.sorry.IsValid() {
		vs.SorryServer = kv.sorry.Addr()
		if p := int(kv.sorry.Port()); p != 0 && p != vs.Port && !vs.IsFWMark() {
			m.rep.warnf(kv.sorryPos, "sorry_server", "the console sends to a sorry server on the service's port %d: port %d is left out", vs.Port, p)
		}
	}
	m.addModel(vs, pl, kv)
}

// quorum bounds vs's quorum and hysteresis as keepalived does
// (check_data.c validate_check_config): a quorum above the weight of all
// the real servers could never be reached and becomes that weight; a
// hysteresis not below the quorum becomes quorum-1.
func (m *mapper) quorum(vs *config.VirtualServer, pl places) {
	var total int64
	for _, rs := range vs.Reals {
		total += rs.Weight
	}
	if pos, ok := pl.keys["quorum"]; ok && vs.Quorum > total {
		m.rep.warnf(pos, "quorum", "%d is above the weight of all the real servers, %d: lowered to %d, as keepalived", vs.Quorum, total, max(total, 1))
		vs.Quorum = max(total, 1)
	}
	if q := vs.EffectiveQuorum(); vs.Hysteresis >= q {
		m.rep.warnf(pl.keys["hysteresis"], "hysteresis", "%d is not below the quorum %d: lowered to %d, as keepalived", vs.Hysteresis, q, q-1)
		vs.Hysteresis = q - 1
	}
}

// command reads a program's command line (quorum_up, notify_up...) as
// keepalived's notify scripts: the first word, quoted when it has
// arguments, is the command line; a user (and group) may follow. The
// console runs every program as root, so the program must be a file only
// root can change (applying the import refuses it otherwise), and another
// user is left out with a warning.
func (m *mapper) command(k *node) (string, bool) {
	v, ok := m.arg(k)
	if !ok {
		return "", false
	}
	if len(k.args) > 1 && k.args[1] != "root" {
		m.rep.warnf(k.pos, k.key, "the console runs programs as root: user %s is left out", strings.Join(k.args[1:], " "))
	}
	return v, true
}

func sameCheck(a, b spec) bool {
	a.port, b.port = 0, 0
	return a == b
}

// parseAddr reads an IP address, refusing keepalived's placeholders such
// as x.x.x.x with the value in the message.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address (write e.g. 192.0.2.10 or 2001:db8::10)", s)
	}
	if a.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("%s is a placeholder, not an address", s)
	}
	return a, nil
}

// parsePort reads a port number of lo-65535.
func parsePort(s string, lo int) (int, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || int(n) < lo {
		return 0, fmt.Errorf("%q is not a port: use %d-65535", s, lo)
	}
	return int(n), nil
}

func parseWeight(s string) (int64, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > config.MaxWeight {
		return 0, fmt.Errorf("%q is not a weight: use 0-%d", s, config.MaxWeight)
	}
	return int64(n), nil
}

// joinArgs writes the words of misc_path as a command line the model
// splits back into the same words (config.SplitArgs).
func joinArgs(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && !strings.ContainsAny(w, " \t'\"\\$`*?[]{}()<>|&;#~") {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
