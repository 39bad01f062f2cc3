package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/bgp"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/netif"
	"github.com/lvsconsole/lvsconsole/store"
)

// catchUp is how long the engine may take to apply a new configuration
// before the director stops announcing (see update).
const catchUp = 10 * time.Second

// restartAfter is how long after a speaker stopped on its own (GoBGP
// refused to start) another is started.
const restartAfter = 5 * time.Second

// Source is where a cluster reads its configuration and the peer secret,
// and saves what it takes from the other directors; *store.Store
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
	// another director's.
	AdoptAccounts(ctx context.Context, a store.Accounts) (store.AccountChanges, error)
}

// Engine is the IPVS engine's state; *engine.Engine provides it.
type Engine interface{ Status() engine.Status }

// Addresses put the VIPs on a device; *netif.Handle provides them.
type Addresses interface {
	// Add brings a up; an address already up is no error.
	Add(ctx context.Context, a netif.Addr) error
	// Del takes a down; an absent address is no error.
	Del(ctx context.Context, a netif.Addr) error
	Close() error
}

// Speaker is a BGP speaker; *bgp.Speaker is one.
type Speaker interface {
	Run(ctx context.Context) error
	Announce(prefixes []netip.Prefix) error
	Shutdown(ctx context.Context, drain time.Duration) error
	Status() bgp.Status
	Changes() <-chan struct{}
}

// Options are a Cluster's parts.
type Options struct {
	Source Source
	Engine Engine
	// Addresses opens the host's addresses (netif.Open).
	Addresses func() (Addresses, error)
	// Sysctl writes a kernel setting, by its path under /proc/sys
	// ("net/ipv4/vs/sloppy_tcp").
	Sysctl func(name, value string) error
	// HostAddrs lists this host's addresses, to find which listed
	// director it is; nil: net.InterfaceAddrs.
	HostAddrs func() ([]netip.Addr, error)
	// NewSpeaker makes a BGP speaker; nil: bgp.New.
	NewSpeaker func(bgp.Config, *slog.Logger) (Speaker, error)
	// Device carries the VIPs; "": the loopback, "lo".
	Device string
	// ConsolePort is this director's console port, which every director
	// of the cluster uses; ConsoleScheme is "https" or "http" (the same
	// on every director).
	ConsolePort   uint16
	ConsoleScheme string
	// PeerURL is the console of the director at addr; nil:
	// ConsoleScheme://addr:ConsolePort. (The sync test maps the listed
	// directors to loopback addresses, which a list refuses.)
	PeerURL func(addr netip.Addr) string
	// Client asks the other directors; nil: one that trusts no
	// certificate and relies on the sealed answers (see newClient).
	Client *http.Client
	// Poll is how often the engine's state is read (1 s), SyncEvery how
	// often the other directors are asked (3 s), AccountsEvery how often
	// the users and tokens are taken (15 s).
	Poll, SyncEvery, AccountsEvery time.Duration
	Log                            *slog.Logger
}

// Cluster runs a director in cluster mode: its VIPs on the loopback, their
// host routes announced over BGP while it can serve them, and the
// configuration synced with the other directors.
type Cluster struct {
	o       Options
	changes chan struct{}

	mu     sync.Mutex
	status Status
}

// New returns a Cluster; Run runs it.
func New(o Options) *Cluster {
	if o.Device == "" {
		o.Device = "lo"
	}
	if o.ConsoleScheme == "" {
		o.ConsoleScheme = "https"
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	if o.SyncEvery == 0 {
		o.SyncEvery = 3 * time.Second
	}
	if o.AccountsEvery == 0 {
		o.AccountsEvery = 15 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.HostAddrs == nil {
		o.HostAddrs = hostAddrs
	}
	if o.NewSpeaker == nil {
		o.NewSpeaker = func(c bgp.Config, l *slog.Logger) (Speaker, error) { return bgp.New(c, l) }
	}
	if o.Client == nil {
		o.Client = newClient()
	}
	if o.PeerURL == nil {
		o.PeerURL = func(a netip.Addr) string {
			return o.ConsoleScheme + "://" + net.JoinHostPort(a.String(), strconv.Itoa(int(o.ConsolePort)))
		}
	}
	return &Cluster{o: o, changes: make(chan struct{}, 1), status: Status{Announced: []netip.Prefix{}, Sessions: []Session{}}}
}

// newClient asks the other directors without checking their
// certificates: no pin is known in a cluster (the pair learns its peer's
// from the signed heartbeat), and none is needed, as in lvs/failover's
// sync: the request is signed with the peer secret and the answer sealed
// for that request only, so that a man in the middle learns nothing and
// can change nothing.
func newClient() *http.Client {
	return &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, // the sealed answer is what is trusted
			MaxIdleConnsPerHost: 2,
		},
	}
}

