package lvscf

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// A key is one lvs.cf key of a block whose entry is a T: how its value is
// read into the entry and written from it. Keys are made from the field
// registry (config.GlobalFields ...): most carry one field; piranha's "IP
// dev" keys carry an address and its device, and sched_flags a list of
// flags.
type key[T any] struct {
	name string
	// set stores a value read from a file. On error it leaves the entry
	// alone, so that the parser's default stays in place and Validate
	// does not add a second, confusing complaint about a zero value
	// nobody wrote.
	set func(t *T, v string) error
	// write writes the key of t, or nothing when its value is lvs.cf's
	// zero and always is not set.
	write func(f *formatter, indent string, t *T, always bool)
	// host says piranha took a host name for the address the value
	// starts with (lvsconfig.c getHostname, inet_aton else
	// gethostbyname; other keys had inet_aton alone).
	host bool
}

// keys are the keys of one kind of block, in the order piranha's console
// wrote them (see layout).
type keys[T any] struct {
	list  []key[T]
	index map[string]int
}

func (ks *keys[T]) lookup(name string) *key[T] {
	if i, ok := ks.index[name]; ok {
		return &ks.list[i]
	}
	return nil
}

func (ks *keys[T]) names() string {
	s := make([]string, len(ks.list))
	for i, k := range ks.list {
		s[i] = k.name
	}
	return strings.Join(s, ", ")
}

// newKeys orders ks as layout says, the keys it does not name after them
// in the order they came.
func newKeys[T any](layout []string, ks ...[]key[T]) *keys[T] {
	out := &keys[T]{index: map[string]int{}}
	var all []key[T]
	for _, k := range ks {
		all = append(all, k...)
	}
	add := func(k key[T]) {
		if _, dup := out.index[k.name]; !dup {
			out.index[k.name] = len(out.list)
			out.list = append(out.list, k)
		}
	}
	for _, name := range layout {
		for _, k := range all {
			if k.name == name {
				add(k)
			}
		}
	}
	for _, k := range all {
		add(k)
	}
	return out
}

// fieldKeys makes the keys of the fields fs of the entry E that a block's
// T holds (entry returns it).
func fieldKeys[T, E any](fs config.Fields[E], entry func(*T) *E) []key[T] {
	var out []key[T]
	done := map[string]bool{}
	for i := range fs {
		f := &fs[i]
		if f.Cf == "" || done[f.Cf] {
			continue // a block's name, or a key made already
		}
		done[f.Cf] = true
		var shared []*config.Field[E]
		for j := range fs {
			if fs[j].Cf == f.Cf {
				shared = append(shared, &fs[j])
			}
		}
		k := key[T]{name: f.Cf, host: f.CfHost}
		switch {
		case f.Flag != "":
			k.set = func(t *T, v string) error { return config.ParseFlags(fs, f.Key, v, entry(t)) }
			k.write = func(w *formatter, in string, t *T, _ bool) {
				if v := config.FormatFlags(fs, f.Key, entry(t)); v != "" {
					w.str(in, f.Cf, v)
				}
			}
		case len(shared) == 2:
			// piranha's "IP dev": the address, then its device.
			dev := shared[1]
			k.set = func(t *T, v string) error {
				e := entry(t)
				return addrDev(v, f.Ref(e).(*netip.Addr), dev.Ref(e).(*string))
			}
			k.write = func(w *formatter, in string, t *T, _ bool) {
				e := entry(t)
				w.addrDev(in, f.Cf, *f.Ref(e).(*netip.Addr), *dev.Ref(e).(*string))
			}
		default:
			k.set = func(t *T, v string) error { return setField(f, entry(t), v) }
			k.write = func(w *formatter, in string, t *T, always bool) { writeField(w, in, f, entry(t), always) }
			if f.Default.LvsCf != "" && !f.CfAlways {
				// A key whose absence is not its zero value (bgp_announce
				// 1) is written when its value is not that default, zero
				// included.
				var def E
				if err := f.SetText(&def, f.Default.LvsCf); err != nil {
					panic(fmt.Sprintf("lvscf: the lvs.cf default %q of %s: %v", f.Default.LvsCf, f.Key, err))
				}
				k.write = func(w *formatter, in string, t *T, always bool) {
					if e := entry(t); always || f.Value(e) != f.Value(&def) {
						writeField(w, in, f, e, true)
					}
				}
			}
		}
		out = append(out, k)
	}
	return out
}

