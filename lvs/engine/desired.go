// Package engine turns the accepted configuration into the kernel's IPVS
// table: it derives the table the configuration asks for, compares it with
// what the kernel holds, and applies the smallest set of changes, touching
// only the services it created itself.
package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// Table is an IPVS table: what the configuration asks for, or what the
// kernel holds.
type Table struct {
	Services []*Service // in configuration order
	Timeouts ipvs.Timeouts
}

// Service is one virtual service with its destinations.
type Service struct {
	ipvs.Service
	Virtual string // the virtual server's name; "" for a service read from the kernel
	Dests   []ipvs.Destination
	// Pending are real servers not checked yet: left as they are in the
	// kernel (so that a restart does not empty the table), not added.
	Pending []ipvs.DestKey
	// Order is the kernel's order of the destinations (its list, head
	// first; Dests are sorted), for a service read from the kernel.
	Order []ipvs.DestKey
	// Canonical: the kernel must list the destinations in one order, the
	// same on every director (cluster mode, a scheduler that depends on
	// it: see orderedSchedulers).
	Canonical bool
}

// Lookup returns the service with key k, or nil.
func (t *Table) Lookup(k ipvs.ServiceKey) *Service {
	for _, s := range t.Services {
		if s.ServiceKey == k {
			return s
		}
	}
	return nil
}

// Presence says whether a real server belongs in the table.
type Presence int

const (
	Out      Presence = iota // not in the table (down, or never seen up)
	In                       // in the table, at the weight given
	Pending                  // not checked yet: keep it as the kernel has it
	Quiesced                 // down, but kept in the table at weight 0 so that its connections finish
)

// Health tells which real servers may take traffic, and with what weight.
type Health interface {
	Weigher
	// Configure is given each configuration the engine applies, before
	// Weight is asked about it: the checks follow it.
	Configure(cfg *config.Config)
}

// Weigher says what weight each real server should have: all Desired
// needs of the health checks.
type Weigher interface {
	// Weight returns the weight real server rs of virtual server vs should
	// have, and whether it belongs in the table.
	Weight(vs *config.VirtualServer, rs *config.RealServer) (int32, Presence)
}

// Configured is the Health of a director that checks nothing: every active
// real server is up at its configured weight.
type Configured struct{}

func (Configured) Weight(vs *config.VirtualServer, rs *config.RealServer) (int32, Presence) {
	return int32(rs.Weight), In
}

// Configure does nothing: nothing is checked.
func (Configured) Configure(*config.Config) {}

// Changed is never any: the answers follow the configuration alone.
func (Configured) Changed(*config.Config, HealthMark) (HealthMark, []int, bool) {
	return HealthMark{}, nil, true
}

// Desired returns the table cfg asks for: a service for each active virtual
// server with a real address, holding its active real servers that health
// lets in, or its sorry server while it is below its quorum (see
// quorum.go). It decides each quorum afresh, as at a start.
func Desired(cfg *config.Config, health Weigher) *Table {
	t, _ := desired(cfg, health, nil)
	return t
}

// desired is Desired after what m remembers: the quorums, for their
// hysteresis, and which real servers were up. It updates m and returns
// the transitions that run programs; with m nil, none.
func desired(cfg *config.Config, health Weigher, m *memory) (*Table, []event) {
	t := &Table{Timeouts: timeoutsOf(cfg)}
	var events []event
	if m != nil {
		m.gen++
	}
	// The services and their destinations in two allocations, not one
	// per service (10,000 x 10 at every change). Nothing keeps them past
	// the table: after copies what it keeps.
	nv, nd := 0, 0
	for i := range cfg.Virtuals {
		if vs := &cfg.Virtuals[i]; inTable(vs) {
			nv++
			nd += len(vs.Reals)
		}
	}
	services := make([]Service, nv)
	dests := make([]ipvs.Destination, nd)
	t.Services = make([]*Service, 0, nv)
	var up []ipvs.DestKey
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		if !inTable(vs) {
			continue
		}
		s := &services[len(t.Services)]
		s.Dests, dests = dests[:0:len(vs.Reals)], dests[len(vs.Reals):]
		events, up = desiredService(cfg, vs, health, m, s, events, up)
		t.Services = append(t.Services, s)
	}
	if m != nil {
		m.forget()
	}
	return t, events
}