// Status returns what this director reports now.
func (c *Cluster) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Announced = slices.Clone(s.Announced)
	s.Withheld = slices.Clone(s.Withheld)
	s.Sessions = slices.Clone(s.Sessions)
	s.Directors = slices.Clone(s.Directors)
	s.Warnings = slices.Clone(s.Warnings)
	return s
}

// Changes signals that Status may have changed. Capacity 1, never
// closed.
func (c *Cluster) Changes() <-chan struct{} { return c.changes }

func (c *Cluster) signal() {
	select {
	case c.changes <- struct{}{}:
	default:
	}
}

// run is the state of one Run.
type run struct {
	c   *Cluster
	cfg *config.Config
	key []byte

	self     netip.Addr
	others   []netip.Addr
	routerID netip.Addr
	digest   string

	h         Addresses
	added     map[netif.Addr]bool // the VIPs this run put up
	sloppy    bool                // sloppy_tcp and sloppy_sctp are set
	sp        *speaker
	restartAt time.Time // not before: the speaker stopped on its own
	// behindSince is when the engine was first seen behind the
	// configuration's serial (zero: it is not).
	behindSince time.Time
	draining    bool
	stopped     bool // Run is ending
	decision    Decision

	heard            map[netip.Addr]peerResult // the last answer of each other director
	polling          bool
	accountsAt       time.Time
	fetchingAccounts bool
	conflictAt       int64 // the serial a conflict was settled at
	// pastFrom and pastDigest are the last configuration taken to settle
	// a conflict: not taken twice.
	pastFrom   netip.Addr
	pastDigest string
	accountsCh chan accountsResult
	tasks      sync.WaitGroup
	warnings   map[string]string
}

