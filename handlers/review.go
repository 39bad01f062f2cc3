package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// Previewer says what a configuration would send to this director's
// kernel now, without sending anything; *engine.Engine provides it.
type Previewer interface {
	Preview(ctx context.Context, cfg *config.Config) (*engine.Plan, error)
}

// Host tells REVIEW's warnings about this director: its network
// interfaces and whether it forwards packets. serve gives the real one.
type Host interface {
	Interfaces() ([]string, error)
	Forwarding(ipv4 bool) (bool, error)
}

// Prober checks a real server once, as its virtual server's check does,
// for REVIEW's warnings; *engine.Checks provides it.
type Prober interface {
	Probe(ctx context.Context, vs *config.VirtualServer, rs *config.RealServer) (ok bool, reason string)
}

// Bounds on REVIEW's one-off checks: a few, at once, briefly.
const (
	maxProbes    = 16
	probeTimeout = 2 * time.Second
)

// review is what REVIEW shows of user's pending changes.
func (c *Console) review(ctx context.Context, user string) (web.Review, error) {
	var v web.Review
	d, err := c.store.Draft(ctx, user)
	if err != nil {
		return v, err
	}
	running, err := c.store.Config(ctx)
	if err != nil {
		return v, err
	}
	v.Version, v.Serial = d.Version, running.Serial
	for _, cf := range d.Conflicts(running) {
		v.Conflicts = append(v.Conflicts, cf.String())
	}
	draft := d.Config
	v.Changes = config.Diff(running, draft)
	v.Choices, v.Unit = rollbackChoices, c.unitName(2)

	switch {
	case c.preview == nil:
		v.PlanNote = "No IPVS engine runs in this console, so it cannot say what the kernel would be sent."
	default:
		p, err := c.preview.Preview(ctx, draft)
		if err != nil {
			v.PlanNote = fmt.Sprintf("The plan could not be computed: %v.", err)
			break
		}
		v.Ipvsadm = p.Ipvsadm()
		for _, r := range p.Refused {
			v.Refused = append(v.Refused, r.Error())
		}
		if p.Empty() {
			v.PlanNote = "Nothing: the kernel's table stays as it is."
		}
	}
	role := c.role()
	v.Addresses = addressChanges(running, draft, role)
	v.Checks = checkChanges(running, draft)
	for _, p := range config.NewPrograms(running, draft) {
		v.Programs = append(v.Programs, fmt.Sprintf("%s: %s", p, p.Command))
	}
	v.Standby = c.standbyWillReceive(running, draft)
	v.Warnings = c.reviewWarnings(ctx, running, draft)
	v.CanApply = len(v.Conflicts) == 0 && len(v.Changes) > 0
	return v, nil
}

// role is this director's part in a pair, for what goes up where.
func (c *Console) role() failover.Status {
	if c.failover == nil {
		return failover.Status{}
	}
	return c.failover.Status()
}

// address is a floating address a configuration brings up.
type address struct {
	addr netip.Addr
	mask config.Netmask
	dev  string
	what string
}

func (a address) String() string {
	s := a.addr.String()
	if a.mask.IsSet() {
		s += "/" + fmt.Sprint(a.mask.Bits())
	}
	if a.dev != "" {
		s += " on " + a.dev
	}
	return s + " (" + a.what + ")"
}

func (a address) key() string { return a.addr.String() + "|" + a.dev }

// addresses lists the floating addresses c brings up on the active
// director: each active virtual server's VIP and the NAT router address.
func addresses(c *config.Config) []address {
	var out []address
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		if vs.Active && vs.Address.IsValid() && !vs.Address.IsUnspecified() && !vs.IsFWMark() {
			out = append(out, address{vs.Address, vs.Netmask, vs.Device, "virtual server " + vs.Name})
		}
	}
	if g := c.Global; g.Network == config.NAT && g.NATRouter.IsValid() && !g.NATRouter.IsUnspecified() {
		out = append(out, address{g.NATRouter, g.NATNetmask, g.NATRouterDevice, "NAT router"})
	}
	return out
}

