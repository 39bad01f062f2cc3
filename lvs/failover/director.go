// Package failover makes a director what pulse decides it is. With a backup
// configured, pulse (lvs/pulse) decides whether this director is active or
// standby; the Director brings the virtual IP addresses up or down
// (lvs/netif), announces them to the LAN, moves the IPVS connection sync
// daemon between master and backup, runs active_cmd or inactive_cmd, and
// keeps the standby's configuration the same as the active's. Without a
// backup the director is simply active.
//
// Both directors keep their IPVS tables programmed and checked all the time
// (the engine does that whatever the role), so a takeover moves addresses,
// not the table.
//
// A Director reaches the host only through what its Options give it
// (Source, Addresses, SyncDaemon, Heartbeat and netif's functions), so that
// its logic is tested with fakes, without root; the pair tests run it in
// real processes in network namespaces.
package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/netif"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

// Role of this director.
type Role string

const (
	Starting Role = "starting" // a pair member that has not decided yet: it leaves things as they are
	Active   Role = "active"
	Standby  Role = "standby"
	// Cluster: the configuration is in cluster mode (issue 19): every
	// director is active and lvs/cluster runs it (VIPs on the loopback,
	// announced over BGP); failover stands aside: no heartbeat, no VIPs
	// on devices, no gratuitous ARP.
	Cluster Role = "cluster"
)

// Source is where a Director reads the configuration and the peer secret,
// and saves the configuration it takes from the peer; *store.Store
// provides it.
type Source interface {
	Config(ctx context.Context) (*config.Config, error)
	// Subscribe signals changes of the configuration and of the secret.
	Subscribe() (<-chan struct{}, func())
	// PeerSecret returns store.ErrNoSecret when none is set.
	PeerSecret(ctx context.Context) ([]byte, time.Time, error)
	// Adopt saves cfg whole at its own serial, or returns store.ErrStale
	// when that is not ahead of the current one.
	Adopt(ctx context.Context, ch store.Change, cfg *config.Config) (*config.Config, error)
	// AdoptAccounts makes this director's console users and API tokens
	// the active director's, and says what changed.
	AdoptAccounts(ctx context.Context, a store.Accounts) (store.AccountChanges, error)
}

// Addresses are the host's addresses and links; *netif.Handle provides
// them.
type Addresses interface {
	// Add brings a up; an address already up is no error.
	Add(ctx context.Context, a netif.Addr) error
	// Del takes a down; an absent address is no error, and a missing
	// device is netif.ErrNoDevice.
	Del(ctx context.Context, a netif.Addr) error
	// Has says whether ip is on one of the host's devices.
	Has(ctx context.Context, ip netip.Addr) (bool, error)
	Link(ctx context.Context, device string) (netif.LinkState, error)
	Close() error
}

// SyncDaemon is the kernel's IPVS connection sync daemon; *ipvs.Client
// provides it.
type SyncDaemon interface {
	Daemons(ctx context.Context) ([]ipvs.Daemon, error)
	StartDaemon(ctx context.Context, d ipvs.Daemon) error
	StopDaemon(ctx context.Context, state ipvs.DaemonState) error
	Close() error
}

// Heartbeat is the heartbeat with the peer director, which decides which of
// the two is active; *pulse.Node provides it.
type Heartbeat interface {
	// Run runs the heartbeat until ctx ends, then says goodbye to the
	// peer, so that it takes over at once.
	Run(ctx context.Context) error
	Status() pulse.Status
	// Changes is signalled when Status changes.
	Changes() <-chan struct{}
	Configure(s pulse.Settings) error
	SetSerial(serial int64)
	SetLink(ok bool)
}

