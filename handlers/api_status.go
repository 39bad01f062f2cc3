package handlers

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// apiStatus is what CONTROL/MONITORING knows: the engine and the IPVS
// table, each real server's health, failover, cluster mode, and recent
// events. A part
// whose source does not run in this process is left out.
type apiStatus struct {
	Serial   int64              `json:"serial"`
	At       time.Time          `json:"at"`
	Engine   *apiEngine         `json:"engine,omitempty"`
	Virtuals []apiStatusVirtual `json:"virtuals"`
	Failover *apiFailover       `json:"failover,omitempty"`
	Cluster  *apiCluster        `json:"cluster,omitempty"` // in cluster mode only
	Events   []apiEvent         `json:"events"`
}

type apiEngine struct {
	Running   bool      `json:"running"`
	Available bool      `json:"available"` // IPVS could be reached
	Reason    string    `json:"reason,omitempty"`
	Applied   int64     `json:"applied_serial"` // the configuration serial last applied
	LastRun   time.Time `json:"last_run,omitzero"`
	Changes   []string  `json:"changes"`
	Errors    []string  `json:"errors"`
	// Live says Table is the kernel's; else it is the table the engine
	// would program.
	Live    bool             `json:"live"`
	Sampled time.Time        `json:"sampled,omitzero"`
	Table   []apiIPVSService `json:"table"`
}

type apiIPVSService struct {
	Service   string        `json:"service"`           // as ipvsadm -Ln: "TCP 192.0.2.1:80", "FWM 3"
	Virtual   string        `json:"virtual,omitempty"` // the virtual server's name; "" for a service lvsconsole does not manage
	Scheduler string        `json:"scheduler"`
	Flags     string        `json:"flags,omitempty"` // as ipvsadm -Ln: "persistent 300 mask 255.255.255.0"
	Stats     apiStats      `json:"stats"`
	Dests     []apiIPVSDest `json:"dests"`
}

type apiIPVSDest struct {
	Address       string   `json:"address"` // "10.0.0.1:80", "[2001:db8::1]:80"
	Forward       string   `json:"forward"` // as ipvsadm: Masq, Route, Tunnel
	Weight        int32    `json:"weight"`
	ActiveConns   uint32   `json:"active_conns"`
	InactiveConns uint32   `json:"inactive_conns"`
	Stats         apiStats `json:"stats"`
}

type apiStats struct {
	Conns      uint64 `json:"conns"`
	InPackets  uint64 `json:"in_packets"`
	OutPackets uint64 `json:"out_packets"`
	InBytes    uint64 `json:"in_bytes"`
	OutBytes   uint64 `json:"out_bytes"`
	CPS        uint64 `json:"cps"`
	InPPS      uint64 `json:"in_pps"`
	OutPPS     uint64 `json:"out_pps"`
	InBPS      uint64 `json:"in_bps"`
	OutBPS     uint64 `json:"out_bps"`
}

type apiStatusVirtual struct {
	ID      int64           `json:"id"`
	Name    string          `json:"name"`
	Active  bool            `json:"active"`
	Service string          `json:"service"` // "TCP 192.0.2.1:80"
	Reals   []apiStatusReal `json:"reals"`
}

type apiStatusReal struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Active  bool   `json:"active"`
	Address string `json:"address"` // with the port it is checked and balanced on
	Weight  int64  `json:"weight"`  // configured
	Forward string `json:"fwd"`     // in effect: nat, direct or tunnel
	// Draining is DRAIN: weight 0 until its connections end.
	Draining   bool       `json:"draining,omitempty"`
	DrainSince time.Time  `json:"drain_since,omitzero"`
	Health     *apiHealth `json:"health,omitempty"`
}

// apiHealth is a real server's check verdict; absent when it is not
// checked (inactive) or no checks run in this process.
type apiHealth struct {
	State  string    `json:"state"` // up, down, unknown
	Reason string    `json:"reason"`
	Since  time.Time `json:"since,omitzero"`
	Weight int32     `json:"weight"` // what IPVS gets now
	// Configured is the real server's own weight; Why says why Weight
	// is another ("" when it is not).
	Configured int64    `json:"configured"`
	Why        string   `json:"why,omitempty"`
	Load       *apiLoad `json:"load,omitempty"` // absent without a load monitor
}