// addressChanges says which addresses go up and down, and where.
func addressChanges(running, draft *config.Config, role failover.Status) []string {
	where := "on this director now"
	switch {
	case draft.Redundancy.Cluster:
		// Every director puts the VIPs on its loopback and announces them.
		where = "on every director of the cluster (on lo, announced over BGP while healthy)"
	case role.Pair && role.Role == failover.Standby:
		where = "on the active director now (here only after a failover)"
	case role.Pair && role.Role == failover.Active:
		where = "on this director, the active, now (on the standby only after a failover)"
	case role.Pair:
		where = "on whichever director becomes active"
	}
	was, will := map[string]address{}, map[string]address{}
	for _, a := range addresses(running) {
		was[a.key()] = a
	}
	for _, a := range addresses(draft) {
		will[a.key()] = a
	}
	var out []string
	for _, a := range addresses(draft) {
		if _, ok := was[a.key()]; !ok {
			out = append(out, fmt.Sprintf("up %s: %s", where, a))
		}
	}
	for _, a := range addresses(running) {
		if _, ok := will[a.key()]; !ok {
			out = append(out, fmt.Sprintf("down %s: %s", where, a))
		}
	}
	return out
}

// checks lists the health checks c runs: one per active real server of
// an active virtual server, named with how it checks.
func checks(c *config.Config) map[string]string {
	out := map[string]string{}
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		if !vs.Active {
			continue
		}
		kind := vs.CheckKind
		if kind == "" {
			kind = "send/expect"
			if vs.SendProgram != "" {
				kind = "program"
			}
		}
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if !rs.Active || !rs.Address.IsValid() {
				continue
			}
			target := netip.AddrPortFrom(rs.Address, uint16(rs.EffectivePort(vs)))
			name := fmt.Sprintf("real server %s of %s (%s)", rs.Name, vs.Name, target)
			out[name] = fmt.Sprintf("%s, every %s", kind, config.FormatSeconds(max(vs.CheckInterval, vs.CheckTimeout))+" s")
		}
	}
	return out
}

// checkChanges says which checks start, stop or change.
func checkChanges(running, draft *config.Config) []string {
	was, will := checks(running), checks(draft)
	var out []string
	for name, how := range will {
		switch old, ok := was[name]; {
		case !ok:
			out = append(out, fmt.Sprintf("start: %s: %s", name, how))
		case old != how:
			out = append(out, fmt.Sprintf("change: %s: %s, was %s", name, how, old))
		}
	}
	for name, how := range was {
		if _, ok := will[name]; !ok {
			out = append(out, fmt.Sprintf("stop: %s: %s", name, how))
		}
	}
	slices.Sort(out)
	return out
}

// standbyWillReceive says whether the standby director, or in cluster
// mode the other directors, get the change.
func (c *Console) standbyWillReceive(running, draft *config.Config) string {
	if running.Redundancy.Cluster || draft.Redundancy.Cluster {
		return c.clusterWillReceive()
	}
	st := c.role()
	switch {
	case !st.Pair:
		return "No backup director is configured: the change stays on this director."
	case st.Role == failover.Standby:
		return "This is the standby: make the change on the active director."
	case !st.Pulse.Peer.Heard:
		return "The standby is not heard now: it takes the change when it is heard again."
	case !st.InSync:
		return fmt.Sprintf("The standby is heard but not in sync (this director is at serial %d): it takes the change at its next sync.", st.Serial)
	}
	return "The standby is heard and in sync: it takes the change at once."
}

// clusterWillReceive says which other directors of the cluster take the
// change: each polls every other and takes the highest serial.
func (c *Console) clusterWillReceive() string {
	const how = "The other directors of the cluster take the change at their next poll of this one (every 3 s), the highest serial winning"
	if c.cluster == nil {
		return how + "."
	}
	var gone []string
	for _, d := range c.cluster.Status().Directors {
		if !d.Self && !d.Reachable {
			gone = append(gone, d.Addr.String())
		}
	}
	if len(gone) == 0 {
		return how + "."
	}
	they := "it takes it"
	if len(gone) > 1 {
		they = "they take it"
	}
	return fmt.Sprintf("%s; %s not reachable now: %s when reachable again.", how, strings.Join(gone, ", "), they)
}