// Options configure a Director. Source and the functions that reach the
// host (Addresses to Heartbeat) are required: a test that forgets one
// gets an error from Run rather than a change to its machine's network.
type Options struct {
	Source Source
	// Addresses opens the host's addresses for one Run (netif.Open); Run
	// closes them.
	Addresses func() (Addresses, error)
	// Announce tells the LAN that ip is now on device (netif.Announce).
	Announce func(ctx context.Context, device string, ip netip.Addr) error
	// WatchLinks sends the state of links as they change, until ctx ends
	// (netif.WatchLinks).
	WatchLinks func(ctx context.Context, ch chan<- netif.LinkState) error
	// Forwarding says whether the kernel forwards ip's family
	// (netif.Forwarding).
	Forwarding func(ip netip.Addr) (bool, error)
	// SyncDaemon opens the kernel's IPVS to move its connection sync
	// daemon (ipvs.Dial), once per move: a kernel that gains IPVS later
	// is noticed.
	SyncDaemon func() (SyncDaemon, error)
	// Heartbeat makes the heartbeat for s (pulse.New).
	Heartbeat func(s pulse.Settings) (Heartbeat, error)

	Log *slog.Logger
	// ConsolePort is the port of this director's console, told to the peer
	// for configuration sync and for the standby's link to the active.
	ConsolePort uint16
	// ConsolePin returns the SHA-256 of the certificate this director's
	// console serves, told to the peer, whose configuration sync requires
	// it of the connection (zero, or nil: the console serves plain HTTP).
	ConsolePin func() [32]byte
	// ConsolePinChanges is signalled when ConsolePin's answer changes (a
	// certificate reloaded): the heartbeat then carries the new one.
	ConsolePinChanges <-chan struct{}
	// Announcements: how many gratuitous ARPs (or neighbour
	// advertisements) per address on becoming active, and how far apart;
	// zero values take piranha's 5, 1 s apart.
	Announcements  int
	AnnounceEvery  time.Duration
	CommandTimeout time.Duration // of active_cmd and inactive_cmd; 0 = 30 s
	// AccountsEvery is how often the standby takes the active's users and
	// API tokens (besides with each configuration sync); 0 = 5 s.
	AccountsEvery time.Duration
}

// missing names the required options o lacks.
func (o *Options) missing() []string {
	var m []string
	for _, f := range []struct {
		name   string
		absent bool
	}{
		{"Source", o.Source == nil},
		{"Addresses", o.Addresses == nil},
		{"Announce", o.Announce == nil},
		{"WatchLinks", o.WatchLinks == nil},
		{"Forwarding", o.Forwarding == nil},
		{"SyncDaemon", o.SyncDaemon == nil},
		{"Heartbeat", o.Heartbeat == nil},
	} {
		if f.absent {
			m = append(m, f.name)
		}
	}
	return m
}

// Status is what the console shows of failover.
type Status struct {
	Pair    bool // a backup director is configured, with heartbeat on
	Role    Role
	Since   time.Time
	Reason  string
	Primary bool       // this director holds the primary address
	Self    netip.Addr // this director's public address
	Serial  int64      // this director's configuration serial
	Pulse   pulse.Status
	// PeerConsole is the peer's console URL, when known.
	PeerConsole string
	// InSync says both directors have the same configuration serial.
	InSync   bool
	VIPs     []string // addresses this director has up
	Warnings []string
	LastSync time.Time // when the configuration was last taken from the peer
	// LastAccounts is when the users and API tokens were last taken from
	// the peer.
	LastAccounts time.Time
}

// Director runs failover for one director; see the package comment.
type Director struct {
	o   Options
	log *slog.Logger

	mu     sync.Mutex
	status Status
	events []Event             // role changes, newest last, at most maxEvents
	node   Heartbeat           // the heartbeat while one runs, for a live Status
	up     map[netif.Addr]bool // VIPs we brought up
	warn   map[string]string   // by topic
	wake   chan struct{}
}

// New returns a Director; Run runs it.
func New(o Options) *Director {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Announcements == 0 {
		o.Announcements = 5
	}
	if o.AnnounceEvery == 0 {
		o.AnnounceEvery = time.Second
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = 30 * time.Second
	}
	if o.AccountsEvery <= 0 {
		o.AccountsEvery = accountsEvery
	}
	return &Director{
		o:      o,
		log:    o.Log.With("part", "failover"),
		status: Status{Role: Starting, Since: time.Now()},
		up:     map[netif.Addr]bool{},
		warn:   map[string]string{},
		wake:   make(chan struct{}, 1),
	}
}

// Event is a change of this director's role.
type Event struct {
	When     time.Time
	From, To Role
	Reason   string
}

// maxEvents bounds the role changes kept.
const maxEvents = 100

// Events returns the last n role changes, newest first.
func (d *Director) Events(n int) []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Event
	for i := len(d.events) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, d.events[i])
	}
	return out
}