// setField reads v into f of e as piranha's parser read it: a netmask of
// 0.0.0.0 (or 0) is "not given" (pulse.c sendArps brings an address up
// without a netmask when it is 0, lvsd.c startVirtualServer passes no
// pmask), and so is a sorry_server of 0.0.0.0 (lvsd.c checkClientMonitor).
func setField[E any](f *config.Field[E], e *E, v string) error {
	if err := f.SetText(e, v); err != nil {
		return err
	}
	switch p := f.Ref(e).(type) {
	case *config.Netmask:
		if p.Bits() == 0 {
			*p = config.Netmask{}
		}
	case *netip.Addr:
		if f.CfZeroIsNone && p.IsUnspecified() {
			*p = netip.Addr{}
		}
	}
	return nil
}

// writeField writes f of e as piranha's console did: numbers, addresses
// and 0/1 bare, strings quoted when they must be (or always, CfQuoted);
// nothing for a zero value unless always or CfAlways.
func writeField[E any](w *formatter, in string, f *config.Field[E], e *E, always bool) {
	always = always || f.CfAlways
	switch p := f.Ref(e).(type) {
	case *bool:
		if *p || always {
			w.bool(in, f.Cf, *p)
		}
	case *int:
		if *p != 0 || always {
			w.int(in, f.Cf, int64(*p))
		}
	case *int64:
		if *p != 0 || always {
			w.int(in, f.Cf, *p)
		}
	case *time.Duration:
		if *p != 0 || always {
			w.raw(in, f.Cf, config.FormatSeconds(*p))
		}
	case *netip.Addr:
		if p.IsValid() || always {
			w.raw(in, f.Cf, config.FormatAddr(*p))
		}
	case *config.Netmask:
		w.mask(in, f.Cf, *p, f.IPv6(e)) // nothing when not set
	default:
		v := f.Text(e)
		switch {
		case v == "" && !always:
		case f.CfQuoted:
			w.quoted(in, f.Cf, v)
		default:
			w.str(in, f.Cf, v)
		}
	}
}

// The order piranha's console wrote the keys of each block in, so that an
// exported file diffs cleanly against one piranha wrote; keys it did not
// have follow, in the registry's order.
var (
	globalLayout = []string{"serial_no", "primary", "primary_private", "service", "backup_active", "backup",
		"backup_private", "heartbeat", "heartbeat_port", "keepalive", "deadtime", "network", "nat_router", "nat_nmask",
		"monitor_links", "preempt", "preempt_delay", "syncdaemon", "syncd_iface", "syncd_id", "tcp_timeout",
		"tcpfin_timeout", "udp_timeout", "hard_shutdown", "active_cmd", "inactive_cmd", "rsh_command", "debug_level"}
	virtualLayout = []string{"active", "address", "vip_nmask", "sorry_server", "fwmark", "protocol", "port",
		"scheduler", "sched_flags", "ops", "persistent", "pmask", "send", "expect", "use_regex", "send_program",
		"load_monitor", "timeout", "reentry", "quiesce_server"}
	serverLayout = []string{"address", "active", "port", "weight"}
)

// serialKey is serial_no, the configuration's and no field's: always
// written, first.
var serialKey = key[config.Config]{
	name: "serial_no",
	set: func(c *config.Config, v string) error {
		n, err := config.ParseInt(v)
		if err == nil {
			c.Serial = n
		}
		return err
	},
	write: func(w *formatter, in string, c *config.Config, _ bool) { w.int(in, "serial_no", c.Serial) },
}

// The keys of the global section and of virtual and server blocks; error
// messages list them in this order.
var (
	globalKeys = newKeys(globalLayout, []key[config.Config]{serialKey},
		fieldKeys(config.GlobalFields, func(c *config.Config) *config.Global { return &c.Global }),
		fieldKeys(config.RedundancyFields, func(c *config.Config) *config.Redundancy { return &c.Redundancy }))
	virtualKeys = newKeys(virtualLayout,
		fieldKeys(config.VirtualFields, func(vs *config.VirtualServer) *config.VirtualServer { return vs }))
	serverKeys = newKeys(serverLayout,
		fieldKeys(config.RealFields, func(rs *config.RealServer) *config.RealServer { return rs }))
)

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

// Parser defaults for absent keys are the registry's LvsCf ones: piranha's
// parser's, not the console's, because a file written for piranha meant
// these (lvsconfig.c lvsParseConfig and lvsInitVirtualServer). Made once.
var (
	cfGlobal     = config.GlobalFields.New(true)
	cfRedundancy = config.RedundancyFields.New(true)
	cfVirtual    = config.VirtualFields.New(true)
	cfReal       = config.RealFields.New(true)
)

func defaultConfig() *config.Config {
	return &config.Config{Global: cfGlobal, Redundancy: cfRedundancy}
}

func defaultVirtual(name string) *config.VirtualServer {
	vs := cfVirtual
	vs.Name = name
	return &vs
}

func defaultReal(name string) *config.RealServer {
	rs := cfReal
	rs.Name = name
	return &rs
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