// inTable tells whether vs has a service in the table.
func inTable(vs *config.VirtualServer) bool { return vs.Active && usable(vs.Address) }

func timeoutsOf(cfg *config.Config) ipvs.Timeouts {
	return ipvs.Timeouts{
		TCP:    time.Duration(cfg.Global.TCPTimeout) * time.Second,
		TCPFin: time.Duration(cfg.Global.TCPFinTimeout) * time.Second,
		UDP:    time.Duration(cfg.Global.UDPTimeout) * time.Second,
	}
}

// desiredService makes s, whose Dests has room for vs's real servers,
// vs's service; up is scratch space, returned for the next.
func desiredService(cfg *config.Config, vs *config.VirtualServer, health Weigher, m *memory, s *Service, events []event, up []ipvs.DestKey) ([]event, []ipvs.DestKey) {
	dests := s.Dests
	*s = Service{Service: serviceOf(vs), Virtual: vs.Name, Dests: dests}
	s.Canonical = cfg.Redundancy.Cluster && orderedSchedulers[s.Scheduler]
	var sum int64 // the configured weights of the real servers up
	up = up[:0]   // of the real servers in s.Dests that are up
	var seenOf *realsSeen
	if m != nil {
		seenOf = m.virtual(vs.Name)
	}
	for j := range vs.Reals {
		rs := &vs.Reals[j]
		if !rs.Active || !usable(rs.Address) {
			continue
		}
		w, presence := health.Weight(vs, rs)
		port := destPort(vs, rs)
		// A draining server (the console's DRAIN) stays at weight 0
		// whatever its checks say, like a quiesced one: it takes no
		// new connections and counts nothing towards the quorum,
		// and its connections finish. A check that finds it down
		// still takes it out, as it would any server.
		draining := rs.Draining && (presence == In || presence == Quiesced)
		if draining {
			w = 0
		}
		d := destination(rs.Address, port, rs.EffectiveForward(&cfg.Global), w, rs.UpperThreshold, rs.LowerThreshold)
		switch {
		case draining:
			s.Dests = append(s.Dests, d)
		case presence == In:
			s.Dests = append(s.Dests, d)
			up = append(up, d.Key())
			sum += quorumWeight(health, vs, rs)
		case presence == Quiesced:
			s.Dests = append(s.Dests, d)
		case presence == Pending:
			s.Pending = append(s.Pending, ipvs.DestKey{Addr: rs.Address, Port: port})
		}
		if m != nil && presence != Pending {
			events = seenOf.server(events, m.gen, j, vs, rs, presence == In)
		}
	}
	// The quorum: not decided while a real server is not checked yet
	// (left as the kernel has it, so that a restart empties nothing).
	was := quorumUnknown
	if m != nil {
		was = m.quorum[vs.Name]
	}
	state := was
	if len(s.Pending) == 0 {
		state = quorumLost
		if quorumHeldNow(was, sum, vs.EffectiveQuorum(), vs.Hysteresis) {
			state = quorumHeld
		}
	}
	if m != nil && state != was {
		m.quorum[vs.Name] = state
		events = quorumEvent(events, vs, was, state, sum)
	}
	if state == quorumLost && usable(vs.SorryServer) {
		// keepalived's sorry server takes the place of the real
		// servers still up (with quorum 1 only ones of weight 0);
		// quiesced ones stay. Weight 1, the service's port, the
		// director's default forwarding.
		s.Dests = slices.DeleteFunc(s.Dests, func(d ipvs.Destination) bool { return slices.Contains(up, d.Key()) })
		s.Dests = append(s.Dests, destination(vs.SorryServer, uint16(vs.Port), cfg.Global.Network, 1, 0, 0))
	}
	return events, up
}

