package failover_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/netif"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
)

// The fakes of the host a Director changes: its addresses and links, the
// kernel's IPVS sync daemon and the heartbeat. Each records what it is
// asked to do in one journal, in order, so that a test can assert what
// happened and in which order; none needs root.

// journal is what the fakes did, in order.
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
}

// all returns the entries.
func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// len is how many entries there are: a mark to look from.
func (j *journal) len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.entries)
}

// since returns the entries from mark on that start with prefix.
func (j *journal) since(mark int, prefix string) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, e := range j.entries[mark:] {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// index returns where entry first is from mark on, or -1.
func (j *journal) index(mark int, entry string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if i := slices.Index(j.entries[mark:], entry); i >= 0 {
		return mark + i
	}
	return -1
}

func (j *journal) String() string { return strings.Join(j.all(), "\n") }

// fakeHost is the host's network: its own addresses, the floating
// addresses up, its links, and the forwarding sysctls, as netif shows them.
// It gives the Director Addresses (Open), Announce, WatchLinks and
// Forwarding.
type fakeHost struct {
	j *journal

	mu       sync.Mutex
	own      []netip.Addr          // addresses of the host itself (Has)
	up       map[netip.Prefix]bool // floating addresses up, whatever their device
	links    map[string]bool       // device -> link up; absent: no such device
	forward  map[bool]bool         // IPv4? -> forwarding on
	watchers map[chan<- netif.LinkState]bool
	open     int // handles open
	running  int // Announce and WatchLinks calls in progress
}

func newFakeHost(j *journal, own ...netip.Addr) *fakeHost {
	return &fakeHost{
		j: j, own: own,
		up:       map[netip.Prefix]bool{},
		links:    map[string]bool{"eth0": true, "eth1": true},
		forward:  map[bool]bool{true: true, false: true},
		watchers: map[chan<- netif.LinkState]bool{},
	}
}

// Open is Options.Addresses.
func (h *fakeHost) Open() (failover.Addresses, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.open++
	return &fakeHandle{h: h}, nil
}

// fakeHandle is one open handle of a fakeHost.
type fakeHandle struct {
	h      *fakeHost
	closed bool
}

func (f *fakeHandle) Add(ctx context.Context, a netif.Addr) error {
	h := f.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.links[a.Device]; !ok {
		return fmt.Errorf("netif: add %s: %w", a, netif.ErrNoDevice)
	}
	h.up[a.Prefix] = true
	h.j.add("add %s", a)
	return nil
}

func (f *fakeHandle) Del(ctx context.Context, a netif.Addr) error {
	h := f.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.links[a.Device]; !ok {
		return fmt.Errorf("netif: delete %s: %w", a, netif.ErrNoDevice)
	}
	delete(h.up, a.Prefix)
	h.j.add("del %s", a)
	return nil
}

func (f *fakeHandle) Has(ctx context.Context, ip netip.Addr) (bool, error) {
	h := f.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if slices.Contains(h.own, ip) {
		return true, nil
	}
	for p := range h.up {
		if p.Addr() == ip {
			return true, nil
		}
	}
	return false, nil
}

func (f *fakeHandle) Link(ctx context.Context, device string) (netif.LinkState, error) {
	h := f.h
	h.mu.Lock()
	defer h.mu.Unlock()
	up, ok := h.links[device]
	return netif.LinkState{Device: device, Exists: ok, Up: ok && up}, nil
}

func (f *fakeHandle) Close() error {
	h := f.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if f.closed {
		return errors.New("closed twice")
	}
	f.closed = true
	h.open--
	return nil
}

// Announce is Options.Announce. An address that is not up is announced
// all the same, as a gratuitous ARP is (it would draw the address's
// traffic to this director), and noted.
func (h *fakeHost) Announce(ctx context.Context, device string, ip netip.Addr) error {
	h.enter()
	defer h.leave()
	h.mu.Lock()
	up := false
	for p := range h.up {
		up = up || p.Addr() == ip
	}
	h.mu.Unlock()
	if !up {
		h.j.add("announce %s on %s while it is not up", ip, device)
		return nil
	}
	h.j.add("announce %s on %s", ip, device)
	return nil
}

// WatchLinks is Options.WatchLinks: it sends what setLink changes.
func (h *fakeHost) WatchLinks(ctx context.Context, ch chan<- netif.LinkState) error {
	h.enter()
	defer h.leave()
	h.mu.Lock()
	h.watchers[ch] = true
	h.mu.Unlock()
	h.j.add("watch links")
	<-ctx.Done()
	h.mu.Lock()
	delete(h.watchers, ch)
	h.mu.Unlock()
	return nil
}

// Forwarding is Options.Forwarding.
func (h *fakeHost) Forwarding(ip netip.Addr) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.forward[ip.Is4()], nil
}

func (h *fakeHost) enter() {
	h.mu.Lock()
	h.running++
	h.mu.Unlock()
}

func (h *fakeHost) leave() {
	h.mu.Lock()
	h.running--
	h.mu.Unlock()
}

// busy returns how many Announce and WatchLinks calls are in progress
// and how many handles are open.
func (h *fakeHost) busy() (running, open int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.running, h.open
}

// isUp says whether p is up.
func (h *fakeHost) isUp(p string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up[netip.MustParsePrefix(p)]
}

// bringUp puts p up, as a director killed while active leaves it.
func (h *fakeHost) bringUp(p string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.up[netip.MustParsePrefix(p)] = true
}

// watching says whether a WatchLinks call runs.
func (h *fakeHost) watching() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers) > 0
}

