package handlers

import (
	"net/http"

	"github.com/lvsconsole/lvsconsole/lvs/config"

	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/web"
)

// StatusSource tells what the engine is doing; *engine.Engine provides it.
// Handlers only read it: they never talk to the kernel.
type StatusSource interface {
	Status() engine.Status
}

// HealthSource tells the state of the health checks; *engine.Checks
// provides it.
type HealthSource interface {
	Of(vs *config.VirtualServer, rs *config.RealServer) (engine.ServerHealth, bool)
	Events(n int) []engine.Event
}

// control is the CONTROL/MONITORING page: the engine's state, the IPVS
// table (live, or the one it would program) and the configured servers.
func (c *Console) control(w http.ResponseWriter, r *http.Request) {
	cfg, err := c.store.Config(r.Context())
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	v := web.ControlView{Serial: cfg.Serial}
	c.engineView(&v)
	v.Failover = c.failoverView()
	if revs, err := c.store.Revisions(r.Context(), 0, 1); err == nil && len(revs) == 1 {
		row := revisionRow(revs[0], cfg.Serial)
		v.Last = &row
	}
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		cv := web.ControlVirtual{VirtualRow: virtualRow(vs), Service: vs.ServiceString()}
		for j := range vs.Reals {
			cv.Reals = append(cv.Reals, c.withHealth(realRow(cfg, vs, &vs.Reals[j]), vs, &vs.Reals[j]))
		}
		v.Virtuals = append(v.Virtuals, cv)
	}
	if c.health != nil {
		for _, ev := range c.health.Events(20) {
			v.Events = append(v.Events, web.HealthEvent{When: ev.Time, Server: ev.Server, From: ev.From, To: ev.To, Reason: ev.Reason})
		}
	}
	c.render(w, r, http.StatusOK, web.Control(c.page(w, r, "Control / monitoring", web.TabControl, cfg.Serial), v))
}

func (c *Console) engineView(v *web.ControlView) {
	if c.engine == nil {
		v.Engine = "the engine is not running in this process"
		return
	}
	st := c.engine.Status()
	v.Applied, v.Changes, v.Errors = st.Serial, st.Changes, st.Errors
	switch {
	case !st.Running:
		v.Engine = "the engine has stopped"
	case !st.Available:
		v.Engine = st.Reason
	default:
		v.EngineOK, v.Engine = true, "programming IPVS"
	}
	table := st.Desired
	if st.Available && st.Kernel != nil {
		v.Live, table = true, st.Kernel
	}
	if table == nil {
		return
	}
	names := map[string]string{}
	if st.Desired != nil {
		for _, s := range st.Desired.Services {
			names[engine.ServiceText(s.ServiceKey)] = s.Virtual
		}
	}
	for _, s := range table.Services {
		key := engine.ServiceText(s.ServiceKey)
		row := web.IPVSService{Service: key, Scheduler: s.Scheduler, Flags: engine.FlagsText(&s.Service), Virtual: names[key]}
		for _, d := range s.Dests {
			row.Dests = append(row.Dests, web.IPVSDest{
				Addr: engine.AddrPort(d.Addr, d.Port), Forward: d.Forward.String(), Weight: d.Weight,
				Active: d.ActiveConns, Inactive: d.InactiveConns,
			})
		}
		v.Table = append(v.Table, row)
	}
}
