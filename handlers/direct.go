package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/direct"
	"github.com/lvsconsole/lvsconsole/web"
)

// DRProbe checks that a real server accepts traffic for a VIP as direct
// routing sends it (a SYN for VIP:port to the real server's MAC address),
// bounded and cached; *drcheck.Checker provides it.
type DRProbe interface {
	// Check checks t, or returns a recent result.
	Check(ctx context.Context, t direct.Target) direct.Result
	// Last is t's latest result, without checking.
	Last(t direct.Target) (direct.Result, bool)
}

// directTarget is what the check of rs within vs asks, and whether there
// is anything to ask: a firewall-mark service on port 0 has no port.
func directTarget(vs *config.VirtualServer, rs *config.RealServer) (direct.Target, bool) {
	port := rs.EffectivePort(vs)
	t := direct.Target{VIP: vs.Address, Port: uint16(port), Real: rs.Address}
	return t, port > 0 && port < 65536 && t.VIP.IsValid() && t.Real.IsValid()
}

// directRouting is the "Direct routing" panel of vs's REAL SERVER tab; nil
// when no real server of vs is forwarded by direct routing.
func (c *Console) directRouting(cfg *config.Config, vs *config.VirtualServer) *web.DirectRouting {
	snippets := direct.Snippets(cfg, vs)
	if len(snippets) == 0 {
		return nil
	}
	dr := &web.DirectRouting{Checkable: c.drProbe != nil}
	if vs.Port > 0 {
		dr.Port = itoa(vs.Port)
	}
	for _, s := range snippets {
		srv := web.DirectServer{Names: strings.Join(s.Names, ", "), Snippet: s}
		for i := range vs.Reals {
			if rs := &vs.Reals[i]; rs.Address == s.Real {
				srv.RealID = rs.ID
				if t, ok := directTarget(vs, rs); ok && c.drProbe != nil {
					if r, ok := c.drProbe.Last(t); ok {
						srv.Check = &r
					}
				}
				break
			}
		}
		dr.Servers = append(dr.Servers, srv)
	}
	return dr
}

// drCheck is CHECK beside a direct-routing real server: it checks the
// server (or takes a result of a few seconds ago) and shows the tab again,
// where the result is. The target comes from the configuration, never
// from the request.
func (c *Console) drCheck(w http.ResponseWriter, r *http.Request) {
	_, _, vs, ok := c.loadVirtual(w, r)
	if !ok {
		return
	}
	_, rs := realByID(vs, idParam(r, "rid"))
	if rs == nil || c.drProbe == nil {
		c.notFound(w, r)
		return
	}
	back := fmt.Sprintf("/virtual/%d/real#direct-routing", vs.ID)
	cfg, _, _ := c.editing(r)
	if cfg != nil && rs.EffectiveForward(&cfg.Global) != config.Direct {
		setFlash(w, r, fmt.Sprintf("%s is not forwarded by direct routing: nothing to check.", rs.Name))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	t, ok := directTarget(vs, rs)
	if !ok {
		setFlash(w, r, fmt.Sprintf("%s cannot be checked: its virtual server has no address or port yet.", rs.Name))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	// The answer shows beside the server (from Last): a flash would
	// colour a failure as a success.
	c.drProbe.Check(r.Context(), t)
	setFlash(w, r, fmt.Sprintf("Checked real server %s (%s) for VIP %s: the answer is under Direct routing.", rs.Name, config.FormatAddr(rs.Address), config.FormatAddr(vs.Address)))
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// apiDirect is GET /virtual/{vid}/direct: the Direct routing panel's
// snippets, and the latest check of each real server.
func (c *Console) apiDirect(w http.ResponseWriter, r *http.Request) {
	cfg, ok := c.apiRead(w, r)
	if !ok {
		return
	}
	vid := idParam(r, "vid")
	_, vs := virtualByID(cfg, vid)
	if vs == nil {
		c.apiRefuse(w, r, noVirtual(vid), nil)
		return
	}
	type file struct {
		Path    string `json:"path"`
		Note    string `json:"note"`
		Content string `json:"content"`
	}
	type vip struct {
		Address  string   `json:"address"`
		Services []string `json:"services"`
	}
	type check struct {
		Outcome    string  `json:"outcome"`
		AcceptsVIP bool    `json:"accepts_vip"`
		Text       string  `json:"text"`
		RTTMs      float64 `json:"rtt_ms"`
		At         string  `json:"at"`
	}
	type server struct {
		Address  string   `json:"address"`
		Names    []string `json:"names"`
		VIPs     []vip    `json:"vips"`
		Commands string   `json:"commands"`
		Files    []file   `json:"files"`
		Other    string   `json:"other"`
		Check    *check   `json:"check,omitempty"`
	}
	out := struct {
		Serial    int64    `json:"serial"`
		VirtualID int64    `json:"virtual_id"`
		Servers   []server `json:"servers"`
	}{cfg.Serial, vid, []server{}}
	if dr := c.directRouting(cfg, vs); dr != nil {
		for _, s := range dr.Servers {
			srv := server{Address: s.Snippet.Real.String(), Names: s.Snippet.Names, Commands: s.Snippet.Commands, Other: s.Snippet.Other}
			for _, v := range s.Snippet.VIPs {
				srv.VIPs = append(srv.VIPs, vip{v.Addr.String(), v.Services})
			}
			for _, f := range s.Snippet.Files {
				srv.Files = append(srv.Files, file(f))
			}
			if r := s.Check; r != nil {
				srv.Check = &check{Outcome: outcomeNames[r.Outcome], AcceptsVIP: r.AcceptsVIP(), Text: r.String(),
					RTTMs: float64(r.RTT.Microseconds()) / 1000, At: r.At.UTC().Format(time.RFC3339)}
			}
			out.Servers = append(out.Servers, srv)
		}
	}
	writeResource(w, http.StatusOK, cfg.Serial, out)
}

// outcomeNames are the API's words for a check's outcome.
var outcomeNames = map[direct.Outcome]string{
	direct.Failed: "failed", direct.Accepted: "accepted", direct.Refused: "refused",
	direct.Silent: "silent", direct.ICMP: "icmp",
}
