// Package bgp announces the director's virtual addresses to its routers
// over BGP, so that routers spread traffic over several active directors
// by ECMP: a speaker embedded in the process through GoBGP (as a library:
// no gobgpd, no gRPC listener). It announces a desired set of host routes,
// withdraws what leaves the set, and on a clean stop first marks every
// route with RFC 8326's GRACEFUL_SHUTDOWN community for a drain period.
//
// It knows nothing of the configuration or the engine: the caller says
// what to announce (Announce) and reads the sessions' state (Status,
// Changes).
package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Errors callers can branch on.
var (
	// ErrShutdown: the speaker was shut down (Shutdown), or its Run
	// ended: it announces nothing any more.
	ErrShutdown = errors.New("bgp: speaker shut down")
	// ErrRunning: Run was called a second time.
	ErrRunning = errors.New("bgp: speaker already running")
	// ErrStart: GoBGP refused to start (the listener's port is taken, a
	// peer refused): wrapped with its reason.
	ErrStart = errors.New("bgp: cannot start")
)

// Timers GoBGP would otherwise take from BGP's defaults, which are made
// for the Internet's churn: after a reset it waits 30 s before trying
// again, and 120 s between connection attempts. A director that comes back
// should be in the routers' tables in seconds.
const (
	connectRetry  = 5 // seconds
	idleAfterDown = 1 // seconds
)

// Speaker is one BGP speaker: its sessions with the routers and the routes
// it announces to them.
type Speaker struct {
	cfg     Config
	log     *slog.Logger
	changes chan struct{} // capacity 1, never closed
	wake    chan struct{} // capacity 1: Announce to Run
	stop    chan stopRequest
	done    chan struct{} // closed when Run returns

	mu        sync.Mutex
	want      map[netip.Prefix]bool
	announced map[netip.Prefix]route // what GoBGP has, written by Run
	running   bool
	started   bool              // Run was called
	shut      bool              // Shutdown was called, or Run ended
	draining  bool              // GRACEFUL_SHUTDOWN on every route
	srv       *server.BgpServer // while Run runs
	peers     map[netip.Addr]api.PeerState_SessionState
	last      []PeerStatus // the last Status of the sessions, for after Run
	lastErr   error
}

type stopRequest struct {
	ctx   context.Context
	drain time.Duration
}

// New returns a speaker for cfg, or a *ConfigError naming every problem.
// log gets GoBGP's messages (warnings and errors; the rest at debug level)
// and the speaker's own.
func New(cfg Config, log *slog.Logger) (*Speaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Peers = slices.Clone(cfg.Peers)
	cfg.Communities = slices.Clone(cfg.Communities)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Speaker{
		cfg:       cfg,
		log:       log,
		changes:   make(chan struct{}, 1),
		wake:      make(chan struct{}, 1),
		stop:      make(chan stopRequest),
		done:      make(chan struct{}),
		want:      map[netip.Prefix]bool{},
		announced: map[netip.Prefix]route{},
		peers:     map[netip.Addr]api.PeerState_SessionState{},
	}, nil
}

// Changes signals that Status may have changed: a session's state, the
// routes announced. Capacity 1, never closed: "look again".
func (s *Speaker) Changes() <-chan struct{} { return s.changes }

func (s *Speaker) changed() {
	select {
	case s.changes <- struct{}{}:
	default:
	}
}

// Announce makes prefixes the set of routes announced: those new are
// announced, those no longer in it withdrawn, at once if Run runs, else
// when it starts. Each must be a host route (a /32 or a /128, one per
// VIP): if one is not, nothing changes and the error names each
// (ErrNotHostRoute). After Shutdown it returns ErrShutdown.
func (s *Speaker) Announce(prefixes []netip.Prefix) error {
	set, err := checkPrefixes(prefixes)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return ErrShutdown
	}
	s.want = set
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run starts the sessions and keeps the announced routes equal to the last
// Announce until ctx ends (the sessions are then closed at once: the
// routers drop the routes without draining) or Shutdown finishes. It
// returns nil then, ErrRunning if it already ran, or an error wrapping
// ErrStart.
func (s *Speaker) Run(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.started:
		s.mu.Unlock()
		return ErrRunning
	case s.shut:
		s.mu.Unlock()
		return ErrShutdown
	}
	s.started = true
	s.mu.Unlock()
	defer close(s.done)

	srv := server.NewBgpServer(server.LoggerOption(logAdapter{s.log}))
	go srv.Serve()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err := s.start(ctx, srv)
	s.mu.Lock()
	s.srv, s.running = srv, err == nil
	s.mu.Unlock()
	defer func() {
		last := s.sessions(srv) // before StopBgp forgets the peers
		srv.StopBgp(context.WithoutCancel(ctx), &api.StopBgpRequest{})
		s.mu.Lock()
		s.running, s.shut, s.srv, s.last = false, true, nil, last
		clear(s.announced)
		s.mu.Unlock()
		s.changed()
	}()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStart, err)
	}
	s.changed()
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		retry.Stop()
		if !s.reconcile(ctx, srv) {
			retry.Reset(retryAfter) // GoBGP refused a route: try again
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-retry.C:
		case req := <-s.stop:
			s.drain(ctx, srv, req)
			return nil
		}
	}
}

