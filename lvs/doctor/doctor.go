// Package doctor checks that a director can do its work: IPVS and the
// schedulers the configuration uses, the capabilities serve needs,
// forwarding, the devices of the virtual addresses, rp_filter, the peer,
// the clock and the database. Each check is a pure function of facts read
// through Facts (System reads this machine's), so that its decisions are
// tested with tables; `lvsconsole doctor` prints them and the CONTROL/
// MONITORING page shows them.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Status is a check's verdict.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn" // works, but something is likely to go wrong
	Fail Status = "fail" // something this director needs is missing
)

// Result is one check's verdict: what was checked, what was found and,
// unless it passed, what to do.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

var errNoDevice = errors.New("no such interface")

// Failed reports whether any result failed.
func Failed(rs []Result) bool {
	return slices.ContainsFunc(rs, func(r Result) bool { return r.Status == Fail })
}

// IPVS is what the kernel said of IPVS.
type IPVS struct {
	Version string // "1.2.1"; "" when it could not be read
	Missing bool   // the kernel has no IPVS, and it could not be loaded
	Denied  bool   // asking needs CAP_NET_ADMIN
	Err     error  // any other trouble
}

// Clock is the kernel's view of the system clock's synchronisation
// (adjtimex).
type Clock struct {
	Synced   bool          // STA_UNSYNC clear and the state not TIME_ERROR
	MaxError time.Duration // the kernel's maximum error estimate
}

// Peer is what the running serve knows of the other director.
type Peer struct {
	Serving   bool   // a serve answers on this database's local socket
	Failover  bool   // it runs failover (not serve -failover=false)
	Pair      bool   // a backup director is configured, heartbeat on
	Heard     bool   // a valid heartbeat came within the dead time
	Addr      string // the peer's address
	Port      int    // the heartbeat's UDP port
	BadAuth   uint64 // heartbeats refused for a wrong MAC
	Malformed uint64 // datagrams that are no heartbeat of this version
	Err       error  // asking serve failed
}

// File is a file's or directory's mode and owner.
type File struct {
	Exists bool
	Mode   fs.FileMode
	UID    int
	Err    error
}

// Database is what the checks know of the database.
type Database struct {
	Path      string
	File, Dir File
	ServeUID  int // the uid serve runs (or would run) as; -1 unknown
	Applied   int // the last migration applied to it
	Latest    int // the last migration this program has
	WAL       bool
	SchemaErr error
}

// Facts are what the checks read of this director.
type Facts interface {
	IPVS(ctx context.Context) IPVS
	// Schedulers are the names of the schedulers this kernel has, loaded
	// or as modules it can load.
	Schedulers() ([]string, error)
	// Effective is this process's effective capability set (bit n is
	// capability n).
	Effective() (uint64, error)
	Forwarding(ipv4 bool) (bool, error)
	Interfaces() ([]string, error)
	// RPFilter is net.ipv4.conf.DEV.rp_filter.
	RPFilter(dev string) (int, error)
	Clock() (Clock, error)
	Peer(ctx context.Context) Peer
	Database(ctx context.Context) Database
}

// Check runs every check against cfg (nil: the database could not be
// read; the checks that need it say so).
func Check(ctx context.Context, cfg *config.Config, f Facts) []Result {
	ipvs := f.IPVS(ctx)
	out := []Result{checkIPVS(ipvs)}
	have, err := f.Schedulers()
	out = append(out, checkSchedulers(cfg, have, err))
	eff, err := f.Effective()
	out = append(out, checkCapabilities(eff, err)...)
	out = append(out, checkForwarding(cfg, f.Forwarding)...)
	ifs, err := f.Interfaces()
	out = append(out, checkDevices(cfg, ifs, err)...)
	out = append(out, checkRPFilter(cfg, ifs, f.RPFilter)...)
	out = append(out, checkPeer(cfg, f.Peer(ctx)))
	out = append(out, checkCluster(cfg)...)
	c, err := f.Clock()
	out = append(out, checkClock(c, err))
	out = append(out, checkDatabase(f.Database(ctx))...)
	return out
}