// speaker is a running Speaker.
type speaker struct {
	sp     Speaker
	cfg    bgp.Config
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// peerResult is what one poll of another director found.
type peerResult struct {
	addr   netip.Addr
	status *Status        // its /peer/v2/cluster answer; nil when not had
	cfg    *config.Config // fetched when it may be taken
	heard  heard
	err    error
	at     time.Time
}

// Run keeps this director's part of the cluster until ctx ends; then it
// stops cleanly: the routes are announced with GRACEFUL_SHUTDOWN, kept for
// the configuration's drain period and withdrawn, and only then the VIPs
// leave the loopback.
func (c *Cluster) Run(ctx context.Context) error {
	changed, unsubscribe := c.o.Source.Subscribe()
	defer unsubscribe()
	r := &run{c: c, added: map[netif.Addr]bool{}, heard: map[netip.Addr]peerResult{}, warnings: map[string]string{},
		accountsCh: make(chan accountsResult, 1)}
	tasks, endTasks := context.WithCancel(ctx)
	defer func() {
		endTasks()
		r.tasks.Wait()
		r.stop(context.WithoutCancel(ctx))
	}()
	r.reload(ctx)
	poll := time.NewTicker(c.o.Poll)
	defer poll.Stop()
	syncTick := time.NewTicker(c.o.SyncEvery)
	defer syncTick.Stop()
	rounds := make(chan []peerResult, 1)
	r.startPoll(tasks, rounds)
	for {
		var spChanges, spDone <-chan struct{}
		if r.sp != nil {
			spChanges, spDone = r.sp.sp.Changes(), r.sp.done
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
			r.reload(ctx)
		case <-poll.C:
			if r.sp == nil && r.on() && time.Now().After(r.restartAt) {
				r.speaker(ctx)
			}
			r.update(ctx)
		case <-spChanges:
			r.update(ctx)
		case <-spDone:
			r.warn("bgp", fmt.Sprintf("the BGP speaker stopped: %v; starting it again in %v", r.sp.err, restartAfter))
			r.sp.cancel()
			r.sp = nil
			r.restartAt = time.Now().Add(restartAfter)
			r.update(ctx)
		case <-syncTick.C:
			r.startPoll(tasks, rounds)
		case res := <-rounds:
			r.polling = false
			r.settle(tasks, res)
		case res := <-r.accountsCh:
			r.adoptAccounts(ctx, res)
		}
	}
}

// warn sets (or with "" clears) the warning on topic.
func (r *run) warn(topic, msg string) {
	if msg == "" {
		delete(r.warnings, topic)
		return
	}
	if r.warnings[topic] != msg {
		r.c.o.Log.Warn("cluster: "+msg, "topic", topic)
	}
	r.warnings[topic] = msg
}

// reload reads the configuration and the secret and adapts to them.
func (r *run) reload(ctx context.Context) {
	cfg, err := r.c.o.Source.Config(ctx)
	if err != nil {
		r.warn("config", "reading the configuration: "+err.Error())
		r.update(ctx)
		return
	}
	r.warn("config", "")
	key, _, err := r.c.o.Source.PeerSecret(ctx)
	if err != nil && !errors.Is(err, store.ErrNoSecret) {
		r.warn("secret", "reading the peer secret: "+err.Error())
	}
	r.cfg, r.key, r.digest = cfg, key, digest(cfg)
	if cfg.Serial > r.conflictAt {
		r.warn("conflict", "") // said until the next change after it
	}
	r.self, r.others, r.routerID = netip.Addr{}, nil, netip.Addr{}
	rd := &cfg.Redundancy
	r.warn("self", "")
	r.warn("secret", "")
	if rd.Cluster {
		dirs, err := rd.Directors()
		if err != nil {
			r.warn("self", "cluster_directors: "+err.Error())
		}
		host, herr := r.c.o.HostAddrs()
		if herr != nil {
			r.warn("self", "reading this host's addresses: "+herr.Error())
		}
		for _, d := range dirs {
			if !r.self.IsValid() && slices.Contains(host, d) {
				r.self = d
			} else {
				r.others = append(r.others, d)
			}
		}
		if !r.self.IsValid() && herr == nil && err == nil {
			r.warn("self", "none of cluster_directors is an address of this host: this director announces nothing and syncs nothing")
		}
		if r.self.IsValid() {
			r.routerID = routerID(r.self)
		}
		if len(key) == 0 && len(r.others) > 0 && r.self.IsValid() {
			r.warn("secret", "no peer secret is set: the directors cannot sync their configuration; set the same one on every director (REDUNDANCY)")
		}
	}
	r.speaker(ctx)
	r.update(ctx)
}

// on says whether this director takes part in a cluster now.
func (r *run) on() bool {
	return !r.stopped && r.cfg != nil && r.cfg.Redundancy.Cluster && r.self.IsValid()
}

// speaker starts, restarts or stops the BGP speaker as the settings say.
func (r *run) speaker(ctx context.Context) {
	var want *bgp.Config
	if r.on() {
		bc, err := speakerConfig(r.cfg, r.routerID)
		if err != nil {
			r.warn("bgp", err.Error())
		} else {
			r.warn("bgp", "")
			want = &bc
		}
	}
	if r.sp != nil && want != nil && reflect.DeepEqual(r.sp.cfg, *want) {
		return
	}
	if r.sp != nil {
		// A change of BGP settings: the sessions close at once, and the
		// routers drop this director's routes until the new sessions
		// are up (the others carry the traffic meanwhile).
		r.c.o.Log.Info("cluster: the BGP settings changed: restarting the speaker")
		r.sp.cancel()
		<-r.sp.done
		r.sp = nil
	}
	if want == nil {
		return
	}
	sp, err := r.c.o.NewSpeaker(*want, r.c.o.Log.With("part", "bgp"))
	if err != nil {
		r.warn("bgp", err.Error())
		return
	}
	// Not ctx: a clean stop drains the routes (Shutdown) before the
	// sessions close.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &speaker{sp: sp, cfg: *want, cancel: cancel, done: make(chan struct{})}
	r.decision = Decision{}
	go func() {
		defer close(s.done)
		s.err = sp.Run(sctx)
	}()
	r.sp = s
}

// speakerConfig is the BGP speaker's settings from the configuration.
func speakerConfig(cfg *config.Config, routerID netip.Addr) (bgp.Config, error) {
	rd := &cfg.Redundancy
	var problems []string
	bc := bgp.Config{RouterID: routerID}
	if rd.BGPAS < 1 || rd.BGPAS > 4294967294 {
		problems = append(problems, fmt.Sprintf("bgp_as %d: want 1 to 4294967294", rd.BGPAS))
	} else {
		bc.AS = uint32(rd.BGPAS)
	}
	peers, err := rd.Peers()
	if err != nil {
		problems = append(problems, "bgp_peers: "+err.Error())
	}
	for _, p := range peers {
		bc.Peers = append(bc.Peers, bgp.Peer{Address: p.Addr, AS: p.AS, Password: rd.BGPPassword, HoldTime: rd.BGPHoldTime})
	}
	comms, err := rd.Communities()
	if err != nil {
		problems = append(problems, "bgp_communities: "+err.Error())
	}
	for _, c := range comms {
		bc.Communities = append(bc.Communities, bgp.Community(c))
	}
	if nh := rd.BGPNextHop.Unmap(); nh.Is4() {
		bc.NextHop = nh
	} else if nh.IsValid() {
		bc.NextHop6 = nh
	}
	if len(problems) > 0 {
		return bc, errors.New("the BGP settings: " + strings.Join(problems, "; "))
	}
	if err := bc.Validate(); err != nil {
		return bc, err
	}
	return bc, nil
}

// routerID is the BGP identifier of the director at self: its address
// when IPv4, else a stable 32-bit hash of it (BGP's identifier is 32
// bits, and only needs to be unique among the routers' peers).
func routerID(self netip.Addr) netip.Addr {
	if self.Is4() {
		return self
	}
	h := fnv.New32a()
	b := self.As16()
	h.Write(b[:])
	n := h.Sum32()
	if n == 0 {
		n = 1
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// update applies the configuration and the engine's state: addresses,
// kernel settings, announcements; and publishes the Status.
func (r *run) update(ctx context.Context) {
	eng := r.c.o.Engine.Status()
	if r.on() && eng.Available && eng.Desired != nil && eng.Serial != r.cfg.Serial {
		// A new configuration (an edit, or one synced to every director
		// at once) takes the engine a moment to apply: meanwhile the
		// table it applies still says who is up. Judging by it for up
		// to catchUp keeps every director from withdrawing every route
		// at the same time; an engine that stays behind is not
		// reconciled.
		if r.behindSince.IsZero() {
			r.behindSince = time.Now()
		}
		if time.Since(r.behindSince) < catchUp {
			eng.Serial = r.cfg.Serial
		}
	} else {
		r.behindSince = time.Time{}
	}
	r.addresses(ctx)
	r.sysctls()
	if r.on() {
		r.decision = Decide(r.cfg, eng, r.draining)
	} else {
		r.decision = Decision{}
	}
	if r.sp != nil && !r.draining {
		if err := r.sp.sp.Announce(r.decision.Announce); err != nil && !errors.Is(err, bgp.ErrShutdown) {
			r.warn("announce", err.Error())
		} else {
			r.warn("announce", "")
		}
	}
	r.publish(eng)
}

// wantAddrs are the VIPs that go on the device: every active virtual
// server's, announced or not (a route the operator sets by hand works
// too), while this director is in the cluster.
func (r *run) wantAddrs() map[netif.Addr]bool {
	want := map[netif.Addr]bool{}
	if !r.on() {
		return want
	}
	for i := range r.cfg.Virtuals {
		vs := &r.cfg.Virtuals[i]
		a := vs.Address.Unmap()
		if vs.Active && a.IsValid() && !a.IsUnspecified() {
			want[netif.Addr{Prefix: netip.PrefixFrom(a, a.BitLen()), Device: r.c.o.Device}] = true
		}
	}
	return want
}

// addresses puts up the VIPs wanted and takes down those this run put up
// that are no longer; failures are tried again at the next update.
func (r *run) addresses(ctx context.Context) {
	want := r.wantAddrs()
	if len(want) == 0 && len(r.added) == 0 {
		return
	}
	if r.h == nil {
		h, err := r.c.o.Addresses()
		if err != nil {
			r.warn("addresses", "opening the host's addresses: "+err.Error())
			return
		}
		r.h = h
	}
	var errs []string
	for _, a := range slices.SortedFunc(maps.Keys(want), cmpAddr) {
		if r.added[a] {
			continue
		}
		if err := r.h.Add(ctx, a); err != nil {
			errs = append(errs, fmt.Sprintf("adding %s: %v", a, err))
			continue
		}
		r.added[a] = true
		r.c.o.Log.Info("cluster: VIP up", "addr", a.String())
	}
	for _, a := range slices.SortedFunc(maps.Keys(r.added), cmpAddr) {
		if want[a] {
			continue
		}
		if err := r.h.Del(ctx, a); err != nil {
			errs = append(errs, fmt.Sprintf("removing %s: %v", a, err))
			continue
		}
		delete(r.added, a)
		r.c.o.Log.Info("cluster: VIP down", "addr", a.String())
	}
	r.warn("addresses", strings.Join(errs, "; "))
}

func cmpAddr(a, b netif.Addr) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) }

// sysctls turns on sloppy_tcp and sloppy_sctp, so that a director takes
// the packets of a connection another director began (after the routers'
// ECMP moved it): without them IPVS drops a mid-flow packet that finds no
// connection. They stay on after cluster mode (harmless for a pair).
func (r *run) sysctls() {
	if !r.on() || r.sloppy || r.c.o.Sysctl == nil {
		return
	}
	var errs []string
	for _, name := range []string{"net/ipv4/vs/sloppy_tcp", "net/ipv4/vs/sloppy_sctp"} {
		if err := r.c.o.Sysctl(name, "1"); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", strings.ReplaceAll(name, "/", "."), err))
		}
	}
	if len(errs) > 0 {
		r.warn("sysctl", "setting "+strings.Join(errs, "; ")+" (flows moved from another director break)")
		return
	}
	r.warn("sysctl", "")
	r.sloppy = true
}

