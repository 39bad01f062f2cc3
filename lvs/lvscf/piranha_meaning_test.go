package lvscf

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// piranhaMeaning reads an lvs.cf the way piranha 0.8.6 did, independently of
// Parse, and returns what its daemons would act on: one entry per setting,
// with piranha's defaults filled in and its "not given" values made empty.
// Comparing the meaning of a file with that of its export shows whether the
// export says the same thing to piranha. Keys lvsconsole drops (and failover
// blocks) are skipped; any other key piranha does not know, or a value it
// would refuse, is an error, as it was for piranha.
//
// It follows lvsconfig.c: lvsParseConfig and lvsInitVirtualServer for the
// defaults, parseActualServer for a real server's port (the virtual
// server's when the block starts), getNum (strtol base 0), getHostname
// (resolve), and the daemons for what 0.0.0.0 means: pulse.c sendArps
// (vip_nmask, nat_nmask), lvsd.c startVirtualServer (pmask, only with
// persistence), lvsd.c checkClientMonitor (sorry_server).
func piranhaMeaning(src string, resolve func(string) (string, error)) (map[string]string, error) {
	type block struct {
		kind, name string
		keys       map[string]string
		servers    []*block
		port       string // a server's port when its block began
	}
	global := &block{kind: "global", keys: map[string]string{}}
	var virtuals []*block
	var stack []*block
	skip := 0 // depth inside a failover block
	dropped := map[string]bool{
		"primary_shared": true, "backup_shared": true, "reservation_conflict_action": true,
		"ipvsadm": true, "sync": true, "client_monitor": true, "master": true, "dirs": true,
		"start_cmd": true, "stop_cmd": true,
	}
	known := map[string][]string{
		"global": {"serial_no", "service", "primary", "primary_private", "backup_active", "backup", "backup_private",
			"heartbeat", "heartbeat_port", "keepalive", "deadtime", "network", "nat_router", "nat_nmask",
			"monitor_links", "syncdaemon", "syncd_iface", "syncd_id", "tcp_timeout", "tcpfin_timeout",
			"udp_timeout", "hard_shutdown", "active_cmd", "inactive_cmd", "rsh_command", "debug_level"},
		"virtual": {"active", "address", "vip_nmask", "sorry_server", "fwmark", "protocol", "port", "scheduler",
			"persistent", "pmask", "send", "expect", "use_regex", "send_program", "timeout", "reentry",
			"load_monitor", "quiesce_server"},
		"server": {"address", "active", "weight", "port"},
	}
	vsDefaults := map[string]string{"active": "0", "port": "80", "protocol": "tcp", "scheduler": "wlc",
		"timeout": "10", "reentry": "180", "persistent": "0", "fwmark": "0", "use_regex": "0", "quiesce_server": "0"}
	for n, line := range strings.Split(src, "\n") {
		line = strings.Trim(strings.TrimSuffix(line, "\r"), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		fail := func(format string, args ...any) error {
			return fmt.Errorf("piranha would refuse line %d %q: %s", n+1, line, fmt.Sprintf(format, args...))
		}
		switch {
		case f[0] == "}":
			if len(f) > 1 {
				return nil, fail("unexpected arguments")
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(stack) == 0 {
				return nil, fail("} without a block")
			}
			stack = stack[:len(stack)-1]
			continue
		case skip > 0:
			if f[len(f)-1] == "{" {
				skip++
			}
			continue
		case f[0] == "failover" || f[0] == "virtual" || f[0] == "server":
			if len(f) != 3 || f[2] != "{" {
				return nil, fail("missing arguments")
			}
			if f[0] == "failover" {
				skip = 1
				continue
			}
			b := &block{kind: f[0], name: f[1], keys: map[string]string{}}
			if f[0] == "virtual" {
				if len(stack) != 0 {
					return nil, fail("virtual inside a block")
				}
				for k, v := range vsDefaults {
					b.keys[k] = v
				}
				virtuals = append(virtuals, b)
			} else {
				if len(stack) != 1 {
					return nil, fail("server outside a virtual block")
				}
				vs := stack[0]
				b.port = vs.keys["port"]
				b.keys["active"], b.keys["weight"] = "0", "1"
				vs.servers = append(vs.servers, b)
			}
			stack = append(stack, b)
			continue
		}
		cur := global
		if len(stack) > 0 {
			cur = stack[len(stack)-1]
		}
		if len(f) < 3 || f[1] != "=" {
			return nil, fail("equal (=) expected after command")
		}
		key := f[0]
		value := strings.Trim(line[strings.Index(line, "=")+1:], " \t")
		if q := value[0]; q == '"' || q == '\'' {
			end := strings.IndexByte(value[1:], q)
			if end < 0 || end+2 != len(value) {
				return nil, fail("quotation mismatch")
			}
			value = value[1 : end+1]
		} else if strings.ContainsAny(value, " \t") && !(key == "address" && cur.kind == "virtual") && key != "nat_router" && key != "dirs" {
			return nil, fail("unexpected arguments")
		}
		if dropped[key] {
			continue
		}
		if !slices.Contains(known[cur.kind], key) {
			return nil, fail("unknown command %q in a %s block", key, cur.kind)
		}
		cur.keys[key] = value
	}
	if len(stack) != 0 || skip != 0 {
		return nil, fmt.Errorf("piranha would refuse it: unexpected end of file")
	}

	out := map[string]string{}
	var err error
	num := func(s string) string {
		if err != nil {
			return ""
		}
		n, e := strconv.ParseInt(s, 0, 32)
		if e != nil {
			err = fmt.Errorf("piranha would refuse %q: integer expected", s)
		}
		return strconv.FormatInt(n, 10)
	}
	host := func(s string) string {
		if err != nil || s == "" {
			return s
		}
		if a, e := netip.ParseAddr(s); e == nil {
			return a.String()
		}
		a, e := resolve(s)
		if e != nil {
			err = fmt.Errorf("piranha would refuse %q: invalid host name or ip address", s)
		}
		return a
	}
	// notGiven makes piranha's zero addresses and masks empty.
	notGiven := func(s string) string {
		if a, e := netip.ParseAddr(s); e == nil && a.IsUnspecified() {
			return ""
		}
		return s
	}
	g := global.keys
	out["network"] = cmp.Or(g["network"], "nat")
	for _, k := range []string{"primary", "primary_private", "backup", "backup_private"} {
		out[k] = notGiven(host(g[k]))
	}
	if r := strings.Fields(g["nat_router"]); len(r) == 2 {
		out["nat_router"] = host(r[0]) + " " + r[1]
	}
	out["nat_nmask"] = notGiven(g["nat_nmask"])
	out["backup_active"] = num(cmp.Or(g["backup_active"], "0"))
	if out["backup"] == "" {
		out["backup_active"] = "0" // pulse.c main: "Undefined backup node marked as active? -- clearing that!"
	}
	out["heartbeat_port"] = num(cmp.Or(g["heartbeat_port"], "539"))
	out["keepalive"] = num(cmp.Or(g["keepalive"], "2"))
	out["deadtime"] = num(cmp.Or(g["deadtime"], "5"))
	out["syncdaemon"] = num(cmp.Or(g["syncdaemon"], "0"))
	out["syncd_iface"] = cmp.Or(g["syncd_iface"], "eth0")
	out["syncd_id"] = num(cmp.Or(g["syncd_id"], "0"))
	out["monitor_links"] = num(cmp.Or(g["monitor_links"], "0"))
	out["hard_shutdown"] = num(cmp.Or(g["hard_shutdown"], "1"))
	out["service"] = cmp.Or(g["service"], "lvs")
	for _, k := range []string{"tcp_timeout", "tcpfin_timeout", "udp_timeout"} {
		out[k] = num(cmp.Or(g[k], "0"))
	}
	for _, k := range []string{"active_cmd", "inactive_cmd"} {
		out[k] = g[k]
	}
	for _, vs := range virtuals {
		v := vs.keys
		p := "virtual " + vs.name + ": "
		out[p+"active"] = num(v["active"])
		if a := strings.Fields(v["address"]); len(a) == 2 {
			out[p+"address"] = notGiven(host(a[0])) + " " + a[1]
		} else if len(a) != 0 {
			return nil, fmt.Errorf("piranha would refuse virtual %s's address %q: missing arguments (it needs a device)", vs.name, v["address"])
		}
		out[p+"vip_nmask"] = notGiven(v["vip_nmask"])
		out[p+"sorry_server"] = notGiven(v["sorry_server"])
		port, perr := config.ParsePort(v["port"])
		if perr != nil {
			return nil, perr
		}
		out[p+"port"] = strconv.Itoa(port)
		for _, k := range []string{"fwmark", "persistent", "timeout", "reentry", "use_regex", "quiesce_server"} {
			out[p+k] = num(v[k])
		}
		for _, k := range []string{"protocol", "scheduler", "send", "expect", "send_program", "load_monitor"} {
			out[p+k] = v[k]
		}
		if out[p+"persistent"] != "0" {
			pm := notGiven(v["pmask"])
			if pm == "255.255.255.255" {
				pm = "" // lvsconfig.c parseVirtualServer: "255.255.255.255 not allowed"
			}
			out[p+"pmask"] = pm
		}
		for _, rs := range vs.servers {
			s := rs.keys
			q := p + "server " + rs.name + ": "
			out[q+"address"] = host(s["address"])
			out[q+"active"] = num(s["active"])
			out[q+"weight"] = num(s["weight"])
			rport := s["port"]
			if rport == "" {
				n, _ := config.ParsePort(rs.port)
				rport = strconv.Itoa(n)
			}
			out[q+"port"] = num(rport)
		}
	}
	return out, err
}