func checkIPVS(i IPVS) Result {
	r := Result{Name: "IPVS"}
	switch {
	case i.Missing:
		r.Status, r.Detail = Fail, "this kernel has no IPVS, and its module could not be loaded"
		r.Fix = "modprobe ip_vs (install the kernel's modules package), or use a kernel built with CONFIG_IP_VS"
	case i.Denied:
		r.Status, r.Detail = Fail, "reading IPVS was refused: this process lacks CAP_NET_ADMIN"
		r.Fix = "run lvsconsole doctor as root (or with CAP_NET_ADMIN)"
	case i.Err != nil:
		r.Status, r.Detail = Fail, "reading IPVS failed: "+i.Err.Error()
		r.Fix = "check the kernel's log (dmesg) for ip_vs"
	default:
		r.Status, r.Detail = Pass, "IP Virtual Server version "+i.Version
	}
	return r
}

// ipvsSchedulers are the kernel's scheduler modules, ip_vs_NAME.
var ipvsSchedulers = config.Schedulers

// ErrModulesHidden says only the loaded modules could be seen: the
// kernel's module tree is hidden from this process (the service's
// ProtectKernelModules=yes). The kernel still loads a scheduler's module
// when a virtual server first uses it.
var ErrModulesHidden = errors.New("the kernel's module tree is hidden from this process")

// ErrClockHidden says the clock's state may not be read here (the
// service's ProtectClock=yes refuses adjtimex, even to read).
var ErrClockHidden = errors.New("reading the clock's state is refused to this process")

func checkSchedulers(cfg *config.Config, have []string, err error) Result {
	r := Result{Name: "schedulers"}
	hidden := errors.Is(err, ErrModulesHidden)
	if hidden {
		err = nil
	}
	if err != nil {
		r.Status, r.Detail = Warn, "cannot list this kernel's schedulers: "+err.Error()
		r.Fix = "check that /lib/modules/$(uname -r) is there (the kernel's modules)"
		return r
	}
	known := map[string]bool{}
	for _, h := range have {
		known[h] = true
	}
	var missing, used []string
	if cfg != nil {
		for i := range cfg.Virtuals {
			vs := &cfg.Virtuals[i]
			if !vs.Active || slices.Contains(used, vs.Scheduler) {
				continue
			}
			used = append(used, vs.Scheduler)
			if !known[vs.Scheduler] {
				missing = append(missing, vs.Scheduler)
			}
		}
	}
	switch {
	case len(missing) > 0 && hidden:
		r.Status = Warn
		r.Detail = fmt.Sprintf("the configuration uses %s, not loaded yet (loaded: %s); the kernel's module tree is hidden from the service, so whether this kernel has them cannot be told from here (the kernel loads a scheduler when a virtual server first uses it)", strings.Join(missing, ", "), list(have))
		r.Fix = "run lvsconsole doctor as root to see every scheduler this kernel has"
	case len(missing) > 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("the configuration uses %s, which this kernel has not (it has: %s)", strings.Join(missing, ", "), list(have))
		r.Fix = "choose another scheduler on the VIRTUAL SERVERS page, or install a kernel with ip_vs_" + missing[0]
	case cfg == nil:
		r.Status, r.Detail = Warn, "this kernel has "+list(have)+"; the configuration could not be read to compare"
		r.Fix = "see the database check"
	default:
		r.Status, r.Detail = Pass, "this kernel has "+list(have)
		if hidden {
			r.Detail = "loaded: " + list(have)
		}
		if len(used) > 0 {
			r.Detail += "; the configuration uses " + strings.Join(used, ", ")
		}
	}
	return r
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

// capability numbers (linux/capability.h).
const (
	capNetBindService = 10
	capNetAdmin       = 12
	capNetRaw         = 13
)

var neededCaps = []struct {
	bit        int
	name, what string
}{
	{capNetAdmin, "CAP_NET_ADMIN", "programs IPVS, brings the virtual addresses up and down, runs the sync daemon, sets the heartbeat's SO_PRIORITY"},
	{capNetRaw, "CAP_NET_RAW", "sends gratuitous ARP and unsolicited neighbour advertisements after a takeover, and ping checks"},
	{capNetBindService, "CAP_NET_BIND_SERVICE", "binds the heartbeat's port 539 (and a console port below 1024)"},
}

func checkCapabilities(eff uint64, err error) []Result {
	if err != nil {
		return []Result{{Name: "capabilities", Status: Fail, Detail: "cannot read this process's capabilities: " + err.Error()}}
	}
	var out []Result
	for _, c := range neededCaps {
		r := Result{Name: c.name, Detail: c.what}
		if eff&(1<<c.bit) != 0 {
			r.Status, r.Detail = Pass, "present: "+c.what
		} else {
			r.Status, r.Detail = Fail, "missing: serve "+c.what
			r.Fix = "run serve as root, or as its service with AmbientCapabilities=" + c.name + " (the Debian package's unit has it)"
		}
		out = append(out, r)
	}
	return out
}

// natFamilies says which address families have active NAT real servers.
func natFamilies(cfg *config.Config) (v4, v6 bool) {
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		if !vs.Active {
			continue
		}
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if rs.Active && rs.EffectiveForward(&cfg.Global) == config.NAT && rs.Address.IsValid() {
				if rs.Address.Unmap().Is4() {
					v4 = true
				} else {
					v6 = true
				}
			}
		}
	}
	return v4, v6
}