// setLink changes device's link and tells the watchers.
func (h *fakeHost) setLink(device string, up bool) {
	h.mu.Lock()
	h.links[device] = up
	var ws []chan<- netif.LinkState
	for w := range h.watchers {
		ws = append(ws, w)
	}
	h.mu.Unlock()
	for _, w := range ws {
		w <- netif.LinkState{Device: device, Exists: true, Up: up}
	}
}

func (h *fakeHost) setForwarding(v4, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forward[v4] = on
}

// fakeIPVS is the kernel's IPVS as far as the sync daemon goes: it runs at
// most one master and one backup, as the kernel does.
type fakeIPVS struct {
	j *journal

	mu      sync.Mutex
	daemons map[ipvs.DaemonState]ipvs.Daemon
	open    int
	err     error // what Dial returns, when set
}

func newFakeIPVS(j *journal) *fakeIPVS {
	return &fakeIPVS{j: j, daemons: map[ipvs.DaemonState]ipvs.Daemon{}}
}

// Dial is Options.SyncDaemon.
func (k *fakeIPVS) Dial() (failover.SyncDaemon, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return nil, k.err
	}
	k.open++
	return &fakeIPVSConn{k: k}, nil
}

type fakeIPVSConn struct {
	k      *fakeIPVS
	closed bool
}

func (c *fakeIPVSConn) Daemons(ctx context.Context) ([]ipvs.Daemon, error) {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	var out []ipvs.Daemon
	for _, s := range []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup} {
		if d, ok := c.k.daemons[s]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

func (c *fakeIPVSConn) StartDaemon(ctx context.Context, d ipvs.Daemon) error {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	if _, ok := c.k.daemons[d.State]; ok {
		return fmt.Errorf("a %s sync daemon runs already", d.State)
	}
	c.k.daemons[d.State] = d
	c.k.j.add("syncd start %s on %s id %d", d.State, d.Interface, d.SyncID)
	return nil
}

func (c *fakeIPVSConn) StopDaemon(ctx context.Context, s ipvs.DaemonState) error {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	if _, ok := c.k.daemons[s]; !ok {
		return fmt.Errorf("no %s sync daemon runs", s)
	}
	delete(c.k.daemons, s)
	c.k.j.add("syncd stop %s", s)
	return nil
}

func (c *fakeIPVSConn) Close() error {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	if c.closed {
		return errors.New("closed twice")
	}
	c.closed = true
	c.k.open--
	return nil
}

// running returns the daemons that run, as "state on iface".
func (k *fakeIPVS) running() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, d := range k.daemons {
		out = append(out, d.State.String()+" on "+d.Interface)
	}
	slices.Sort(out)
	return out
}

func (k *fakeIPVS) conns() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.open
}

// fakePulse makes fakeHeartbeats (Options.Heartbeat) and keeps the last.
type fakePulse struct {
	j *journal

	mu   sync.Mutex
	last *fakeHeartbeat
	made int
}

// New is Options.Heartbeat.
func (p *fakePulse) New(s pulse.Settings) (failover.Heartbeat, error) {
	hb := &fakeHeartbeat{j: p.j, settings: s, changes: make(chan struct{}, 1), link: true}
	hb.st.Reason = "not running"
	hb.st.Peer.Addr = s.Peer
	p.mu.Lock()
	p.last = hb
	p.made++
	p.mu.Unlock()
	p.j.add("heartbeat new: self %s peer %s primary %v", s.Self, s.Peer, s.Primary)
	return hb, nil
}

// node returns the last heartbeat made, or nil.
func (p *fakePulse) node() *fakeHeartbeat {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// fakeHeartbeat is a heartbeat whose decisions the test makes (pulse's
// own are tested in lvs/pulse): set says what pulse would.
type fakeHeartbeat struct {
	j       *journal
	changes chan struct{}

	mu       sync.Mutex
	settings pulse.Settings
	st       pulse.Status
	serial   int64
	link     bool
	running  bool
}

func (h *fakeHeartbeat) Run(ctx context.Context) error {
	h.mu.Lock()
	h.running = true
	h.mu.Unlock()
	h.j.add("heartbeat run")
	<-ctx.Done()
	h.mu.Lock()
	h.running = false
	h.st.Decided, h.st.Role = false, pulse.Standby
	h.mu.Unlock()
	h.j.add("heartbeat goodbye")
	return nil
}

func (h *fakeHeartbeat) Status() pulse.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st
}

func (h *fakeHeartbeat) Changes() <-chan struct{} { return h.changes }

func (h *fakeHeartbeat) Configure(s pulse.Settings) error {
	h.mu.Lock()
	h.settings = s
	h.mu.Unlock()
	h.j.add("heartbeat configure")
	return nil
}

func (h *fakeHeartbeat) SetSerial(serial int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.serial = serial
}

func (h *fakeHeartbeat) SetLink(ok bool) {
	h.mu.Lock()
	changed := ok != h.link
	h.link = ok
	h.mu.Unlock()
	if changed {
		h.j.add("heartbeat link %v", ok)
	}
}

// set changes the status as pulse would, and signals it.
func (h *fakeHeartbeat) set(f func(st *pulse.Status)) {
	h.mu.Lock()
	f(&h.st)
	h.mu.Unlock()
	select {
	case h.changes <- struct{}{}:
	default:
	}
}

// decide makes the heartbeat decide role, with the peer heard in peerRole.
func (h *fakeHeartbeat) decide(role, peerRole pulse.Role, peerSerial int64) {
	h.set(func(st *pulse.Status) {
		st.Decided, st.Role, st.Reason = true, role, "the test says so"
		st.Peer.Heard, st.Peer.Role, st.Peer.Serial = true, peerRole, peerSerial
	})
}

// current returns the settings it was made or last configured with.
func (h *fakeHeartbeat) current() pulse.Settings {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.settings
}

func (h *fakeHeartbeat) state() (serial int64, link, running bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.serial, h.link, h.running
}
