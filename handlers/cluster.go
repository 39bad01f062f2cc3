package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/web"
)

// ClusterSource tells the state of cluster mode (issue 19): this
// director's BGP sessions and announcements, and the other directors as
// last heard. lvs/cluster's runtime provides it.
type ClusterSource interface {
	Status() cluster.Status
}

// errNotServed is a peer request for something this director does not
// serve: answered 404 once the request is verified (a stranger gets the
// same 401 as for anything else).
var errNotServed = errors.New("not served by this director")

// peerCluster serves this director's cluster status to the other
// directors of the cluster, as peerConfig serves the configuration:
// signed requests only, the answer sealed for the request. Without a
// ClusterSource (not wired in this process) it answers 404.
func (c *Console) peerCluster(w http.ResponseWriter, r *http.Request) {
	c.peerAnswer(w, r, "the cluster status", func(r *http.Request) ([]byte, error) {
		if c.cluster == nil {
			return nil, errNotServed
		}
		return json.Marshal(cluster.ForPeer(c.cluster.Status()))
	})
}

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