// publish makes the Status.
func (r *run) publish(eng engine.Status) {
	st := Status{
		Enabled:   r.cfg != nil && r.cfg.Redundancy.Cluster,
		Self:      r.self,
		RouterID:  r.routerID,
		Healthy:   r.decision.Reconciled,
		Draining:  r.draining,
		Announced: []netip.Prefix{},
		Withheld:  r.decision.Withheld,
		Sessions:  []Session{},
		Traffic:   trafficOf(eng.Kernel),
		Digest:    r.digest,
		At:        time.Now(),
	}
	if r.cfg != nil {
		st.Serial = r.cfg.Serial
	}
	if r.sp != nil {
		bs := r.sp.sp.Status()
		st.Announced = append(st.Announced, bs.Announced...)
		for _, p := range bs.Peers {
			st.Sessions = append(st.Sessions, Session{Peer: p.Address, AS: p.AS, State: p.State, Since: p.Up, HoldTime: p.HoldTime, Announced: p.Prefixes})
		}
		if bs.Err != nil {
			st.Warnings = append(st.Warnings, "BGP: "+bs.Err.Error())
		}
	}
	st.Warnings = append(st.Warnings, r.decision.Warnings...)
	for _, k := range slices.Sorted(maps.Keys(r.warnings)) {
		st.Warnings = append(st.Warnings, r.warnings[k])
	}
	if st.Enabled {
		st.Directors = r.directors(st)
	}
	r.c.mu.Lock()
	same := reflect.DeepEqual(withoutAt(r.c.status), withoutAt(st))
	r.c.status = st
	r.c.mu.Unlock()
	if !same {
		r.c.signal()
	}
}