// start configures GoBGP: the global settings, a watch on the sessions'
// states, the peers.
func (s *Speaker) start(ctx context.Context, srv *server.BgpServer) error {
	port := int32(-1) // GoBGP's "no listener"; 0 would be 179
	if s.cfg.ListenPort != 0 {
		port = int32(s.cfg.ListenPort)
	}
	err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        s.cfg.AS,
		RouterId:   s.cfg.RouterID.String(),
		ListenPort: port,
	}})
	if err != nil {
		return err
	}
	err = srv.WatchEvent(ctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
		p := r.GetPeer().GetPeer()
		if p == nil || p.State == nil {
			return
		}
		a, err := netip.ParseAddr(p.State.NeighborAddress)
		if err != nil {
			return
		}
		s.mu.Lock()
		old := s.peers[a]
		s.peers[a] = p.State.SessionState
		s.mu.Unlock()
		if old != p.State.SessionState {
			s.log.Info("bgp session", "peer", a, "state", stateName(p.State.SessionState))
			s.changed()
		}
	})
	if err != nil {
		return err
	}
	for _, p := range s.cfg.Peers {
		if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.peer(p)}); err != nil {
			return fmt.Errorf("peer %v: %w", p.Address, err)
		}
	}
	return nil
}

// peer is GoBGP's configuration of p: the family of its address only.
func (s *Speaker) peer(p Peer) *api.Peer {
	hold := uint64(p.HoldTime / time.Second)
	if hold == 0 {
		hold = uint64(DefaultHoldTime / time.Second)
	}
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if p.Address.Is6() && !p.Address.Is4In6() {
		fam.Afi = api.Family_AFI_IP6
	}
	return &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.Unmap().String(),
			PeerAsn:         p.AS,
			AuthPassword:    p.Password,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:               hold,
			KeepaliveInterval:      max(hold/3, 1),
			ConnectRetry:           connectRetry,
			IdleHoldTimeAfterReset: idleAfterDown,
		}},
		AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: fam, Enabled: true}}},
	}
}

// retryAfter is how soon a route GoBGP refused is tried again.
const retryAfter = time.Second

// reconcile sends what plan says, and records what GoBGP took; it reports
// whether GoBGP took it all.
func (s *Speaker) reconcile(ctx context.Context, srv *server.BgpServer) bool {
	s.mu.Lock()
	announce, withdraw := plan(s.announced, s.want, s.draining)
	draining := s.draining
	s.mu.Unlock()
	if len(announce)+len(withdraw) == 0 {
		return true
	}
	ok := true
	for _, p := range withdraw {
		err := srv.DeletePath(ctx, &api.DeletePathRequest{Path: s.path(p, false)})
		ok = s.record(p, route{}, false, err) && ok
	}
	for _, p := range announce {
		_, err := srv.AddPath(ctx, &api.AddPathRequest{Path: s.path(p, draining)})
		ok = s.record(p, route{draining: draining}, true, err) && ok
	}
	if ok {
		s.mu.Lock()
		s.lastErr = nil
		s.mu.Unlock()
	}
	s.log.Info("bgp announcements", "announced", announce, "withdrawn", withdraw, "graceful_shutdown", draining)
	s.changed()
	return ok
}