// Status returns the current state.
func (d *Director) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.status
	if d.node != nil {
		// Read live, not kept: the heartbeat's age and counters move with
		// every heartbeat, not only when pulse reports a change.
		st.Pulse = d.node.Status()
		p := st.Pulse.Peer
		st.InSync = p.Heard && p.Serial == st.Serial
		if p.Console != 0 && p.Addr.IsValid() {
			st.PeerConsole = consoleURL(p.Addr, p.Console, p.ConsolePin)
		}
	}
	st.VIPs = nil
	for a := range d.up {
		st.VIPs = append(st.VIPs, a.String())
	}
	slices.Sort(st.VIPs)
	st.Warnings = nil
	for _, w := range d.warn {
		st.Warnings = append(st.Warnings, w)
	}
	slices.Sort(st.Warnings)
	return st
}

// Changes is signalled when Status changes.
func (d *Director) Changes() <-chan struct{} { return d.wake }

func (d *Director) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Director) setWarning(topic, msg string) {
	d.mu.Lock()
	old := d.warn[topic]
	if msg == "" {
		delete(d.warn, topic)
	} else {
		d.warn[topic] = msg
	}
	d.mu.Unlock()
	if msg != old {
		if msg != "" {
			d.log.Warn(msg, "topic", topic)
		}
		d.signal()
	}
}

// plan is what a configuration asks of failover.
type plan struct {
	pair     bool
	settings pulse.Settings
	vips     []netif.Addr
	devices  []string // devices whose links matter (monitor_links)
	monitor  bool
	sync     *ipvs.Daemon // nil: no sync daemon
	active   []string     // active_cmd argv
	inactive []string
	nat      bool
}

// Run runs failover until ctx ends; then, if it was active, it stands
// down (the peer, told by the heartbeat's goodbye, takes over at once).
// It returns once everything it started has ended.
func (d *Director) Run(ctx context.Context) error {
	if m := d.o.missing(); len(m) > 0 {
		return fmt.Errorf("failover: the options lack %s", strings.Join(m, ", "))
	}
	h, err := d.o.Addresses()
	if err != nil {
		return fmt.Errorf("failover: %w", err)
	}
	defer h.Close()
	cmds := newCommands(d.log, d.setWarning, d.o.CommandTimeout)
	cctx, killCmds := context.WithCancel(context.Background())
	defer killCmds()
	cmdsDone := make(chan struct{})
	go func() {
		defer close(cmdsDone)
		cmds.run(cctx)
	}()
	r := &run{d: d, h: h, cmds: cmds, role: Starting}
	lctx, cancelLoop := context.WithCancel(ctx)
	defer func() {
		cancelLoop() // a configuration fetch in flight
		// A clean shutdown stands down, whatever ctx says now.
		sctx, cancel := context.WithTimeout(context.Background(), d.o.CommandTimeout+5*time.Second)
		defer cancel()
		r.stop()
		d.mu.Lock()
		vipsUp := len(d.up) > 0
		d.mu.Unlock()
		switch {
		case r.role == Active:
			r.standDown(sctx, "shutting down")
		case vipsUp:
			// pulse's goodbye made the loop stand down with ctx already
			// ended, so the addresses could not be taken down then.
			r.applyVIPs(sctx, nil)
		}
		// inactive_cmd, or a command still running, gets its timeout.
		cmds.close()
		select {
		case <-cmdsDone:
		case <-sctx.Done():
			killCmds()
			<-cmdsDone
		}
		r.tasks.Wait()
	}()
	return r.loop(lctx)
}

// run is the state of one Run.
type run struct {
	d        *Director
	h        Addresses
	role     Role
	cfg      *config.Config
	plan     plan
	key      []byte
	node     Heartbeat
	nodeStop context.CancelFunc
	nodeDone chan struct{}
	links    chan netif.LinkState
	linkStop context.CancelFunc
	linkUp   map[string]bool
	// announcing are the announcements in progress, or done since the
	// last stopAnnouncing.
	announcing []*announcement
	syncing    chan struct{} // a configuration or accounts fetch in flight
	accountsAt time.Time     // when the last accounts fetch started
	cmds       *commands
	// tasks are the announcements, the link watch and the configuration
	// fetch: Run waits for them, so that nothing it started outlives it.
	tasks sync.WaitGroup
}