// lastDesired is what the engine derived last: the configuration, the
// table, and the health's mark then.
type lastDesired struct {
	cfg  *config.Config
	want *Table
	mark HealthMark
}

// HealthMark is a point in a Health's history: its generation, and the
// time the answers that followed were given.
type HealthMark struct {
	Gen uint64
	At  time.Time
}

// changeTracker is a Health that can tell which virtual servers' answers
// may have changed since a mark.
type changeTracker interface {
	// Changed returns the mark of now and the indexes, ascending, of
	// cfg's virtual servers for which Weight may answer otherwise than
	// at since; false when it cannot tell.
	Changed(cfg *config.Config, since HealthMark) (HealthMark, []int, bool)
}

// desiredAgain is desired for cfg made from last, the table of an earlier
// configuration: only the virtual servers whose configuration changed, or
// whose health answers did (answered, from the health's changeTracker),
// are derived again; the others' services are last's (an edit of one
// weight, or one server's check, at 10,000 x 10 derived 100,000
// destinations). False when that cannot be done: another set of virtual
// servers, global settings changed, a virtual server entering or leaving
// the table, or most of them changed.
func desiredAgain(cfg *config.Config, health Weigher, m *memory, last *lastDesired, answered []int) (*Table, []event, bool) {
	prev := last.cfg
	if prev == nil || m == nil || prev.Global != cfg.Global || prev.Redundancy != cfg.Redundancy {
		return nil, nil, false
	}
	changed, same := config.ChangedVirtuals(prev, cfg)
	if !same {
		return nil, nil, false
	}
	if len(answered) > 0 {
		changed = slices.Compact(slices.Sorted(slices.Values(append(slices.Clip(changed), answered...))))
	}
	if len(changed) > len(cfg.Virtuals)/4 {
		return nil, nil, false
	}
	for _, i := range changed {
		if inTable(&prev.Virtuals[i]) != inTable(&cfg.Virtuals[i]) {
			return nil, nil, false
		}
	}
	// The table's services in configuration order: the k-th service is
	// that of the k-th virtual server in the table.
	t := &Table{Timeouts: timeoutsOf(cfg), Services: slices.Clone(last.want.Services)}
	m.gen++
	var events []event
	var up []ipvs.DestKey
	ci := 0 // next of changed
	k := 0  // the service of virtual server i
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		if !inTable(vs) {
			if ci < len(changed) && changed[ci] == i {
				ci++
			}
			continue
		}
		if ci < len(changed) && changed[ci] == i {
			ci++
			s := &Service{Dests: make([]ipvs.Destination, 0, len(vs.Reals))}
			events, up = desiredService(cfg, vs, health, m, s, events, up)
			t.Services[k] = s
		} else {
			m.keep(vs.Name)
		}
		k++
	}
	m.forget()
	return t, events, true
}

// fullWeigher is a Health that knows what an up server counts towards its
// quorum: the weight a check set (keepalived's misc_dynamic,
// program_weight), before any slow start; nothing while its agent drains
// it.
type fullWeigher interface {
	FullWeight(vs *config.VirtualServer, rs *config.RealServer) int64
}

// quorumWeight is what up real server rs counts towards vs's quorum: its
// weight, or the one its check set, as keepalived counts effective
// weights; never a slow start's, which would keep the sorry server in
// while servers that are up ramp up.
func quorumWeight(health Weigher, vs *config.VirtualServer, rs *config.RealServer) int64 {
	if fw, ok := health.(fullWeigher); ok && (vs.ProgramWeight || vs.LoadMonitor == "agent") {
		return fw.FullWeight(vs, rs)
	}
	return rs.Weight
}