// apiLoad is the load monitor's latest about a real server.
type apiLoad struct {
	Monitor string    `json:"monitor"`           // rup, ruptime, uptime, agent, feedback
	Reading string    `json:"reading,omitempty"` // "load 3.20", "up 75%"; absent before the first
	Error   string    `json:"error,omitempty"`   // why the latest reading failed: the weight stays
	At      time.Time `json:"at,omitzero"`       // of the latest reading that succeeded
	Weight  int64     `json:"weight"`            // the weight the monitor gives
	HostKey string    `json:"host_key,omitempty"`
}

type apiFailover struct {
	Pair        bool        `json:"pair"`
	Role        string      `json:"role"` // starting, active, standby
	Since       time.Time   `json:"since,omitzero"`
	Reason      string      `json:"reason"`
	Primary     bool        `json:"primary"`
	Self        string      `json:"self"`
	Serial      int64       `json:"serial"`
	InSync      bool        `json:"in_sync"`
	LastSync    time.Time   `json:"last_sync,omitzero"`
	PeerConsole string      `json:"peer_console,omitempty"`
	VIPs        []string    `json:"vips"`
	Warnings    []string    `json:"warnings"`
	Peer        apiPeer     `json:"peer"`
	Heartbeats  apiCounters `json:"heartbeats"`
}

type apiPeer struct {
	Address   string    `json:"address"`
	Role      string    `json:"role"`
	Primary   bool      `json:"primary"`
	Heard     bool      `json:"heard"` // a valid heartbeat came within the dead time
	LastHeard time.Time `json:"last_heard,omitzero"`
	Serial    int64     `json:"serial"`
	LinkDown  bool      `json:"link_down"`
}

type apiCounters struct {
	Sent          uint64 `json:"sent"`
	Received      uint64 `json:"received"`
	Malformed     uint64 `json:"malformed"`
	UnknownSource uint64 `json:"unknown_source"`
	BadAuth       uint64 `json:"bad_auth"`
	Replayed      uint64 `json:"replayed"`
	Stale         uint64 `json:"stale"` // answered none of our last two challenges
	Duplicate     uint64 `json:"duplicate"`
}