func (r *run) loop(ctx context.Context) error {
	d := r.d
	changed, unsubscribe := d.o.Source.Subscribe()
	defer unsubscribe()
	if err := r.reload(ctx); err != nil {
		return err
	}
	// The users and tokens change without the serial: the standby asks
	// for them on this tick, which also retries a fetch that another in
	// flight held back.
	tick := time.NewTicker(d.o.AccountsEvery)
	defer tick.Stop()
	for {
		var pulseChanges <-chan struct{}
		if r.node != nil {
			pulseChanges = r.node.Changes()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if r.node != nil {
				r.syncConfig(ctx, r.node.Status())
			}
		case <-changed:
			if err := r.reload(ctx); err != nil {
				d.log.Error("failover: reloading the configuration", "err", err)
			}
		case <-pulseChanges:
			r.follow(ctx)
		case <-d.o.ConsolePinChanges:
			if err := r.reload(ctx); err != nil {
				d.log.Error("failover: reloading the configuration", "err", err)
			}
		case ls := <-r.links:
			r.link(ls)
		}
	}
}

// reload reads the configuration and the secret and adapts to them.
func (r *run) reload(ctx context.Context) error {
	d := r.d
	cfg, err := d.o.Source.Config(ctx)
	if err != nil {
		return fmt.Errorf("failover: reading the configuration: %w", err)
	}
	key, _, err := d.o.Source.PeerSecret(ctx)
	if err != nil && !errors.Is(err, store.ErrNoSecret) {
		return fmt.Errorf("failover: %w", err)
	}
	primary := false
	if cfg.Global.Primary.IsValid() && !cfg.Global.Primary.IsUnspecified() {
		if primary, err = r.h.Has(ctx, cfg.Global.Primary); err != nil {
			return fmt.Errorf("failover: is this the primary director: %w", err)
		}
	}
	p := makePlan(cfg, primary, key, d.o.ConsolePort)
	if d.o.ConsolePin != nil {
		p.settings.ConsolePin = d.o.ConsolePin()
	}
	r.cfg, r.key = cfg, key
	d.mu.Lock()
	d.status.Pair, d.status.Primary, d.status.Serial = p.pair, primary, cfg.Serial
	d.status.Self = p.settings.Self
	d.mu.Unlock()
	r.checkForwarding(p)

	if cfg.Redundancy.Cluster {
		// Only the addresses this director put up as a pair's active go
		// (not every configured one: lvs/cluster's are on the loopback,
		// where a VIP's device may say too).
		p.pair, p.vips = false, nil
		r.stopNode()
		r.plan = p
		d.setWarning("secret", "")
		r.setRole(ctx, Cluster, "cluster mode: every director is active, and announces the VIPs over BGP")
		r.clusterSyncDaemons(ctx)
		return nil
	}
	if p.pair && len(key) == 0 {
		d.setWarning("secret", "a backup director is configured but no peer secret is set: heartbeats cannot be authenticated, so this director stays as it is; set the same secret on both (REDUNDANCY tab)")
		p.pair = false
		r.stopNode()
		r.plan = p
		if r.role == Starting {
			d.mu.Lock()
			d.status.Reason = "no peer secret"
			d.mu.Unlock()
		}
		r.setRole(ctx, Starting, "no peer secret")
		return nil
	}
	d.setWarning("secret", "")

	old := r.plan
	r.plan = p
	r.watchLinks(ctx, p)
	switch {
	case !p.pair:
		r.stopNode()
		r.setRole(ctx, Active, "no backup director: this one is active")
	case r.node == nil:
		if err := r.startNode(ctx, p.settings); err != nil {
			d.setWarning("pulse", err.Error())
			return nil
		}
		d.setWarning("pulse", "")
	default:
		if err := r.node.Configure(p.settings); err != nil {
			d.setWarning("pulse", "heartbeat settings refused: "+err.Error())
		} else {
			d.setWarning("pulse", "")
		}
	}
	if r.node != nil {
		r.node.SetSerial(cfg.Serial)
		r.node.SetLink(r.linksOK())
	}
	// The addresses follow the configuration while active.
	if r.role == Active && !slices.Equal(old.vips, p.vips) {
		r.applyVIPs(ctx, p.vips)
	}
	r.follow(ctx)
	return nil
}