// keep marks what m knows of virtual server name seen in this generation,
// as desired would with the same configuration and answers (desiredAgain).
func (m *memory) keep(name string) {
	v := m.virtual(name)
	for i := range v.reals {
		v.reals[i].gen = m.gen
	}
	v.seen = len(v.reals)
}

// virtual returns what m knows of vs's real servers, marked seen.
func (m *memory) virtual(name string) *realsSeen {
	v := m.up[name]
	if v == nil {
		v = &realsSeen{}
		m.up[name] = v
	}
	v.gen = m.gen
	return v
}

// server records whether real server rs, the j-th of vs, is up, and adds
// the program its transition runs: notify_up when it comes up (also the
// first time, as it enters the table), notify_down when it goes down
// after being up.
func (v *realsSeen) server(events []event, gen uint64, j int, vs *config.VirtualServer, rs *config.RealServer, up bool) []event {
	i := j
	if i >= len(v.reals) || v.reals[i].name != rs.Name {
		i = slices.IndexFunc(v.reals, func(s seen) bool { return s.name == rs.Name })
		if i < 0 {
			v.reals = append(v.reals, seen{name: rs.Name})
			i = len(v.reals) - 1
		}
		if j < len(v.reals) {
			// In the configuration's place, to be found there next time.
			v.reals[i], v.reals[j] = v.reals[j], v.reals[i]
			i = j
		}
	}
	sn := &v.reals[i]
	known := sn.gen != 0
	was := sn.up
	if sn.gen != gen {
		v.seen++
	}
	sn.up, sn.gen = up, gen
	switch {
	case up && (!known || !was):
		return append(events, event{Field: "notify_up", Virtual: vs.Name, Real: rs.Name, Command: rs.NotifyUp, Detail: "up"})
	case !up && known && was:
		return append(events, event{Field: "notify_down", Virtual: vs.Name, Real: rs.Name, Command: rs.NotifyDown, Detail: "down"})
	}
	return events
}

// quorumEvent adds the program of vs's quorum going from was to now:
// quorum_up when gained, quorum_down when lost, also at the first
// decision (keepalived's "starting with quorum down"); a first decision
// that has the quorum runs nothing, as in keepalived.
func quorumEvent(events []event, vs *config.VirtualServer, was, now quorumState, sum int64) []event {
	detail := fmt.Sprintf("weight %d of quorum %d, hysteresis %d", sum, vs.EffectiveQuorum(), vs.Hysteresis)
	switch {
	case now == quorumLost:
		return append(events, event{Field: "quorum_down", Virtual: vs.Name, Command: vs.QuorumDown, Detail: "lost: " + detail})
	case now == quorumHeld && was == quorumLost:
		return append(events, event{Field: "quorum_up", Virtual: vs.Name, Command: vs.QuorumUp, Detail: "gained: " + detail})
	}
	return events
}

// forget drops what m remembers of servers not seen in this generation.
func (m *memory) forget() {
	for n, v := range m.up {
		if v.gen != m.gen {
			delete(m.up, n)
			continue
		}
		if v.seen != len(v.reals) {
			v.reals = slices.DeleteFunc(v.reals, func(s seen) bool { return s.gen != m.gen })
		}
		v.seen = 0
	}
	for n := range m.quorum {
		if m.up[n] == nil {
			delete(m.quorum, n)
		}
	}
}

// destPort is the port of rs's destination in vs's service.
func destPort(vs *config.VirtualServer, rs *config.RealServer) uint16 {
	if vs.IsFWMark() {
		// A firewall-mark service's port is only where checks go; its
		// destinations keep the packet's port unless they name one.
		return uint16(rs.Port)
	}
	return uint16(rs.EffectivePort(vs))
}