func checkForwarding(cfg *config.Config, forwarding func(ipv4 bool) (bool, error)) []Result {
	if cfg == nil {
		return nil
	}
	v4, v6 := natFamilies(cfg)
	var out []Result
	for _, fam := range []struct {
		used bool
		ipv4 bool
		key  string
	}{{v4, true, "net.ipv4.ip_forward"}, {v6, false, "net.ipv6.conf.all.forwarding"}} {
		if !fam.used {
			continue
		}
		r := Result{Name: fam.key}
		on, err := forwarding(fam.ipv4)
		switch {
		case err != nil:
			r.Status, r.Detail = Fail, "cannot read it: "+err.Error()
		case !on:
			r.Status, r.Detail = Fail, "0, but the configuration has NAT real servers: their replies would go nowhere"
			r.Fix = "sysctl -w " + fam.key + "=1, and set it in /etc/sysctl.d/ to last"
		default:
			r.Status, r.Detail = Pass, "1, as NAT needs"
		}
		out = append(out, r)
	}
	return out
}

// devices are the devices the configuration brings addresses up on, with
// what uses each, in configuration order.
func devices(cfg *config.Config) (names []string, users map[string][]string) {
	users = map[string][]string{}
	add := func(dev, who string) {
		dev, _, _ = strings.Cut(dev, ":") // eth0:1 is a label on eth0
		if dev == "" {
			return
		}
		if _, ok := users[dev]; !ok {
			names = append(names, dev)
		}
		users[dev] = append(users[dev], who)
	}
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		if vs.Active {
			add(vs.Device, "virtual server "+vs.Name)
		}
	}
	if cfg.Global.NATRouter.IsValid() {
		add(cfg.Global.NATRouterDevice, "the NAT router address")
	}
	return names, users
}

func checkDevices(cfg *config.Config, ifs []string, err error) []Result {
	if cfg == nil {
		return nil
	}
	if err != nil {
		return []Result{{Name: "devices", Status: Fail, Detail: "cannot list this director's interfaces: " + err.Error()}}
	}
	names, users := devices(cfg)
	var out []Result
	for _, dev := range names {
		r := Result{Name: "device " + dev, Status: Pass, Detail: "present, for " + strings.Join(users[dev], ", ")}
		if !slices.Contains(ifs, dev) {
			r.Status, r.Detail = Fail, "missing on this director, but "+strings.Join(users[dev], ", ")+" brings its address up on it"
			r.Fix = "correct the device on the VIRTUAL SERVERS (or GLOBAL SETTINGS) page, or create the interface"
		}
		out = append(out, r)
	}
	if cfg.Redundancy.SyncDaemon && cfg.Redundancy.SyncIface != "" {
		r := Result{Name: "sync daemon interface " + cfg.Redundancy.SyncIface, Status: Pass, Detail: "present"}
		if !slices.Contains(ifs, cfg.Redundancy.SyncIface) {
			r.Status, r.Detail = Fail, "missing: the IPVS sync daemon cannot start on it"
			r.Fix = "correct the sync daemon's interface on the REDUNDANCY page"
		}
		out = append(out, r)
	}
	return out
}