func (s *Speaker) record(p netip.Prefix, r route, add bool, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = fmt.Errorf("bgp: %v: %w", p, err)
		s.log.Error("bgp", "prefix", p, "err", err)
		return false
	}
	if add {
		s.announced[p] = r
	} else {
		delete(s.announced, p)
	}
	return true
}

// path is GoBGP's route for p: origin IGP, the configured next hop (or
// unspecified: GoBGP puts the session's local address), the communities.
func (s *Speaker) path(p netip.Prefix, draining bool) *api.Path {
	comms := make([]uint32, 0, len(s.cfg.Communities)+1)
	for _, c := range s.cfg.Communities {
		comms = append(comms, uint32(c))
	}
	if draining && !slices.Contains(s.cfg.Communities, GracefulShutdown) {
		comms = append(comms, uint32(GracefulShutdown))
	}
	nlri := mustAny(&api.IPAddressPrefix{Prefix: p.Addr().String(), PrefixLen: uint32(p.Bits())})
	attrs := []*anypb.Any{mustAny(&api.OriginAttribute{Origin: 0})}
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if p.Addr().Is4() {
		nh := "0.0.0.0"
		if s.cfg.NextHop.IsValid() {
			nh = s.cfg.NextHop.String()
		}
		attrs = append(attrs, mustAny(&api.NextHopAttribute{NextHop: nh}))
	} else {
		fam.Afi = api.Family_AFI_IP6
		nh := "::"
		if s.cfg.NextHop6.IsValid() {
			nh = s.cfg.NextHop6.String()
		}
		attrs = append(attrs, mustAny(&api.MpReachNLRIAttribute{Family: fam, NextHops: []string{nh}, Nlris: []*anypb.Any{nlri}}))
	}
	if len(comms) > 0 {
		attrs = append(attrs, mustAny(&api.CommunitiesAttribute{Communities: comms}))
	}
	return &api.Path{Family: fam, Nlri: nlri, Pattrs: attrs}
}

// mustAny wraps one of GoBGP's messages, which always marshal.
func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

// Shutdown stops the speaker cleanly: every route is announced again with
// GRACEFUL_SHUTDOWN (65535:0) so that the routers move traffic to the other
// directors, then after drain (or when ctx ends, whichever is first) every
// route is withdrawn and the sessions are closed; Run then returns nil.
// Shutdown returns when Run has returned, or ctx's error if that is first.
// A speaker whose Run never started is only marked shut down.
func (s *Speaker) Shutdown(ctx context.Context, drain time.Duration) error {
	s.mu.Lock()
	started := s.started
	s.shut = true
	s.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case s.stop <- stopRequest{ctx: ctx, drain: drain}:
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain is Shutdown's sequence, in Run.
func (s *Speaker) drain(ctx context.Context, srv *server.BgpServer, req stopRequest) {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.reconcile(ctx, srv)
	s.changed()
	s.log.Info("bgp: graceful shutdown: draining", "drain", req.drain)
	t := time.NewTimer(req.drain)
	defer t.Stop()
	select {
	case <-t.C:
	case <-req.ctx.Done():
	case <-ctx.Done():
	}
	s.mu.Lock()
	clear(s.want)
	s.mu.Unlock()
	s.reconcile(ctx, srv)
}

// Status is what a speaker says of itself.
type Status struct {
	Running bool // Run runs and GoBGP started
	// Draining: Shutdown has put GRACEFUL_SHUTDOWN on every route.
	Draining bool
	// Announced are the prefixes handed to GoBGP, sorted: what every
	// established session announces.
	Announced []netip.Prefix
	Peers     []PeerStatus // in the order of Config.Peers
	// Err is why GoBGP refused a route in the last change (retried every
	// second); nil once a change went through whole.
	Err error
}

// PeerStatus is one session's state.
type PeerStatus struct {
	Address netip.Addr
	AS      uint32
	// State is BGP's: "idle", "connect", "active", "opensent",
	// "openconfirm" or "established".
	State string
	// Up is when the session was established (zero when it is not).
	Up time.Time
	// HoldTime is the negotiated hold time (zero when not established).
	HoldTime time.Duration
	// Prefixes is the number of prefixes announced on the session.
	Prefixes int
}

// Established reports whether the session is up.
func (p PeerStatus) Established() bool { return p.State == "established" }

// Status returns the speaker's state now.
func (s *Speaker) Status() Status {
	s.mu.Lock()
	st := Status{Running: s.running, Draining: s.draining, Err: s.lastErr}
	for p := range s.announced {
		st.Announced = append(st.Announced, p)
	}
	srv, last := s.srv, s.last
	s.mu.Unlock()
	slices.SortFunc(st.Announced, netip.Prefix.Compare)
	if srv != nil {
		st.Peers = s.sessions(srv)
	} else if last != nil {
		st.Peers = slices.Clone(last)
		for i := range st.Peers {
			st.Peers[i].State, st.Peers[i].Up, st.Peers[i].HoldTime, st.Peers[i].Prefixes = "idle", time.Time{}, 0, 0
		}
	} else {
		for _, p := range s.cfg.Peers {
			st.Peers = append(st.Peers, PeerStatus{Address: p.Address, AS: p.AS, State: "idle"})
		}
	}
	return st
}

// sessions asks GoBGP for the state of every peer.
func (s *Speaker) sessions(srv *server.BgpServer) []PeerStatus {
	got := map[netip.Addr]*api.Peer{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		if a, err := netip.ParseAddr(p.GetConf().GetNeighborAddress()); err == nil {
			got[a] = p
		}
	})
	out := make([]PeerStatus, 0, len(s.cfg.Peers))
	for _, c := range s.cfg.Peers {
		ps := PeerStatus{Address: c.Address, AS: c.AS, State: "idle"}
		if p := got[c.Address.Unmap()]; p != nil {
			ps.State = stateName(p.GetState().GetSessionState())
			if ps.Established() {
				if up := p.GetTimers().GetState().GetUptime(); up != nil {
					ps.Up = up.AsTime()
				}
				ps.HoldTime = time.Duration(p.GetTimers().GetState().GetNegotiatedHoldTime()) * time.Second
				for _, af := range p.GetAfiSafis() {
					ps.Prefixes += int(af.GetState().GetAdvertised())
				}
			}
		}
		out = append(out, ps)
	}
	return out
}