func withoutAt(s Status) Status {
	s.At = time.Time{}
	for i := range s.Directors {
		s.Directors[i].Heard = time.Time{}
	}
	return s
}

// directors is the cluster view: this director, and each other as last
// heard.
func (r *run) directors(self Status) []Director {
	var out []Director
	if r.self.IsValid() {
		out = append(out, Director{Addr: r.self, Self: true, Reachable: true, Heard: self.At, Serial: self.Serial, Digest: self.Digest,
			Healthy: self.Healthy, Draining: self.Draining, Announced: self.Announced, Sessions: self.Sessions, Traffic: self.Traffic})
	}
	for _, a := range r.others {
		d := Director{Addr: a, Announced: []netip.Prefix{}, Sessions: []Session{}}
		if res, ok := r.heard[a]; ok {
			d.Heard = res.at
			switch {
			case res.err != nil:
				d.Err = res.err.Error()
			case res.status != nil:
				s := res.status
				d.Reachable, d.Serial, d.Digest, d.Healthy, d.Draining = true, s.Serial, s.Digest, s.Healthy, s.Draining
				d.Announced, d.Sessions, d.Traffic = s.Announced, s.Sessions, s.Traffic
			default:
				d.Reachable, d.Serial, d.Digest = true, res.heard.Serial, res.heard.Digest
				d.Err = "its status is not known (" + Path + " not served)"
			}
		}
		out = append(out, d)
	}
	return out
}

