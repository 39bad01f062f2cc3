package handlers

import (
	"net/netip"
	"slices"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/web"
)

// clusterView fills the cluster card of CONTROL/MONITORING; nil unless
// this director is in cluster mode.
func (c *Console) clusterView() *web.ClusterView {
	if c.cluster == nil {
		return nil
	}
	st := c.cluster.Status()
	if !st.Enabled {
		return nil
	}
	v := &web.ClusterView{Self: addrString(st.Self), RouterID: addrString(st.RouterID), Healthy: st.Healthy,
		Draining: st.Draining, MaxSerial: st.Serial, Warnings: st.Warnings}
	ds := st.Directors
	if !slices.ContainsFunc(ds, func(d cluster.Director) bool { return d.Self }) {
		// Not polled yet, or this host is none of the list: itself first,
		// from its own status.
		ds = append([]cluster.Director{selfDirector(st)}, ds...)
	}
	for _, d := range ds {
		if d.Reachable || d.Self {
			v.MaxSerial = max(v.MaxSerial, d.Serial)
		}
	}
	for _, d := range ds {
		row := web.ClusterDirector{Addr: addrString(d.Addr), Self: d.Self, Reachable: d.Reachable || d.Self, Err: d.Err,
			Heard: d.Heard, Serial: d.Serial, Healthy: d.Healthy, Draining: d.Draining,
			Conns: d.Traffic.ActiveConns, CPS: d.Traffic.ConnsPerSec, InBPS: d.Traffic.InBytesPerSec, OutBPS: d.Traffic.OutBytesPerSec}
		row.Behind = row.Reachable && d.Serial < v.MaxSerial
		if row.Addr == "" {
			row.Addr = "this director"
		}
		for _, p := range d.Announced {
			row.Announced = append(row.Announced, p.String())
		}
		for _, s := range d.Sessions {
			row.Sessions = append(row.Sessions, web.ClusterSession{Peer: addrString(s.Peer), AS: s.AS, State: s.State,
				Established: s.State == "established", Since: s.Since, Announced: s.Announced})
		}
		v.Directors = append(v.Directors, row)
	}
	for _, w := range st.Withheld {
		v.Withheld = append(v.Withheld, web.ClusterWithheld{Prefix: w.Prefix.String(), Why: w.Why})
	}
	return v
}

// selfDirector is this director's row, made from its own status.
func selfDirector(st cluster.Status) cluster.Director {
	return cluster.Director{Addr: st.Self, Self: true, Reachable: true, Heard: st.At, Serial: st.Serial, Healthy: st.Healthy,
		Draining: st.Draining, Announced: st.Announced, Sessions: st.Sessions, Traffic: st.Traffic}
}

// apiCluster is cluster mode in GET /api/v1/status: cluster.Status, with
// the hold times in seconds as the API's other durations.
type apiCluster struct {
	Enabled   bool                 `json:"enabled"`
	Self      string               `json:"self,omitempty"`
	RouterID  string               `json:"router_id,omitempty"`
	Serial    int64                `json:"serial"`
	Healthy   bool                 `json:"healthy"`
	Draining  bool                 `json:"draining"`
	Announced []string             `json:"announced"`
	Withheld  []apiClusterWithheld `json:"withheld"`
	Sessions  []apiBGPSession      `json:"sessions"`
	Traffic   cluster.Traffic      `json:"traffic"`
	Directors []apiClusterDirector `json:"directors"`
	Warnings  []string             `json:"warnings"`
	At        time.Time            `json:"at"`
}

type apiClusterWithheld struct {
	Prefix string `json:"prefix"`
	Why    string `json:"why"`
}

type apiBGPSession struct {
	Peer      string    `json:"peer"`
	AS        uint32    `json:"as"`
	State     string    `json:"state"`
	Since     time.Time `json:"since,omitzero"`
	HoldTime  float64   `json:"hold_time"` // seconds, negotiated
	Announced int       `json:"announced"`
}

type apiClusterDirector struct {
	Address   string          `json:"address"`
	Self      bool            `json:"self"`
	Reachable bool            `json:"reachable"`
	Err       string          `json:"error,omitempty"`
	Heard     time.Time       `json:"heard,omitzero"`
	Serial    int64           `json:"serial"`
	Healthy   bool            `json:"healthy"`
	Draining  bool            `json:"draining"`
	Announced []string        `json:"announced"`
	Sessions  []apiBGPSession `json:"sessions"`
	Traffic   cluster.Traffic `json:"traffic"`
}

// clusterStatus is the status's cluster part; nil unless in cluster mode.
func (c *Console) clusterStatus() *apiCluster {
	if c.cluster == nil {
		return nil
	}
	st := c.cluster.Status()
	if !st.Enabled {
		return nil
	}
	out := &apiCluster{Enabled: true, Self: addrString(st.Self), RouterID: addrString(st.RouterID), Serial: st.Serial,
		Healthy: st.Healthy, Draining: st.Draining, Announced: prefixStrings(st.Announced), Withheld: []apiClusterWithheld{},
		Sessions: apiSessions(st.Sessions), Traffic: st.Traffic, Directors: []apiClusterDirector{}, Warnings: nonNil(st.Warnings),
		At: st.At.UTC()}
	for _, w := range st.Withheld {
		out.Withheld = append(out.Withheld, apiClusterWithheld{Prefix: w.Prefix.String(), Why: w.Why})
	}
	for _, d := range st.Directors {
		out.Directors = append(out.Directors, apiClusterDirector{Address: addrString(d.Addr), Self: d.Self, Reachable: d.Reachable,
			Err: d.Err, Heard: d.Heard.UTC(), Serial: d.Serial, Healthy: d.Healthy, Draining: d.Draining,
			Announced: prefixStrings(d.Announced), Sessions: apiSessions(d.Sessions), Traffic: d.Traffic})
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func apiSessions(ss []cluster.Session) []apiBGPSession {
	out := make([]apiBGPSession, len(ss))
	for i, s := range ss {
		out[i] = apiBGPSession{Peer: addrString(s.Peer), AS: s.AS, State: s.State, Since: s.Since.UTC(),
			HoldTime: s.HoldTime.Seconds(), Announced: s.Announced}
	}
	return out
}