func usable(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

func family(a netip.Addr) uint16 {
	if a.Is4() {
		return ipvs.FamilyIPv4
	}
	return ipvs.FamilyIPv6
}

// serviceOf maps a virtual server to its IPVS service.
func serviceOf(vs *config.VirtualServer) ipvs.Service {
	s := ipvs.Service{Scheduler: vs.Scheduler}
	s.Family = family(vs.Address)
	if vs.IsFWMark() {
		s.FWMark = uint32(vs.FWMark)
	} else {
		s.Protocol = protocol(vs.Protocol)
		s.Addr = vs.Address
		s.Port = uint16(vs.Port)
	}
	if vs.Persistence > 0 {
		s.Flags |= ipvs.FlagPersistent
		s.Timeout = uint32(vs.Persistence)
	}
	if vs.OnePacket {
		s.Flags |= ipvs.FlagOnePacket
	}
	if vs.SchedFallback {
		s.Flags |= ipvs.FlagSched1
	}
	if vs.SchedPort {
		s.Flags |= ipvs.FlagSched2
	}
	s.Netmask = netmask(vs.PersistenceNetmask, s.Family)
	return s
}

// netmask is the kernel's persistence granularity: an IPv4 mask as a
// number, an IPv6 prefix length; unset means one client per entry.
func netmask(m config.Netmask, fam uint16) uint32 {
	bits := m.Bits()
	if fam == ipvs.FamilyIPv6 {
		if !m.IsSet() {
			return 128
		}
		return uint32(bits)
	}
	if !m.IsSet() {
		bits = 32
	}
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - uint(bits))
}

func protocol(p config.Protocol) ipvs.Protocol {
	switch p {
	case config.UDP:
		return ipvs.UDP
	case config.SCTP:
		return ipvs.SCTP
	}
	return ipvs.TCP
}

func forward(f config.Forward) ipvs.Forward {
	switch f {
	case config.NAT:
		return ipvs.Masquerade
	case config.Tunnel:
		return ipvs.Tunnel
	}
	return ipvs.DirectRoute
}

func destination(addr netip.Addr, port uint16, fwd config.Forward, weight int32, upper, lower int64) ipvs.Destination {
	return ipvs.Destination{
		Addr: addr, Port: port, Family: family(addr), Forward: forward(fwd), Weight: weight,
		UpperThreshold: uint32(upper), LowerThreshold: uint32(lower),
	}
}

// keyText is the canonical text of a service key, as the ownership ledger
// records it.
func keyText(k ipvs.ServiceKey) string {
	// Without fmt: a reconcile of 10,000 services asks for 30,000.
	var b [64]byte
	out := b[:0]
	if k.FWMark != 0 {
		out = append(out, "fwm/"...)
		out = strconv.AppendUint(out, uint64(k.Family), 10)
		out = append(out, '/')
		return string(strconv.AppendUint(out, uint64(k.FWMark), 10))
	}
	out = strconv.AppendUint(out, uint64(k.Protocol), 10)
	out = append(out, '/')
	if !k.Addr.IsValid() {
		return string(out) + netip.AddrPortFrom(k.Addr, k.Port).String() // "invalid AddrPort", which AppendTo leaves out
	}
	return string(netip.AddrPortFrom(k.Addr, k.Port).AppendTo(out))
}

// sortDests orders destinations by address and port, for stable output.
func sortDests(ds []ipvs.Destination) {
	slices.SortFunc(ds, func(a, b ipvs.Destination) int { return compareDest(a.Key(), b.Key()) })
}

// compareDest is the order of sortDests: by address, then port.
func compareDest(a, b ipvs.DestKey) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return int(a.Port) - int(b.Port)
}

// Where returns the keys of real server rs of vs in IPVS: its service's
// and its destination's, as Desired programs them.
func Where(vs *config.VirtualServer, rs *config.RealServer) (ipvs.ServiceKey, ipvs.DestKey) {
	return serviceOf(vs).ServiceKey, ipvs.DestKey{Addr: rs.Address, Port: destPort(vs, rs)}
}