func (r *run) startNode(ctx context.Context, s pulse.Settings) error {
	n, err := r.d.o.Heartbeat(s)
	if err != nil {
		return fmt.Errorf("heartbeat settings refused: %w", err)
	}
	nctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := n.Run(nctx); err != nil {
			r.d.setWarning("pulse", "heartbeat stopped: "+err.Error())
		}
	}()
	r.node, r.nodeStop, r.nodeDone = n, cancel, done
	r.d.mu.Lock()
	r.d.node = n
	r.d.mu.Unlock()
	return nil
}

// stopNode stops pulse; its goodbye tells the peer to take over.
func (r *run) stopNode() {
	if r.node == nil {
		return
	}
	r.nodeStop()
	<-r.nodeDone
	r.node, r.nodeStop, r.nodeDone = nil, nil, nil
	r.d.mu.Lock()
	r.d.node = nil
	r.d.mu.Unlock()
}

func (r *run) stop() {
	r.stopNode()
	if r.linkStop != nil {
		r.linkStop()
	}
	r.stopAnnouncing()
}

// follow acts on what pulse says.
func (r *run) follow(ctx context.Context) {
	if r.node == nil {
		return
	}
	st := r.node.Status()
	r.d.signal()

	switch {
	case !st.Decided:
		// Leave everything as it is.
	case st.Role == pulse.Active:
		r.setRole(ctx, Active, st.Reason)
	default:
		r.setRole(ctx, Standby, st.Reason)
	}
	r.syncConfig(ctx, st)
}

// setRole moves to role, doing what it takes.
func (r *run) setRole(ctx context.Context, role Role, reason string) {
	if role == r.role {
		return
	}
	d := r.d
	prev := r.role
	r.role = role
	d.mu.Lock()
	d.status.Role, d.status.Since, d.status.Reason = role, time.Now(), reason
	d.events = append(d.events, Event{When: d.status.Since, From: prev, To: role, Reason: reason})
	if len(d.events) > maxEvents {
		d.events = slices.Delete(d.events, 0, len(d.events)-maxEvents)
	}
	d.mu.Unlock()
	d.log.Info("role", "role", string(role), "was", string(prev), "reason", reason)
	switch role {
	case Active:
		r.takeOver(ctx)
	case Standby:
		r.standDown(ctx, reason)
	case Cluster:
		r.applyVIPs(ctx, nil) // those it had as a pair's active
	}
	d.signal()
}

// takeOver: addresses up and announced, sync daemon master, active_cmd.
func (r *run) takeOver(ctx context.Context) {
	r.applyVIPs(ctx, r.plan.vips)
	r.syncDaemon(ctx, ipvs.DaemonMaster)
	r.cmds.want(Active, "active_cmd", r.plan.active)
}

// standDown: the reverse.
func (r *run) standDown(ctx context.Context, reason string) {
	r.applyVIPs(ctx, nil)
	r.syncDaemon(ctx, ipvs.DaemonBackup)
	r.cmds.want(Standby, "inactive_cmd", r.plan.inactive)
}

// applyVIPs makes want the addresses this director has up, and announces
// the new ones.
func (r *run) applyVIPs(ctx context.Context, want []netif.Addr) {
	d := r.d
	d.mu.Lock()
	up := slices.Collect(maps.Keys(d.up))
	d.mu.Unlock()
	drop := toDrop(up, want, r.plan.vips)
	var again []netif.Addr
	if len(drop) > 0 {
		// No address is announced once it went (that would draw its
		// traffic back from the peer that holds it now): the
		// announcements stop first, and those cut short of the addresses
		// that stay start again below.
		for _, a := range r.stopAnnouncing() {
			if slices.Contains(want, a) && !slices.Contains(again, a) {
				again = append(again, a)
			}
		}
	}
	for _, a := range drop {
		// Del is a no-op for an absent address, and a device that does not
		// exist holds none.
		if err := r.h.Del(ctx, a); err != nil && !errors.Is(err, netif.ErrNoDevice) {
			d.setWarning("vip "+a.String(), err.Error())
			continue
		}
		d.setWarning("vip "+a.String(), "")
		d.mu.Lock()
		ours := d.up[a]
		delete(d.up, a)
		d.mu.Unlock()
		if ours {
			d.log.Info("address down", "addr", a.String())
		}
	}
	var added []netif.Addr
	for _, a := range want {
		if err := r.h.Add(ctx, a); err != nil {
			d.setWarning("vip "+a.String(), err.Error())
			continue
		}
		d.setWarning("vip "+a.String(), "")
		d.mu.Lock()
		isNew := !d.up[a]
		d.up[a] = true
		d.mu.Unlock()
		if isNew {
			added = append(added, a)
			d.log.Info("address up", "addr", a.String())
		}
	}
	d.signal()
	for _, a := range again {
		if !slices.Contains(added, a) {
			added = append(added, a)
		}
	}
	if len(added) > 0 {
		r.announceAll(ctx, added)
	}
}

