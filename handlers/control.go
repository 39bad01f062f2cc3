package handlers

import (
	"net/http"

	"github.com/lvsconsole/lvsconsole/web"
)

// control is the CONTROL/MONITORING page: for now the daemon state and the
// configured table; the live IPVS table comes with the engine.
func (c *Console) control(w http.ResponseWriter, r *http.Request) {
	cfg, err := c.store.Config(r.Context())
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	v := web.ControlView{
		Engine: "this version of lvsconsole keeps the configuration but does not program IPVS yet",
		Serial: cfg.Serial,
	}
	if revs, err := c.store.Revisions(r.Context(), 0, 1); err == nil && len(revs) == 1 {
		row := revisionRow(revs[0], cfg.Serial)
		v.Last = &row
	}
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		cv := web.ControlVirtual{VirtualRow: virtualRow(vs), Service: vs.ServiceString()}
		for j := range vs.Reals {
			cv.Reals = append(cv.Reals, realRow(cfg, vs, &vs.Reals[j]))
		}
		v.Virtuals = append(v.Virtuals, cv)
	}
	c.render(w, r, http.StatusOK, web.Control(c.page(w, r, "Control / monitoring", web.TabControl, cfg.Serial), v))
}