// checkRPFilter checks the reverse-path filter on the devices of IPv4
// virtual addresses. The kernel uses the larger of conf/all and
// conf/DEV; strict mode (1) drops a packet whose source the director
// would not route back out of the interface it came in on, which NAT's
// replies and the traffic of a VIP on another interface than the route's
// are.
func checkRPFilter(cfg *config.Config, ifs []string, rp func(dev string) (int, error)) []Result {
	if cfg == nil {
		return nil
	}
	names, _ := devices(cfg)
	all, errAll := rp("all")
	var out []Result
	for _, dev := range names {
		if !slices.Contains(ifs, dev) {
			continue // the device check says so
		}
		r := Result{Name: "rp_filter " + dev}
		v, err := rp(dev)
		switch {
		case err != nil || errAll != nil:
			r.Status, r.Detail = Warn, fmt.Sprintf("cannot read it: %v", firstErr(err, errAll))
		case max(v, all) == 1:
			r.Status = Warn
			r.Detail = fmt.Sprintf("strict (all=%d, %s=%d): packets whose reply route is another interface are dropped, as NAT replies and VIP traffic can be", all, dev, v)
			r.Fix = fmt.Sprintf("sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.%s.rp_filter=2 (loose; 0 is off), and in /etc/sysctl.d/", dev)
		default:
			r.Status, r.Detail = Pass, fmt.Sprintf("%d (all=%d, %s=%d): 0 (off) or 2 (loose) is expected", max(v, all), all, dev, v)
		}
		out = append(out, r)
	}
	return out
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func checkPeer(cfg *config.Config, p Peer) Result {
	r := Result{Name: "peer"}
	if cfg != nil && cfg.Redundancy.HeartbeatPort != 0 {
		p.Port = cfg.Redundancy.HeartbeatPort
	}
	if cfg != nil && (!cfg.Redundancy.BackupActive || !cfg.Redundancy.Heartbeat) {
		r.Status, r.Detail = Pass, "no backup director is configured"
		return r
	}
	switch {
	case p.Err != nil:
		r.Status, r.Detail = Warn, "asking the running lvsconsole serve failed: "+p.Err.Error()
		r.Fix = "check serve's log"
	case !p.Serving:
		r.Status, r.Detail = Warn, "lvsconsole serve is not running: the peer is heard only by the heartbeat it runs"
		r.Fix = "start it: systemctl start lvsconsole"
	case !p.Failover:
		r.Status, r.Detail = Warn, "serve runs without failover (-failover=false): no heartbeat"
	case p.Heard:
		r.Status, r.Detail = Pass, fmt.Sprintf("%s is heard on UDP port %d, with this protocol and secret", p.Addr, p.Port)
	case p.BadAuth > 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s is not heard: %d of its heartbeats had a wrong MAC", p.Addr, p.BadAuth)
		r.Fix = "give both directors the same secret: lvsconsole secret on one, lvsconsole secret -set on the other"
	case p.Malformed > 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s is not heard: %d datagrams were not heartbeats of this version", p.Addr, p.Malformed)
		r.Fix = "run the same lvsconsole version on both directors"
	default:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s is not heard on UDP port %d", p.Addr, p.Port)
		r.Fix = fmt.Sprintf("start lvsconsole serve on the peer, and let UDP port %d through between the directors (both ways)", p.Port)
	}
	return r
}

// maxClockError is an error past which the clock counts as wrong.
const maxClockError = time.Second

// checkCluster warns, in cluster mode, of the virtual servers whose flows
// break when the routers move them to another director.
func checkCluster(cfg *config.Config) []Result {
	if cfg == nil || !cfg.Redundancy.Cluster {
		return nil
	}
	ws := cfg.ClusterWarnings()
	if len(ws) == 0 {
		return []Result{{Name: "cluster mode", Status: Pass,
			Detail: "every announced virtual server keeps its flows when a director leaves (mh, direct routing or tunneling)"}}
	}
	// One result per virtual server, its problems together.
	var out []Result
	for _, w := range ws {
		name := "cluster mode: virtual server " + w.Virtual
		if n := len(out); n > 0 && out[n-1].Name == name {
			out[n-1].Detail += "; " + w.Problem
			out[n-1].Fix += "; " + w.Fix
			continue
		}
		out = append(out, Result{Name: name, Status: Warn, Detail: w.Problem, Fix: w.Fix})
	}
	return out
}

func checkClock(c Clock, err error) Result {
	r := Result{Name: "clock"}
	const why = "the heartbeat does not depend on it (see docs/heartbeat.md), but HISTORY's times, sessions' expiry and TLS certificates do"
	switch {
	case errors.Is(err, ErrClockHidden):
		r.Status, r.Detail = Warn, "the service may not read the clock's state (its ProtectClock=yes): "+why
		r.Fix = "run lvsconsole doctor as root, or timedatectl, to see whether the clock is synchronised"
	case err != nil:
		r.Status, r.Detail = Warn, "cannot read the clock's state: "+err.Error()
	case !c.Synced:
		r.Status, r.Detail = Warn, "not synchronised: "+why
		r.Fix = "run an NTP client (systemd-timesyncd or chrony) on both directors"
	case c.MaxError > maxClockError:
		r.Status, r.Detail = Warn, fmt.Sprintf("synchronised, but its maximum error is %v: %s", c.MaxError, why)
		r.Fix = "check the NTP client's servers"
	default:
		r.Status, r.Detail = Pass, fmt.Sprintf("synchronised (maximum error %v)", c.MaxError)
	}
	return r
}

func checkDatabase(d Database) []Result {
	file := Result{Name: "database " + d.Path}
	switch f := d.File; {
	case f.Err != nil:
		file.Status, file.Detail = Fail, "cannot read it: "+f.Err.Error()
	case !f.Exists:
		file.Status, file.Detail = Fail, "missing"
		file.Fix = "lvsconsole passwd -db " + d.Path + " makes it (and sets admin's password)"
	case f.Mode.Perm()&0o077 != 0:
		file.Status, file.Detail = Fail, fmt.Sprintf("mode %04o: others can read the password hashes and the peer secret", f.Mode.Perm())
		file.Fix = "chmod 0600 " + d.Path
	case d.ServeUID >= 0 && f.UID != d.ServeUID:
		file.Status, file.Detail = Fail, fmt.Sprintf("owned by uid %d, but serve runs as uid %d: it cannot open it", f.UID, d.ServeUID)
		file.Fix = fmt.Sprintf("chown %d %s*", d.ServeUID, d.Path)
	default:
		file.Status, file.Detail = Pass, fmt.Sprintf("mode %04o, owner uid %d", f.Mode.Perm(), f.UID)
	}
	dir := Result{Name: "database directory"}
	switch f := d.Dir; {
	case f.Err != nil:
		dir.Status, dir.Detail = Fail, "cannot read it: "+f.Err.Error()
	case !f.Exists:
		dir.Status, dir.Detail = Fail, "missing"
	case f.Mode.Perm()&0o077 != 0:
		dir.Status, dir.Detail = Warn, fmt.Sprintf("mode %04o: others can see the database's files come and go (0700 is expected)", f.Mode.Perm())
		dir.Fix = "chmod 0700 " + filepath.Dir(d.Path)
	case d.ServeUID >= 0 && f.UID != d.ServeUID:
		dir.Status, dir.Detail = Fail, fmt.Sprintf("owned by uid %d, but serve runs as uid %d: it cannot make the database's -wal and -shm files there", f.UID, d.ServeUID)
		dir.Fix = fmt.Sprintf("chown %d %s", d.ServeUID, filepath.Dir(d.Path))
	default:
		dir.Status, dir.Detail = Pass, fmt.Sprintf("mode %04o, owner uid %d", f.Mode.Perm(), f.UID)
	}
	out := []Result{file, dir}
	if !d.File.Exists {
		return out
	}
	schema := Result{Name: "database migrations"}
	switch {
	case d.SchemaErr != nil:
		schema.Status, schema.Detail = Fail, "cannot read them: "+d.SchemaErr.Error()
	case d.Applied < d.Latest && d.WAL:
		schema.Status, schema.Detail = Warn, fmt.Sprintf("%d of %d read, but serve has changes not yet checkpointed", d.Applied, d.Latest)
	case d.Applied < d.Latest:
		schema.Status, schema.Detail = Fail, fmt.Sprintf("at %d, this lvsconsole has %d", d.Applied, d.Latest)
		schema.Fix = "restart lvsconsole serve: it applies them as it starts"
	case d.Applied > d.Latest:
		schema.Status, schema.Detail = Fail, fmt.Sprintf("at %d, made by a newer lvsconsole than this one (%d)", d.Applied, d.Latest)
		schema.Fix = "install that newer lvsconsole"
	default:
		schema.Status, schema.Detail = Pass, fmt.Sprintf("current (%d)", d.Latest)
	}
	return append(out, schema)
}