// toDrop returns the addresses to take down, in order, for want to be the
// addresses up: those up (brought up by this process) that want lacks;
// and, when standing down (want empty), every configured one too, up or
// not: a director killed while active left them behind.
func toDrop(up, want, configured []netif.Addr) []netif.Addr {
	var drop []netif.Addr
	for _, a := range up {
		if !slices.Contains(want, a) {
			drop = append(drop, a)
		}
	}
	if len(want) == 0 {
		for _, a := range configured {
			if !slices.Contains(drop, a) {
				drop = append(drop, a)
			}
		}
	}
	slices.SortFunc(drop, compareAddr)
	return drop
}

func compareAddr(a, b netif.Addr) int { return strings.Compare(a.String(), b.String()) }

// announcement is one round of announcements of some addresses.
type announcement struct {
	addrs  []netif.Addr
	cancel context.CancelFunc
	done   chan struct{}
}

// announceAll tells the LAN where added now live: piranha's 5 gratuitous
// ARPs 1 s apart (neighbour advertisements for IPv6); the first at once.
func (r *run) announceAll(ctx context.Context, added []netif.Addr) {
	d := r.d
	actx, cancel := context.WithCancel(ctx)
	an := &announcement{addrs: added, cancel: cancel, done: make(chan struct{})}
	r.announcing = slices.DeleteFunc(r.announcing, (*announcement).finished)
	r.announcing = append(r.announcing, an)
	r.tasks.Go(func() {
		defer close(an.done)
		t := time.NewTicker(d.o.AnnounceEvery)
		defer t.Stop()
		for i := range d.o.Announcements {
			for _, a := range added {
				if actx.Err() != nil {
					return
				}
				if err := d.o.Announce(actx, a.Device, a.Prefix.Addr()); err != nil && actx.Err() == nil {
					d.log.Warn("announcing an address", "addr", a.String(), "err", err)
				} else if i == 0 && err == nil {
					d.log.Info("announced", "addr", a.Prefix.Addr().String(), "device", a.Device)
				}
			}
			if i == d.o.Announcements-1 {
				return
			}
			select {
			case <-actx.Done():
				return
			case <-t.C:
			}
		}
	})
}

func (an *announcement) finished() bool {
	select {
	case <-an.done:
		return true
	default:
		return false
	}
}

// stopAnnouncing stops the announcements, waiting for one in flight, and
// returns the addresses whose announcements it cut short.
func (r *run) stopAnnouncing() []netif.Addr {
	var cut []netif.Addr
	for _, an := range r.announcing {
		if !an.finished() {
			cut = append(cut, an.addrs...)
		}
		an.cancel()
		<-an.done
	}
	r.announcing = nil
	return cut
}

// syncDaemon moves the IPVS connection sync daemon to state, when the
// configuration runs one.
func (r *run) syncDaemon(ctx context.Context, state ipvs.DaemonState) {
	d := r.d
	if r.plan.sync == nil {
		d.setWarning("syncd", "")
		return
	}
	err := func() error {
		c, err := d.o.SyncDaemon()
		if err != nil {
			return err
		}
		defer c.Close()
		want := *r.plan.sync
		want.State = state
		return moveSyncDaemon(ctx, c, want)
	}()
	if err != nil {
		d.setWarning("syncd", fmt.Sprintf("starting the connection sync daemon as %s: %v", state, err))
		return
	}
	d.setWarning("syncd", "")
	d.log.Info("sync daemon", "state", state.String())
}