// apiEvent is a health change, a failover or a configuration change.
type apiEvent struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`            // health, failover, config
	Subject string    `json:"subject"`         // the real server, the director, the user
	State   string    `json:"state,omitempty"` // health: the new state
	Text    string    `json:"text"`
}

// statusEvents is how many recent events the status lists.
const statusEvents = 30

func (c *Console) apiStatus(w http.ResponseWriter, r *http.Request) {
	cfg, ok := c.apiRead(w, r)
	if !ok {
		return
	}
	out := apiStatus{Serial: cfg.Serial, At: c.now().UTC(), Virtuals: []apiStatusVirtual{}, Events: []apiEvent{}}
	if c.engine != nil {
		out.Engine = engineStatus(c.engine.Status())
	}
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		v := apiStatusVirtual{ID: vs.ID, Name: vs.Name, Active: vs.Active, Service: vs.ServiceString(), Reals: []apiStatusReal{}}
		for j := range vs.Reals {
			v.Reals = append(v.Reals, c.realStatus(cfg, vs, &vs.Reals[j]))
		}
		out.Virtuals = append(out.Virtuals, v)
	}
	if c.failover != nil {
		out.Failover = failoverStatus(c)
	}
	out.Cluster = c.clusterStatus()
	if c.health != nil {
		for _, ev := range c.health.Events(statusEvents) {
			out.Events = append(out.Events, apiEvent{Time: ev.Time.UTC(), Kind: "health", Subject: ev.Server, State: ev.To,
				Text: ev.From + " -> " + ev.To + ": " + ev.Reason})
		}
	}
	if c.failover != nil {
		for _, ev := range c.failover.Events(statusEvents) {
			out.Events = append(out.Events, apiEvent{Time: ev.When.UTC(), Kind: "failover", Subject: "this director",
				Text: string(ev.From) + " -> " + string(ev.To) + ": " + ev.Reason})
		}
	}
	if revs, err := c.store.Revisions(r.Context(), 0, 10); err == nil {
		for _, rev := range revs {
			out.Events = append(out.Events, apiEvent{Time: rev.Created.UTC(), Kind: "config", Subject: rev.By(),
				Text: "serial " + itoa(rev.Serial) + ": " + rev.Summary})
		}
	}
	slices.SortStableFunc(out.Events, func(a, b apiEvent) int { return b.Time.Compare(a.Time) })
	out.Events = out.Events[:min(len(out.Events), statusEvents)]
	writeResource(w, http.StatusOK, cfg.Serial, out)
}

func (c *Console) realStatus(cfg *config.Config, vs *config.VirtualServer, rs *config.RealServer) apiStatusReal {
	out := apiStatusReal{ID: rs.ID, Name: rs.Name, Active: rs.Active, Weight: rs.Weight,
		Address: engine.AddrPort(rs.Address, uint16(rs.EffectivePort(vs))), Forward: string(rs.EffectiveForward(&cfg.Global)),
		Draining: rs.Draining, DrainSince: rs.DrainSince.UTC()}
	if c.health != nil {
		if h, ok := c.health.Of(vs, rs); ok {
			out.Health = &apiHealth{State: h.State, Reason: h.Reason, Since: h.Since.UTC(), Weight: h.Weight,
				Configured: h.Configured, Why: h.Why}
			if l := h.Load; l != nil {
				out.Health.Load = &apiLoad{Monitor: l.Monitor, Reading: l.Reading, Error: l.Error, At: l.At.UTC(), Weight: l.Weight, HostKey: l.HostKey}
			}
		}
	}
	return out
}

func engineStatus(st engine.Status) *apiEngine {
	out := &apiEngine{Running: st.Running, Available: st.Available, Reason: st.Reason, Applied: st.Serial,
		LastRun: st.LastRun.UTC(), Changes: nonNil(st.Changes), Errors: nonNil(st.Errors), Table: []apiIPVSService{}}
	table := st.Desired
	if st.Available && st.Kernel != nil {
		out.Live, out.Sampled, table = true, st.Sampled.UTC(), st.Kernel
	}
	if table == nil {
		return out
	}
	names := map[ipvs.ServiceKey]string{}
	if st.Desired != nil {
		for _, s := range st.Desired.Services {
			names[s.ServiceKey] = s.Virtual
		}
	}
	for _, s := range table.Services {
		svc := apiIPVSService{Service: s.ServiceKey.String(), Virtual: names[s.ServiceKey], Scheduler: s.Scheduler,
			Flags: strings.TrimSpace(engine.FlagsText(&s.Service)), Stats: statsOf(s.Stats), Dests: []apiIPVSDest{}}
		for _, d := range s.Dests {
			svc.Dests = append(svc.Dests, apiIPVSDest{Address: engine.AddrPort(d.Addr, d.Port), Forward: d.Forward.String(),
				Weight: d.Weight, ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns, Stats: statsOf(d.Stats)})
		}
		out.Table = append(out.Table, svc)
	}
	return out
}

func statsOf(s ipvs.Stats) apiStats {
	return apiStats{Conns: s.Conns, InPackets: s.InPkts, OutPackets: s.OutPkts, InBytes: s.InBytes, OutBytes: s.OutBytes,
		CPS: s.CPS, InPPS: s.InPPS, OutPPS: s.OutPPS, InBPS: s.InBPS, OutBPS: s.OutBPS}
}

func failoverStatus(c *Console) *apiFailover {
	st := c.failover.Status()
	ps := st.Pulse.Peer
	k := st.Pulse.Counters
	return &apiFailover{
		Pair: st.Pair, Role: string(st.Role), Since: st.Since.UTC(), Reason: st.Reason, Primary: st.Primary,
		Self: addrString(st.Self), Serial: st.Serial, InSync: st.InSync, LastSync: st.LastSync.UTC(),
		PeerConsole: st.PeerConsole, VIPs: nonNil(st.VIPs), Warnings: nonNil(st.Warnings),
		Peer: apiPeer{Address: addrString(ps.Addr), Role: ps.Role.String(), Primary: ps.Primary, Heard: ps.Heard,
			LastHeard: ps.LastHeard.UTC(), Serial: ps.Serial, LinkDown: ps.LinkDown},
		Heartbeats: apiCounters{Sent: k.Sent, Received: k.Received, Malformed: k.Malformed, UnknownSource: k.UnknownSource,
			BadAuth: k.BadAuth, Replayed: k.Replayed, Stale: k.Stale, Duplicate: k.Duplicate},
	}
}

// nonNil makes an absent list an empty one, so that JSON says [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