// stateName is BGP's name of a session state, in lower case.
func stateName(st api.PeerState_SessionState) string {
	switch st {
	case api.PeerState_IDLE:
		return "idle"
	case api.PeerState_CONNECT:
		return "connect"
	case api.PeerState_ACTIVE:
		return "active"
	case api.PeerState_OPENSENT:
		return "opensent"
	case api.PeerState_OPENCONFIRM:
		return "openconfirm"
	case api.PeerState_ESTABLISHED:
		return "established"
	}
	return "unknown"
}

// logAdapter gives GoBGP's messages to slog: warnings and errors as they
// are, its chatter (info and below) at debug level.
type logAdapter struct{ l *slog.Logger }

func (a logAdapter) log(level slog.Level, msg string, fields gobgplog.Fields) {
	if !a.l.Enabled(context.Background(), level) {
		return
	}
	args := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		args = append(args, k, v)
	}
	a.l.Log(context.Background(), level, "gobgp: "+msg, args...)
}

func (a logAdapter) Panic(msg string, f gobgplog.Fields) {
	a.log(slog.LevelError, msg, f)
	panic(msg)
}
func (a logAdapter) Fatal(msg string, f gobgplog.Fields) {
	// GoBGP calls Fatal where it cannot go on; it is not this process's
	// place to exit: the speaker's error and Status say the rest.
	a.log(slog.LevelError, msg, f)
}
func (a logAdapter) Error(msg string, f gobgplog.Fields) { a.log(slog.LevelError, msg, f) }
func (a logAdapter) Warn(msg string, f gobgplog.Fields)  { a.log(slog.LevelWarn, msg, f) }
func (a logAdapter) Info(msg string, f gobgplog.Fields)  { a.log(slog.LevelDebug, msg, f) }
func (a logAdapter) Debug(msg string, f gobgplog.Fields) { a.log(slog.LevelDebug-4, msg, f) }
func (a logAdapter) SetLevel(gobgplog.LogLevel)          {}

// GetLevel lets GoBGP skip building messages slog would drop.
func (a logAdapter) GetLevel() gobgplog.LogLevel {
	switch ctx := context.Background(); {
	case a.l.Enabled(ctx, slog.LevelDebug-4):
		return gobgplog.DebugLevel
	case a.l.Enabled(ctx, slog.LevelDebug):
		return gobgplog.InfoLevel
	}
	return gobgplog.WarnLevel
}