// clusterSyncDaemons runs the connection sync daemon as master and as
// backup at once, when syncdaemon is on in cluster mode: every director
// sends its connections to the others and takes theirs, so that the one
// that gets a flow after the routers' ECMP moved it knows it (mh and
// sloppy_tcp already pick the same real server; persistence needs this).
func (r *run) clusterSyncDaemons(ctx context.Context) {
	d := r.d
	if r.plan.sync == nil {
		d.setWarning("syncd", "")
		return
	}
	err := func() error {
		c, err := d.o.SyncDaemon()
		if err != nil {
			return err
		}
		defer c.Close()
		running, err := c.Daemons(ctx)
		if err != nil {
			return err
		}
		for _, state := range []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup} {
			want := *r.plan.sync
			want.State = state
			ok := false
			for _, dm := range running {
				if dm.State != state {
					continue
				}
				if dm.Interface == want.Interface && dm.SyncID == want.SyncID {
					ok = true
				} else if err := c.StopDaemon(ctx, state); err != nil {
					return err
				}
			}
			if !ok {
				if err := c.StartDaemon(ctx, want); err != nil {
					return err
				}
			}
		}
		return nil
	}()
	if err != nil {
		d.setWarning("syncd", "running the connection sync daemon as master and backup (cluster mode): "+err.Error())
		return
	}
	d.setWarning("syncd", "")
}

// moveSyncDaemon leaves the kernel running the sync daemon want (its
// State, interface and id), stopping one in the other state: the kernel
// runs at most one master and one backup, and a director runs one of them.
func moveSyncDaemon(ctx context.Context, c SyncDaemon, want ipvs.Daemon) error {
	running, err := c.Daemons(ctx)
	if err != nil {
		return err
	}
	stop, start := daemonMoves(running, want)
	for _, s := range stop {
		if err := c.StopDaemon(ctx, s); err != nil {
			return err
		}
	}
	if !start {
		return nil
	}
	return c.StartDaemon(ctx, want)
}

// daemonMoves decides how to go from the sync daemons running to want
// alone: which to stop (any other), and whether to start want (unless it
// runs).
func daemonMoves(running []ipvs.Daemon, want ipvs.Daemon) (stop []ipvs.DaemonState, start bool) {
	start = true
	for _, dm := range running {
		if dm.State == want.State && dm.Interface == want.Interface && dm.SyncID == want.SyncID {
			start = false
			continue
		}
		stop = append(stop, dm.State)
	}
	return stop, start
}

// watchLinks follows the links of p's devices when monitor_links is on.
func (r *run) watchLinks(ctx context.Context, p plan) {
	if !p.monitor || !p.pair {
		if r.linkStop != nil {
			r.linkStop()
			r.linkStop, r.links = nil, nil
		}
		r.linkUp = nil
		return
	}
	if r.linkStop == nil {
		lctx, cancel := context.WithCancel(ctx)
		ch := make(chan netif.LinkState, 16)
		r.tasks.Go(func() {
			if err := r.d.o.WatchLinks(lctx, ch); err != nil {
				r.d.setWarning("links", "watching the links: "+err.Error())
			}
		})
		r.links, r.linkStop = ch, cancel
	}
	up := map[string]bool{}
	for _, dev := range p.devices {
		ls, err := r.h.Link(ctx, dev)
		up[dev] = err == nil && ls.Up
	}
	r.linkUp = up
	r.reportLinks()
}

func (r *run) link(ls netif.LinkState) {
	if _, watched := r.linkUp[ls.Device]; !watched {
		return
	}
	r.linkUp[ls.Device] = ls.Up
	r.reportLinks()
	if r.node != nil {
		r.node.SetLink(r.linksOK())
	}
}

func (r *run) reportLinks() {
	if down := linksDown(r.linkUp); len(down) > 0 {
		r.d.setWarning("links", "link down on "+strings.Join(down, ", ")+": this director stays standby until it returns")
	} else {
		r.d.setWarning("links", "")
	}
}

func (r *run) linksOK() bool { return len(linksDown(r.linkUp)) == 0 }

// linksDown returns the watched devices whose link is down, sorted.
func linksDown(up map[string]bool) []string {
	var down []string
	for dev, ok := range up {
		if !ok {
			down = append(down, dev)
		}
	}
	slices.Sort(down)
	return down
}

