package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
)

// LocalOptions configure the local API.
type LocalOptions struct {
	Store    *store.Store
	Log      *slog.Logger
	Engine   StatusSource   // nil when none runs
	Failover FailoverSource // nil when none runs
	// Info reads the IPVS version and connection table size, for the
	// header of ipvsadm's listing; nil, or an error, leaves it out.
	Info func(ctx context.Context) (ipvs.Info, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewLocal returns the local API that lvsconsole serve offers on a unix
// socket next to its database, for lvsconsole status: GET /status answers
// a LocalStatus in JSON. It has no login: whoever can open the socket
// (mode 0600, the user serve runs as) may read it, as with docker.sock.
// It must never be served on the console's TCP listener.
func NewLocal(o LocalOptions) http.Handler {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &local{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", l.status)
	return mux
}

type local struct{ o LocalOptions }

// LocalStatus is the answer of the local GET /status.
type LocalStatus struct {
	Time     time.Time      `json:"time"`
	Serial   int64          `json:"serial"`             // the accepted configuration's
	IPVS     *LocalInfo     `json:"ipvs,omitempty"`     // nil: unknown (no IPVS)
	Engine   *LocalEngine   `json:"engine,omitempty"`   // nil: no engine in that process
	Failover *LocalFailover `json:"failover,omitempty"` // nil: failover is off (serve -failover=false)
}

// LocalInfo is ipvs.Info.
type LocalInfo struct {
	Version       uint32 `json:"version"`
	ConnTableSize uint32 `json:"conn_table_size"`
}

// LocalEngine is engine.Status.
type LocalEngine struct {
	Running   bool        `json:"running"`
	Available bool        `json:"available"`
	Reason    string      `json:"reason,omitempty"`
	Serial    int64       `json:"applied_serial"`
	LastRun   time.Time   `json:"last_run,omitzero"`
	Sampled   time.Time   `json:"sampled,omitzero"`
	Changes   []string    `json:"changes,omitempty"`
	Errors    []string    `json:"errors,omitempty"`
	Kernel    *LocalTable `json:"kernel,omitempty"` // nil without IPVS
	Desired   *LocalTable `json:"desired,omitempty"`
}

// LocalTable is an engine.Table.
type LocalTable struct {
	Services []LocalService `json:"services"`
	Timeouts LocalTimeouts  `json:"timeouts"`
}

// LocalTimeouts are ipvs.Timeouts in seconds.
type LocalTimeouts struct {
	TCP    int64 `json:"tcp"`
	TCPFin int64 `json:"tcp_fin"`
	UDP    int64 `json:"udp"`
}

// LocalService is an engine.Service.
type LocalService struct {
	Service   string      `json:"service"` // "TCP 192.0.2.10:80", "FWM 5"
	Virtual   string      `json:"virtual,omitempty"`
	Family    uint16      `json:"family"`
	Protocol  uint16      `json:"protocol,omitempty"`
	Addr      netip.Addr  `json:"addr,omitzero"`
	Port      uint16      `json:"port,omitempty"`
	FWMark    uint32      `json:"fwmark,omitempty"`
	Scheduler string      `json:"scheduler"`
	Flags     uint32      `json:"flags"`
	Timeout   uint32      `json:"timeout,omitempty"`
	Netmask   uint32      `json:"netmask"`
	PEName    string      `json:"pe,omitempty"`
	Stats     LocalStats  `json:"stats"`
	Dests     []LocalDest `json:"destinations"`
}

// LocalDest is an ipvs.Destination.
type LocalDest struct {
	Destination    string     `json:"destination"` // "10.0.0.1:80"
	Addr           netip.Addr `json:"addr"`
	Port           uint16     `json:"port"`
	Family         uint16     `json:"family,omitempty"`
	Forward        string     `json:"forward"` // as ipvsadm: Masq, Local, Tunnel, Route, Bypass
	Weight         int32      `json:"weight"`
	UpperThreshold uint32     `json:"upper_threshold,omitempty"`
	LowerThreshold uint32     `json:"lower_threshold,omitempty"`
	ActiveConns    uint32     `json:"active_conns"`
	InactiveConns  uint32     `json:"inactive_conns"`
	PersistConns   uint32     `json:"persist_conns"`
	Stats          LocalStats `json:"stats"`
}

// LocalStats are ipvs.Stats.
type LocalStats struct {
	Conns    uint64 `json:"conns"`
	InPkts   uint64 `json:"in_pkts"`
	OutPkts  uint64 `json:"out_pkts"`
	InBytes  uint64 `json:"in_bytes"`
	OutBytes uint64 `json:"out_bytes"`
	CPS      uint64 `json:"cps"`
	InPPS    uint64 `json:"in_pps"`
	OutPPS   uint64 `json:"out_pps"`
	InBPS    uint64 `json:"in_bps"`
	OutBPS   uint64 `json:"out_bps"`
}

// LocalFailover is failover.Status.
type LocalFailover struct {
	Pair        bool            `json:"pair"`
	Role        string          `json:"role"` // active, standby, starting
	Since       time.Time       `json:"since,omitzero"`
	Reason      string          `json:"reason,omitempty"`
	Primary     bool            `json:"primary"`
	Self        string          `json:"self,omitempty"`
	Serial      int64           `json:"serial"`
	InSync      bool            `json:"in_sync"`
	PeerConsole string          `json:"peer_console,omitempty"`
	VIPs        []string        `json:"vips"`
	Warnings    []string        `json:"warnings,omitempty"`
	LastSync    time.Time       `json:"last_sync,omitzero"`
	Peer        *LocalPeer      `json:"peer,omitempty"` // nil unless a pair
	Counters    LocalHeartbeats `json:"heartbeats"`
}

// LocalPeer is what this director knows of the other one.
type LocalPeer struct {
	Addr      string    `json:"addr,omitempty"`
	Role      string    `json:"role"`
	Primary   bool      `json:"primary"`
	Serial    int64     `json:"serial"`
	Heard     bool      `json:"heard"` // alive: heard within the dead time
	LastHeard time.Time `json:"last_heard,omitzero"`
	// Age is the time since LastHeard when the answer was made, in
	// seconds: a client need not trust its own clock to agree.
	Age float64 `json:"last_heard_age_seconds,omitempty"`
}

// LocalHeartbeats are pulse.Counters.
type LocalHeartbeats struct {
	Sent          uint64 `json:"sent"`
	Received      uint64 `json:"received"`
	Malformed     uint64 `json:"malformed"`
	UnknownSource uint64 `json:"unknown_source"`
	BadAuth       uint64 `json:"bad_auth"`
	Replayed      uint64 `json:"replayed"`
	Duplicate     uint64 `json:"duplicate"`
}

func (l *local) status(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	serial, err := l.o.Store.Serial(ctx)
	if err != nil {
		l.o.Log.Error("local status: reading the configuration serial", "err", err)
		http.Error(w, "reading the configuration serial failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	now := l.o.Now()
	out := LocalStatus{Time: now, Serial: serial}
	if l.o.Engine != nil {
		st := l.o.Engine.Status()
		out.Engine = localEngine(st)
		// Ask the kernel only when the engine reaches it: without IPVS
		// the question fails anyway.
		if st.Available && l.o.Info != nil {
			if info, err := l.o.Info(ctx); err != nil {
				l.o.Log.Warn("local status: reading the IPVS version", "err", err)
			} else {
				out.IPVS = &LocalInfo{Version: info.Version, ConnTableSize: info.ConnTableSize}
			}
		}
	}
	if l.o.Failover != nil {
		out.Failover = localFailover(l.o.Failover.Status(), now)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		l.o.Log.Warn("local status: writing the answer", "err", err)
	}
}

func localEngine(st engine.Status) *LocalEngine {
	e := &LocalEngine{
		Running: st.Running, Available: st.Available, Reason: st.Reason, Serial: st.Serial,
		LastRun: st.LastRun, Sampled: st.Sampled, Changes: st.Changes, Errors: st.Errors,
		Kernel: LocalTableOf(st.Kernel), Desired: LocalTableOf(st.Desired),
	}
	if e.Kernel != nil {
		// The kernel does not know the virtual servers' names.
		names := virtualNames(st)
		for i := range e.Kernel.Services {
			s := &e.Kernel.Services[i]
			if s.Virtual == "" {
				s.Virtual = names[s.key()]
			}
		}
	}
	return e
}

// LocalTableOf returns t for JSON; nil for nil.
func LocalTableOf(t *engine.Table) *LocalTable {
	if t == nil {
		return nil
	}
	lt := &LocalTable{
		Services: make([]LocalService, 0, len(t.Services)),
		Timeouts: LocalTimeouts{
			TCP:    int64(t.Timeouts.TCP / time.Second),
			TCPFin: int64(t.Timeouts.TCPFin / time.Second),
			UDP:    int64(t.Timeouts.UDP / time.Second),
		},
	}
	for _, s := range t.Services {
		ls := LocalService{
			Service: s.ServiceKey.String(), Virtual: s.Virtual,
			Family: s.Family, Protocol: uint16(s.Protocol), Addr: s.Addr, Port: s.Port, FWMark: s.FWMark,
			Scheduler: s.Scheduler, Flags: uint32(s.Flags), Timeout: s.Timeout, Netmask: s.Netmask, PEName: s.PEName,
			Stats: localStats(s.Stats), Dests: make([]LocalDest, 0, len(s.Dests)),
		}
		for _, d := range s.Dests {
			ls.Dests = append(ls.Dests, LocalDest{
				Destination: engine.AddrPort(d.Addr, d.Port), Addr: d.Addr, Port: d.Port, Family: d.Family,
				Forward: d.Forward.String(), Weight: d.Weight, UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
				ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns, PersistConns: d.PersistConns,
				Stats: localStats(d.Stats),
			})
		}
		lt.Services = append(lt.Services, ls)
	}
	return lt
}

func (s *LocalService) key() ipvs.ServiceKey {
	return ipvs.ServiceKey{Family: s.Family, Protocol: ipvs.Protocol(s.Protocol), Addr: s.Addr, Port: s.Port, FWMark: s.FWMark}
}

// Table returns the engine's table back, for engine.Table.WriteText.
func (t *LocalTable) Table() *engine.Table {
	if t == nil {
		return nil
	}
	et := &engine.Table{Timeouts: ipvs.Timeouts{
		TCP:    time.Duration(t.Timeouts.TCP) * time.Second,
		TCPFin: time.Duration(t.Timeouts.TCPFin) * time.Second,
		UDP:    time.Duration(t.Timeouts.UDP) * time.Second,
	}}
	for i := range t.Services {
		ls := &t.Services[i]
		s := &engine.Service{
			Service: ipvs.Service{ServiceKey: ls.key(), Scheduler: ls.Scheduler, Flags: ipvs.Flags(ls.Flags),
				Timeout: ls.Timeout, Netmask: ls.Netmask, PEName: ls.PEName, Stats: ls.Stats.stats()},
			Virtual: ls.Virtual,
		}
		for _, d := range ls.Dests {
			s.Dests = append(s.Dests, ipvs.Destination{
				Addr: d.Addr, Port: d.Port, Family: d.Family, Forward: forwardOf(d.Forward), Weight: d.Weight,
				UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
				ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns, PersistConns: d.PersistConns,
				Stats: d.Stats.stats(),
			})
		}
		et.Services = append(et.Services, s)
	}
	return et
}

// forwardOf reads ipvs.Forward's String back.
func forwardOf(name string) ipvs.Forward {
	for f := ipvs.Masquerade; f <= ipvs.Bypass; f++ {
		if f.String() == name {
			return f
		}
	}
	n, _ := strconv.ParseUint(strings.TrimPrefix(name, "fwd-"), 10, 32)
	return ipvs.Forward(n)
}

func localStats(s ipvs.Stats) LocalStats {
	return LocalStats{s.Conns, s.InPkts, s.OutPkts, s.InBytes, s.OutBytes, s.CPS, s.InPPS, s.OutPPS, s.InBPS, s.OutBPS}
}

func (s LocalStats) stats() ipvs.Stats {
	return ipvs.Stats{Conns: s.Conns, InPkts: s.InPkts, OutPkts: s.OutPkts, InBytes: s.InBytes, OutBytes: s.OutBytes,
		CPS: s.CPS, InPPS: s.InPPS, OutPPS: s.OutPPS, InBPS: s.InBPS, OutBPS: s.OutBPS}
}

func localFailover(st failover.Status, now time.Time) *LocalFailover {
	k := st.Pulse.Counters
	f := &LocalFailover{
		Pair: st.Pair, Role: string(st.Role), Since: st.Since, Reason: st.Reason, Primary: st.Primary,
		Self: addrString(st.Self), Serial: st.Serial, InSync: st.InSync, PeerConsole: st.PeerConsole,
		VIPs: st.VIPs, Warnings: st.Warnings, LastSync: st.LastSync,
		Counters: LocalHeartbeats{Sent: k.Sent, Received: k.Received, Malformed: k.Malformed,
			UnknownSource: k.UnknownSource, BadAuth: k.BadAuth, Replayed: k.Replayed, Duplicate: k.Duplicate},
	}
	if f.VIPs == nil {
		f.VIPs = []string{}
	}
	if st.Pair {
		p := st.Pulse.Peer
		f.Peer = &LocalPeer{Addr: addrString(p.Addr), Role: p.Role.String(), Primary: p.Primary, Serial: p.Serial,
			Heard: p.Heard, LastHeard: p.LastHeard}
		if !p.LastHeard.IsZero() {
			f.Peer.Age = now.Sub(p.LastHeard).Seconds()
		}
	}
	return f
}
