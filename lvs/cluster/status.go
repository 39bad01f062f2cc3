// Package cluster runs a director in cluster mode (issue 19,
// docs/bgp.md): every director active behind the routers' ECMP, the VIPs
// on the loopback, their host routes announced over BGP while this
// director can serve them, and one configuration synced to every
// director (the highest serial wins).
package cluster

import (
	"net/netip"
	"time"
)

// Status is what a director in cluster mode reports: on its console, in
// /metrics, and to the other directors (sealed, at the peer endpoint
// /peer/v2/cluster) for their cluster view. It is JSON on that wire:
// fields are added, never renamed.
type Status struct {
	Enabled  bool       `json:"enabled"`            // the configuration is in cluster mode
	Self     netip.Addr `json:"self,omitzero"`      // this director's address in the list (invalid: none of this host's)
	RouterID netip.Addr `json:"router_id,omitzero"` // its BGP router id
	Serial   int64      `json:"serial"`             // of its configuration
	// Digest names its configuration's content, the serial aside (the
	// SHA-256 of its lvs.cf): two directors at the same serial with
	// different digests disagree, and the sync settles it.
	Digest string `json:"digest,omitempty"`
	// Healthy: the engine reconciled the last configuration; announcing
	// needs it.
	Healthy   bool           `json:"healthy"`
	Draining  bool           `json:"draining"`            // a clean stop: GRACEFUL_SHUTDOWN sent, waiting for the drain
	Announced []netip.Prefix `json:"announced"`           // the host routes announced now
	Withheld  []Withheld     `json:"withheld,omitempty"`  // VIPs of active virtual servers not announced, and why
	Sessions  []Session      `json:"sessions"`            // its BGP sessions
	Traffic   Traffic        `json:"traffic"`             // its IPVS table's totals
	Directors []Director     `json:"directors,omitempty"` // every listed director, itself included, as last heard
	Warnings  []string       `json:"warnings,omitempty"`
	At        time.Time      `json:"at"` // when this was true
}

// Withheld is a VIP this director does not announce.
type Withheld struct {
	Prefix netip.Prefix `json:"prefix"`
	Why    string       `json:"why"` // "no real server up", "engine not reconciled", "announce off", "draining"
}

// Session is one BGP session with a router.
type Session struct {
	Peer      netip.Addr    `json:"peer"`
	AS        uint32        `json:"as"`
	State     string        `json:"state"` // BGP FSM state: idle, connect, active, opensent, openconfirm, established
	Since     time.Time     `json:"since,omitzero"`
	HoldTime  time.Duration `json:"hold_time"` // negotiated
	Announced int           `json:"announced"` // prefixes announced on it
}

// Traffic is the totals of a director's IPVS table (its last sample).
type Traffic struct {
	ActiveConns    uint64  `json:"active_conns"`
	InactiveConns  uint64  `json:"inactive_conns"`
	ConnsPerSec    float64 `json:"conns_per_sec"`
	InBytesPerSec  float64 `json:"in_bytes_per_sec"`
	OutBytesPerSec float64 `json:"out_bytes_per_sec"`
}

// Director is one director of the cluster as this one last heard it.
type Director struct {
	Addr      netip.Addr     `json:"addr"`
	Self      bool           `json:"self"`
	Reachable bool           `json:"reachable"`
	Err       string         `json:"err,omitempty"` // why it was not heard
	Heard     time.Time      `json:"heard,omitzero"`
	Serial    int64          `json:"serial"`
	Digest    string         `json:"digest,omitempty"`
	Healthy   bool           `json:"healthy"`
	Draining  bool           `json:"draining"`
	Announced []netip.Prefix `json:"announced"`
	Sessions  []Session      `json:"sessions"`
	Traffic   Traffic        `json:"traffic"`
}