// reviewWarnings are what the admin should know before APPLY.
func (c *Console) reviewWarnings(ctx context.Context, running, draft *config.Config) []string {
	var out []string
	if c.host != nil {
		if names, err := c.host.Interfaces(); err == nil {
			have := map[string]bool{}
			for _, n := range names {
				have[n] = true
			}
			for _, a := range addresses(draft) {
				if dev, _, _ := strings.Cut(a.dev, ":"); dev != "" && !have[dev] {
					out = append(out, fmt.Sprintf("%s: there is no interface %s on this director.", a, dev))
				}
			}
		}
		if draft.Global.Network == config.NAT {
			for _, v4 := range []bool{true, false} {
				if !draft.UsesFamily(v4) {
					continue
				}
				if on, err := c.host.Forwarding(v4); err == nil && !on {
					key := "net.ipv4.ip_forward"
					if !v4 {
						key = "net.ipv6.conf.all.forwarding"
					}
					out = append(out, fmt.Sprintf("NAT needs %s = 1 on the directors; it is 0 here, so replies from the real servers would go nowhere.", key))
				}
			}
		}
	}
	for _, w := range draft.ClusterWarnings() {
		out = append(out, w.String()+".")
	}
	out = append(out, c.lastHealthy(running, draft)...)
	out = append(out, c.unreachable(ctx, running, draft)...)
	return out
}

// lastHealthy warns of a change that leaves an active virtual server
// without any of the real servers that are up now.
func (c *Console) lastHealthy(running, draft *config.Config) []string {
	if c.health == nil {
		return nil
	}
	var out []string
	for i := range running.Virtuals {
		was := &running.Virtuals[i]
		_, now := virtualByID(draft, was.ID)
		if !was.Active || now == nil || !now.Active {
			continue
		}
		up, left := 0, 0
		for j := range was.Reals {
			h, ok := c.health.Of(was, &was.Reals[j])
			if !ok || h.State != "up" {
				continue
			}
			up++
			if _, rs := realByID(now, was.Reals[j].ID); rs != nil && rs.Active && rs.Address == was.Reals[j].Address {
				left++
			}
		}
		if up > 0 && left == 0 {
			out = append(out, fmt.Sprintf("virtual server %s: the change removes every real server that is up now: it would serve nobody.", now.Name))
		}
	}
	return out
}

// unreachable checks, once, the real servers the change adds or moves
// (at most maxProbes, at once, for probeTimeout), with their virtual
// server's check; a program is not run for a review.
func (c *Console) unreachable(ctx context.Context, running, draft *config.Config) []string {
	if c.probe == nil {
		return nil
	}
	type job struct {
		vs *config.VirtualServer
		rs *config.RealServer
	}
	var jobs []job
	old := checks(running)
	for i := range draft.Virtuals {
		vs := &draft.Virtuals[i]
		if !vs.Active || vs.SendProgram != "" && (vs.CheckKind == "" || vs.CheckKind == "program") {
			continue
		}
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if !rs.Active || !rs.Address.IsValid() {
				continue
			}
			target := netip.AddrPortFrom(rs.Address, uint16(rs.EffectivePort(vs)))
			if _, ok := old[fmt.Sprintf("real server %s of %s (%s)", rs.Name, vs.Name, target)]; ok {
				continue // checked already: its health says
			}
			if len(jobs) < maxProbes {
				jobs = append(jobs, job{vs, rs})
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	out := make([]string, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, why := c.probe.Probe(ctx, j.vs, j.rs); !ok {
				out[i] = fmt.Sprintf("real server %s of %s does not answer its check now: %s.", j.rs.Name, j.vs.Name, why)
			}
		}()
	}
	wg.Wait()
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// reviewPage is REVIEW.
func (c *Console) reviewPage(w http.ResponseWriter, r *http.Request) {
	c.renderReview(w, r, http.StatusOK, "")
}

// renderReview shows REVIEW, with problem (if any) at the top.
func (c *Console) renderReview(w http.ResponseWriter, r *http.Request, code int, problem string) {
	p := c.page(w, r, "Review pending changes", "", 0)
	p.Warnings = c.handoffs.take(w, r).Warnings // an import's, shown once
	v, err := c.review(r.Context(), userOf(r))
	switch {
	case err == nil:
	case err == store.ErrNoDraft:
		v.Empty = true
	default:
		c.serverError(w, r, "reviewing the pending changes", err)
		return
	}
	if problem != "" {
		p.Errors, p.ErrorsHead = []string{problem}, "Nothing was applied:"
	}
	c.render(w, r, code, web.ReviewPage(p, v))
}
