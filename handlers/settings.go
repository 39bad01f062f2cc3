package handlers

import (
	"net/http"
	"strconv"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/web"
)

func itoa[T ~int | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }

func globalForm(c *config.Config, st stamp) *web.Form {
	return formOf(config.GlobalFields, config.TabGlobal, &c.Global, st)
}

func readGlobal(f *formReader) config.Global {
	return readOver(f, config.GlobalFields, config.TabGlobal, config.Global{})
}

func (c *Console) globalPage(w http.ResponseWriter, r *http.Request) {
	cfg, st, err := c.editing(r)
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	p := c.page(w, r, "Global settings", web.TabGlobal, st.serial)
	c.render(w, r, http.StatusOK, web.Global(p, globalForm(cfg, st)))
}

func (c *Console) saveGlobal(w http.ResponseWriter, r *http.Request) {
	f := newFormReader(r)
	g := readGlobal(f)
	c.saveSettings(w, r, f, "global", func(cfg *config.Config) { cfg.Global = g },
		func(p web.Page, code int) {
			p.Title, p.Tab = "Global settings", web.TabGlobal
			c.render(w, r, code, web.Global(p, f.form))
		}, "/global", "Global settings saved.")
}

// saveSettings saves the global or redundancy settings read from a form.
func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request, f *formReader, section string,
	set func(*config.Config), again func(web.Page, int), done, okMsg string) {
	_, ok := c.apply(w, r, f, func(cfg *config.Config) error { set(cfg); return nil },
		func() scope { return scope{sections: []string{section}, virtual: -1, real: -1} }, done, again)
	if !ok {
		return
	}
	setFlash(w, r, okMsg+" "+c.pendingNote(r))
	http.Redirect(w, r, done, http.StatusSeeOther)
}

func redundancyForm(c *config.Config, st stamp) *web.Form {
	return formOf(config.RedundancyFields, config.TabRedundancy, &c.Redundancy, st)
}

func readRedundancy(f *formReader) config.Redundancy {
	return readOver(f, config.RedundancyFields, config.TabRedundancy, config.Redundancy{})
}

func (c *Console) redundancyPage(w http.ResponseWriter, r *http.Request) {
	cfg, st, err := c.editing(r)
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	p := c.page(w, r, "Redundancy", web.TabRedundancy, st.serial)
	f := redundancyForm(cfg, st)
	c.noteSecret(r, f, cfg)
	made := c.handoffs.take(w, r) // a secret just generated, shown this once
	c.render(w, r, http.StatusOK, web.Redundancy(p, f, c.secretView(r, web.NewForm(0), made.Secret)))
}

func (c *Console) renderRedundancy(w http.ResponseWriter, r *http.Request, f *web.Form) func(web.Page, int) {
	return func(p web.Page, code int) {
		p.Title, p.Tab = "Redundancy", web.TabRedundancy
		c.render(w, r, code, web.Redundancy(p, f, c.secretView(r, web.NewForm(0), "")))
	}
}

func (c *Console) saveRedundancy(w http.ResponseWriter, r *http.Request) {
	f := newFormReader(r)
	rd := readRedundancy(f)
	c.saveSettings(w, r, f, "redundancy", func(cfg *config.Config) { cfg.Redundancy = rd },
		c.renderRedundancy(w, r, f.form), "/redundancy", "Redundancy saved.")
}

// resetRedundancy is piranha's RESET: back to 0.0.0.0, 6 s, 18 s, 539.
func (c *Console) resetRedundancy(w http.ResponseWriter, r *http.Request) {
	f := newFormReader(r)
	readRedundancy(f) // keeps the user's values for showing them again if refused
	f.form.Errs = map[string]string{}
	c.saveSettings(w, r, f, "redundancy", func(cfg *config.Config) { cfg.Redundancy = config.DefaultRedundancy() },
		c.renderRedundancy(w, r, f.form), "/redundancy", "Redundancy reset to the defaults.")
}