// trafficOf totals the kernel's table.
func trafficOf(t *engine.Table) Traffic {
	var tr Traffic
	if t == nil {
		return tr
	}
	for _, s := range t.Services {
		tr.ConnsPerSec += float64(s.Stats.CPS)
		tr.InBytesPerSec += float64(s.Stats.InBPS)
		tr.OutBytesPerSec += float64(s.Stats.OutBPS)
		for _, d := range s.Dests {
			tr.ActiveConns += uint64(d.ActiveConns)
			tr.InactiveConns += uint64(d.InactiveConns)
		}
	}
	return tr
}

// startPoll asks every other director for its state, unless a round
// runs; the round's results come on rounds.
func (r *run) startPoll(ctx context.Context, rounds chan<- []peerResult) {
	if r.polling || !r.on() || len(r.others) == 0 || len(r.key) == 0 {
		return
	}
	r.polling = true
	others, key, serial, dig := slices.Clone(r.others), r.key, r.cfg.Serial, r.digest
	base := r.c.o.PeerURL
	r.tasks.Add(1)
	go func() {
		defer r.tasks.Done()
		res := make([]peerResult, len(others))
		var wg sync.WaitGroup
		for i, a := range others {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = r.c.poll(ctx, a, base(a), key, serial, dig)
			}()
		}
		wg.Wait()
		rounds <- res // capacity 1, and one round at a time
	}()
}

// poll asks the director at a for its status, and for its configuration
// when it may be taken (a higher serial, or the same with another
// content); a director that does not serve Path is asked for its
// configuration.
func (c *Cluster) poll(ctx context.Context, a netip.Addr, base string, key []byte, serial int64, dig string) peerResult {
	res := peerResult{addr: a, at: time.Now()}
	if s, err := FetchCluster(ctx, c.o.Client, base, key, time.Now()); err == nil {
		res.status = &s
		res.heard = heard{Addr: a, Serial: s.Serial, Digest: s.Digest}
		if s.Serial < serial || (s.Serial == serial && (s.Digest == dig || s.Digest == "")) {
			return res
		}
	}
	cfg, cerr := failover.Fetch(ctx, c.o.Client, base, key, time.Now())
	if cerr != nil {
		if res.status == nil {
			res.err = cerr
		}
		return res
	}
	res.cfg = cfg
	res.heard = heard{Addr: a, Serial: cfg.Serial, Digest: digest(cfg)}
	return res
}

// settle records a round of polls and takes the configuration the sync
// decides on, and the accounts of the director it follows.
func (r *run) settle(ctx context.Context, res []peerResult) {
	var hs []heard
	for _, p := range res {
		r.heard[p.addr] = p
		if p.err == nil {
			hs = append(hs, p.heard)
		}
	}
	if !r.on() {
		return
	}
	self := heard{Addr: r.self, Serial: r.cfg.Serial, Digest: r.digest}
	act := syncDecide(self, hs)
	if act.From.IsValid() {
		r.take(ctx, act, res)
	} else {
		r.warn("sync", "")
	}
	r.accounts(ctx, self, hs)
	r.update(ctx)
}