// checkForwarding warns when NAT is used and the kernel does not forward.
func (r *run) checkForwarding(p plan) {
	if !p.nat {
		r.d.setWarning("forwarding", "")
		return
	}
	var off []string
	for _, fam := range []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		if !r.cfg.UsesFamily(fam.Is4()) {
			continue
		}
		on, err := r.d.o.Forwarding(fam)
		if err == nil && !on {
			if fam.Is4() {
				off = append(off, "net.ipv4.ip_forward")
			} else {
				off = append(off, "net.ipv6.conf.all.forwarding")
			}
		}
	}
	if len(off) > 0 {
		r.d.setWarning("forwarding", "NAT forwarding needs "+strings.Join(off, " and ")+" = 1 on this director; it is 0, so replies from the real servers go nowhere")
	} else {
		r.d.setWarning("forwarding", "")
	}
}

// makePlan translates a configuration.
func makePlan(c *config.Config, primary bool, key []byte, console uint16) plan {
	g, rd := &c.Global, &c.Redundancy
	p := plan{pair: rd.BackupActive && rd.Heartbeat, monitor: rd.MonitorLinks}
	s := pulse.Settings{
		Key: key, Primary: primary, Keepalive: rd.Keepalive, Deadtime: rd.Deadtime,
		Preempt: rd.Preempt, PreemptDelay: rd.PreemptDelay, Console: console,
		Port: uint16(rd.HeartbeatPort),
	}
	if primary {
		s.Self, s.Peer, s.PeerPrivate = g.Primary, rd.Backup, rd.BackupPrivate
	} else {
		s.Self, s.Peer, s.PeerPrivate = rd.Backup, g.Primary, g.PrimaryPrivate
	}
	if !s.PeerPrivate.IsValid() || s.PeerPrivate.IsUnspecified() {
		s.PeerPrivate = netip.Addr{}
	}
	any := netip.IPv4Unspecified()
	if s.Self.Is6() {
		any = netip.IPv6Unspecified()
	}
	s.Bind = netip.AddrPortFrom(any, uint16(rd.HeartbeatPort))
	p.settings = s

	devs := map[string]bool{}
	add := func(addr netip.Addr, dev string, mask config.Netmask) {
		if !addr.IsValid() || addr.IsUnspecified() || dev == "" {
			return
		}
		bits := mask.Bits()
		if bits < 0 || bits > addr.BitLen() {
			bits = addr.BitLen()
		}
		device, _, _ := strings.Cut(dev, ":")
		a := netif.Addr{Prefix: netip.PrefixFrom(addr, bits), Device: device}
		if addr.Is4() && dev != device {
			a.Label = dev
		}
		if !slices.Contains(p.vips, a) {
			p.vips = append(p.vips, a)
		}
		devs[device] = true
	}
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		if vs.Active {
			add(vs.Address, vs.Device, vs.Netmask)
		}
		for j := range vs.Reals {
			if vs.Active && vs.Reals[j].Active && cmpForward(vs.Reals[j].Forward, g.Network) == config.NAT {
				p.nat = true
			}
		}
	}
	if g.Network == config.NAT {
		add(g.NATRouter, g.NATRouterDevice, g.NATNetmask)
	}
	slices.SortFunc(p.vips, compareAddr)
	for dev := range devs {
		p.devices = append(p.devices, dev)
	}
	slices.Sort(p.devices)
	if rd.SyncDaemon && rd.SyncIface != "" {
		p.sync = &ipvs.Daemon{Interface: rd.SyncIface, SyncID: uint8(rd.SyncID)}
	}
	p.active, _ = config.SplitArgs(g.ActiveCmd)
	p.inactive, _ = config.SplitArgs(g.InactiveCmd)
	return p
}

func cmpForward(f, def config.Forward) config.Forward {
	if f == "" {
		return def
	}
	return f
}

// consoleURL is the peer's console: over HTTPS when it told its
// certificate's pin.
func consoleURL(addr netip.Addr, port uint16, pin [32]byte) string {
	scheme := "https"
	if pin == ([32]byte{}) {
		scheme = "http"
	}
	return scheme + "://" + netip.AddrPortFrom(addr, port).String()
}