// take adopts the configuration of act.From.
func (r *run) take(ctx context.Context, act syncAction, res []peerResult) {
	var cfg *config.Config
	for _, p := range res {
		if p.addr == act.From {
			cfg = p.cfg
		}
	}
	if cfg == nil {
		return // not fetched this round: the next asks again
	}
	ch := store.Change{Role: store.ScopeAdmin, Author: "director " + act.From.String(), Note: "from director " + act.From.String() + " (cluster sync: the highest serial)"}
	var peerDigest string
	for _, p := range res {
		if p.addr == act.From {
			peerDigest = p.heard.Digest
		}
	}
	if act.Past && r.pastFrom == act.From && r.pastDigest == peerDigest {
		// Taken once already, and still not the same here: the two
		// would move their serials past each other forever.
		r.warn("conflict", fmt.Sprintf("director %s's configuration, taken, still differs from it here (its lvs.cf does not read back the same); not taken again until it changes", act.From))
		return
	}
	if act.Past {
		r.pastFrom, r.pastDigest = act.From, peerDigest
		cfg = cfg.Clone()
		tie := r.cfg.Serial
		cfg.Serial = max(tie, cfg.Serial) + 1
		ch.Note = fmt.Sprintf("from director %s (cluster sync: at serial %d it had another configuration than this director; the lowest director address wins, taken at serial %d)", act.From, tie, cfg.Serial)
		r.conflictAt = cfg.Serial
		r.warn("conflict", fmt.Sprintf("at serial %d director %s had another configuration than this one: its configuration won (the lowest director address), this director's is in HISTORY", tie, act.From))
	}
	if _, err := r.c.o.Source.Adopt(ctx, ch, cfg); err != nil && !errors.Is(err, store.ErrStale) {
		r.warn("sync", fmt.Sprintf("taking the configuration of director %s: %v", act.From, err))
		return
	}
	r.warn("sync", "")
	r.c.o.Log.Info("cluster: configuration taken", "from", act.From.String(), "serial", cfg.Serial)
}

// accounts starts taking the users and API tokens of the director the
// configuration follows (the highest serial, the lowest address at it),
// as a pair's standby takes its active's: one set of accounts for the
// cluster, kept on that director. They have no serial, so they are taken
// every AccountsEvery; the answer comes on r.accountsCh.
func (r *run) accounts(ctx context.Context, self heard, hs []heard) {
	leader := self
	for _, h := range hs {
		if h.Serial > leader.Serial || (h.Serial == leader.Serial && h.Addr.Less(leader.Addr)) {
			leader = h
		}
	}
	if leader.Addr == self.Addr || r.fetchingAccounts || time.Since(r.accountsAt) < r.c.o.AccountsEvery {
		return
	}
	r.accountsAt, r.fetchingAccounts = time.Now(), true
	base, key := r.c.o.PeerURL(leader.Addr), r.key
	r.tasks.Add(1)
	go func() {
		defer r.tasks.Done()
		a, err := failover.FetchAccounts(ctx, r.c.o.Client, base, key, time.Now())
		r.accountsCh <- accountsResult{from: leader.Addr, a: a, err: err} // capacity 1, one at a time
	}()
}

// accountsResult is a fetch of another director's users and tokens.
type accountsResult struct {
	from netip.Addr
	a    store.Accounts
	err  error
}

// adoptAccounts takes the users and tokens fetched.
func (r *run) adoptAccounts(ctx context.Context, res accountsResult) {
	r.fetchingAccounts = false
	err := res.err
	if err == nil {
		var changes store.AccountChanges
		changes, err = r.c.o.Source.AdoptAccounts(store.WithActor(ctx, store.Actor{Name: "director " + res.from.String()}), res.a)
		if err == nil && len(changes) > 0 {
			r.c.o.Log.Info("cluster: users and API tokens taken", "from", res.from.String(), "changes", strings.Join(changes, "; "))
		}
	}
	if err != nil && ctx.Err() == nil {
		r.warn("accounts", fmt.Sprintf("taking the users and API tokens of director %s: %v", res.from, err))
		return
	}
	r.warn("accounts", "")
}

// stop ends a run cleanly: GRACEFUL_SHUTDOWN on every route for the drain
// period, the withdrawal, then the VIPs off the loopback.
func (r *run) stop(ctx context.Context) {
	if r.sp != nil {
		drain := time.Duration(0)
		if r.cfg != nil {
			drain = r.cfg.Redundancy.BGPDrain
		}
		r.draining = true
		r.publish(r.c.o.Engine.Status())
		r.c.o.Log.Info("cluster: graceful shutdown: draining the routes", "drain", drain)
		sctx, cancel := context.WithTimeout(ctx, drain+10*time.Second)
		if err := r.sp.sp.Shutdown(sctx, drain); err != nil {
			r.c.o.Log.Warn("cluster: graceful shutdown", "err", err)
		}
		cancel()
		r.sp.cancel()
		<-r.sp.done
		r.sp = nil
	}
	r.stopped = true // nothing wanted: the VIPs this run put up go
	r.addresses(ctx)
	if r.h != nil {
		r.h.Close()
	}
	r.draining = false
	r.publish(engine.Status{})
}

// hostAddrs lists this host's addresses.
func hostAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}
