package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// errGone is returned when the entry a request names no longer exists.
var errGone = errors.New("no such entry")

func idParam(r *http.Request, name string) int64 {
	id, _ := strconv.ParseInt(chi.URLParam(r, name), 10, 64)
	return id
}

func virtualByID(cfg *config.Config, id int64) (int, *config.VirtualServer) {
	for i := range cfg.Virtuals {
		if cfg.Virtuals[i].ID == id {
			return i, &cfg.Virtuals[i]
		}
	}
	return -1, nil
}

func realByID(vs *config.VirtualServer, id int64) (int, *config.RealServer) {
	for i := range vs.Reals {
		if vs.Reals[i].ID == id {
			return i, &vs.Reals[i]
		}
	}
	return -1, nil
}

func shownAddr(vs *config.VirtualServer) string {
	if !vs.Address.IsValid() || vs.Address.IsUnspecified() {
		return "—"
	}
	return vs.Address.String()
}

func virtualRow(vs *config.VirtualServer) web.VirtualRow {
	row := web.VirtualRow{
		ID: vs.ID, Name: vs.Name, Active: vs.Active, Address: shownAddr(vs),
		Netmask: vs.Netmask.Format(vs.Address.Is6()), Port: itoa(vs.Port), Protocol: string(vs.Protocol),
		Device: vs.Device, Scheduler: vs.Scheduler, Reals: len(vs.Reals),
	}
	if !vs.Netmask.IsSet() && vs.Address.IsValid() && !vs.Address.IsUnspecified() {
		// As failover brings the address up.
		row.Netmask, row.NetmaskDefault = config.MaskBits(vs.Address.BitLen()).Format(vs.Address.Is6()), true
	}
	if vs.IsFWMark() {
		row.Port = fmt.Sprintf("fwmark %d", vs.FWMark)
	}
	for _, rs := range vs.Reals {
		if rs.Active {
			row.Live++
		}
	}
	return row
}

func realRow(cfg *config.Config, vs *config.VirtualServer, rs *config.RealServer) web.RealRow {
	addr := config.FormatAddr(rs.Address)
	if rs.Address.IsUnspecified() {
		addr = "—"
	}
	return web.RealRow{
		ID: rs.ID, Name: rs.Name, Active: rs.Active, Address: addr,
		Port: itoa(rs.EffectivePort(vs)), Weight: rs.Weight, Forward: string(rs.EffectiveForward(&cfg.Global)),
		Draining: rs.Draining && rs.Active, DrainSince: rs.DrainSince,
	}
}

func head(vs *config.VirtualServer, sub string) web.VirtualHead {
	return web.VirtualHead{ID: vs.ID, Name: vs.Name, Active: vs.Active, Service: vs.ServiceString(), Sub: sub}
}

func (c *Console) virtualList(w http.ResponseWriter, r *http.Request) {
	cfg, st, err := c.editing(r)
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	c.renderVirtualList(w, r, c.page(w, r, "", "", st.serial), cfg, http.StatusOK)
}

func (c *Console) renderVirtualList(w http.ResponseWriter, r *http.Request, p web.Page, cfg *config.Config, code int) {
	p.Title, p.Tab = "Virtual servers", web.TabVirtual
	pg := web.Pager{Base: "/virtual", Query: listQuery(r, virtualStates), States: virtualStates, Total: len(cfg.Virtuals)}
	m := newMatcher(pg.Query.Q)
	var found []int
	for i := range cfg.Virtuals {
		if c.virtualMatches(&cfg.Virtuals[i], m, pg.Query.State) {
			found = append(found, i)
		}
	}
	lo, hi := pg.Paginate(len(found))
	rows := make([]web.VirtualRow, 0, hi-lo)
	for _, i := range found[lo:hi] {
		rows = append(rows, virtualRow(&cfg.Virtuals[i]))
	}
	c.render(w, r, code, web.VirtualList(p, rows, pg))
}

func virtualForm(vs *config.VirtualServer, st stamp) *web.Form {
	return formOf(config.VirtualFields, config.TabVirtual, vs, st)
}

// readVirtual reads the VIRTUAL SERVER tab's fields over base, which keeps
// what other tabs edit (real servers, monitoring scripts).
func readVirtual(f *formReader, base config.VirtualServer) config.VirtualServer {
	return readOver(f, config.VirtualFields, config.TabVirtual, base)
}

// loadVirtual reads the configuration and the virtual server the URL names,
// answering 404 itself when there is none.
func (c *Console) loadVirtual(w http.ResponseWriter, r *http.Request) (*config.Config, stamp, *config.VirtualServer, bool) {
	cfg, st, err := c.editing(r)
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return nil, st, nil, false
	}
	_, vs := virtualByID(cfg, idParam(r, "vid"))
	if vs == nil {
		c.notFound(w, r)
		return nil, st, nil, false
	}
	return cfg, st, vs, true
}

// newVirtualHead is the frame of ADD's form.
var newVirtualHead = web.VirtualHead{Name: "new", Sub: web.SubVirtual, New: true}

// virtualTitle is the heading of a virtual server's form, the same before
// and after a refusal.
func virtualTitle(h web.VirtualHead) string {
	if h.New {
		return "New virtual server"
	}
	return "Virtual server " + h.Name
}

func (c *Console) newVirtualPage(w http.ResponseWriter, r *http.Request) {
	_, st, err := c.editing(r)
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	vs := config.NewVirtual("")
	p := c.page(w, r, virtualTitle(newVirtualHead), web.TabVirtual, st.serial)
	c.render(w, r, http.StatusOK, web.VirtualEdit(p, newVirtualHead, virtualForm(&vs, st), c.loadKeyView()))
}

func (c *Console) virtualPage(w http.ResponseWriter, r *http.Request) {
	_, st, vs, ok := c.loadVirtual(w, r)
	if !ok {
		return
	}
	h := head(vs, web.SubVirtual)
	p := c.page(w, r, virtualTitle(h), web.TabVirtual, st.serial)
	c.render(w, r, http.StatusOK, web.VirtualEdit(p, h, virtualForm(vs, st), c.loadKeyView()))
}

// saveVirtual is ACCEPT on the VIRTUAL SERVER tab, of a new virtual server
// (/virtual/new) or an existing one (an id that names none is 404).
func (c *Console) saveVirtual(w http.ResponseWriter, r *http.Request) {
	vid := idParam(r, "vid")
	create := chi.URLParam(r, "vid") == ""
	f := newFormReader(r)
	h, base := newVirtualHead, config.NewVirtual("")
	if !create {
		_, _, cur, ok := c.loadVirtual(w, r)
		if !ok {
			return
		}
		h, base = head(cur, web.SubVirtual), *cur
	}
	// Read now, and again inside the change over the entry as it is
	// then: a refusal that never runs the change (a conflict) shows what
	// was typed too.
	readVirtual(f, base)
	idx := -1
	save := func(cfg *config.Config) error {
		if create {
			idx = len(cfg.Virtuals)
			cfg.Virtuals = append(cfg.Virtuals, readVirtual(f, config.NewVirtual("")))
			return nil
		}
		i, cur := virtualByID(cfg, vid)
		if cur == nil {
			return errGone
		}
		idx, *cur = i, readVirtual(f, *cur)
		return nil
	}
	again := func(p web.Page, code int) {
		p.Title, p.Tab = virtualTitle(h), web.TabVirtual
		c.render(w, r, code, web.VirtualEdit(p, h, f.form, c.loadKeyView()))
	}
	saved, ok := c.apply(w, r, f, save, scopeOf(func() int { return idx }, "virtual"), "/virtual", again)
	if !ok {
		return
	}
	_, sv := virtualByID(saved, savedID(saved, vid, idx))
	if create {
		setFlash(w, r, fmt.Sprintf("Virtual server %s added to your pending changes. Now add its real servers; REVIEW and APPLY make it live.", sv.Name))
		http.Redirect(w, r, fmt.Sprintf("/virtual/%d/real", sv.ID), http.StatusSeeOther)
		return
	}
	setFlash(w, r, fmt.Sprintf("Virtual server %s saved. %s", sv.Name, c.pendingNote(r)))
	http.Redirect(w, r, "/virtual", http.StatusSeeOther)
}

// savedID is the id of the virtual server an edit saved: the one it named,
// or the new one at index idx.
func savedID(saved *config.Config, vid int64, idx int) int64 {
	if vid != 0 {
		return vid
	}
	return saved.Virtuals[idx].ID
}

// scopeOf makes the scope of an edit whose index is known only once the
// change ran.
func scopeOf(idx func() int, sections ...string) func() scope {
	return func() scope { return scope{sections: sections, virtual: idx(), real: -1} }
}

// apply runs one edit: it saves through the store, and answers a
// refusal itself, showing the form again (with again) with every refused
// value beside its field: those the form could not read and those the
// change was refused for, at once. A change that changes nothing goes to
// done with a message. It reports whether the change was saved.
func (c *Console) apply(w http.ResponseWriter, r *http.Request, f *formReader, fn func(*config.Config) error,
	sc func() scope, done string, again func(web.Page, int)) (*config.Config, bool) {
	p := c.page(w, r, "", "", f.form.Serial)
	elevated, code, err := c.reauth(r, f.form)
	if err != nil {
		c.serverError(w, r, "checking the password", err)
		return nil, false
	}
	if code != 0 {
		p.Errors = []string{reauthRefused}
		again(p, code)
		return nil, false
	}
	// fn may read the form itself (ADD and EDIT of virtual and real
	// servers do). A value that could not be read refuses the change,
	// with what Validate refuses in the rest, rather than saving the
	// value it was left at.
	saved, err := c.update(r.Context(), r, stamp{f.form.Serial, f.form.Draft}, elevated, func(cfg *config.Config) error {
		if err := fn(cfg); err != nil {
			return err
		}
		if f.form.HasErrors() {
			return joinRefusals(f.unread(sc()), cfg.Validate())
		}
		return nil
	})
	if err == nil {
		return saved, true
	}
	if errors.Is(err, errGone) {
		c.notFound(w, r)
		return nil, false
	}
	if code, ok := placeProgramError(err, f.form, &p); ok {
		again(p, code)
		return nil, false
	}
	code = place(err, f.form, &p, sc())
	switch code {
	case 0:
		c.serverError(w, r, "saving the change", err)
	case http.StatusOK:
		setFlash(w, r, "Nothing changed.")
		http.Redirect(w, r, done, http.StatusSeeOther)
	default:
		p.Serial = f.form.Serial
		again(p, code)
	}
	return nil, false
}

// setActive is (DE)ACTIVATE: the form says which state it wants, so a
// repeated click does not flip it back.
func (c *Console) activateVirtual(w http.ResponseWriter, r *http.Request) {
	vid := idParam(r, "vid")
	want := r.PostFormValue("active") == "1"
	c.listAction(w, r, "/virtual"+keepList(r, virtualStates), func(cfg *config.Config) (string, error) {
		_, vs := virtualByID(cfg, vid)
		if vs == nil {
			return "", errGone
		}
		vs.Active = want
		return fmt.Sprintf("Virtual server %s %s.", vs.Name, activated(want)), nil
	}, func(p web.Page, cfg *config.Config, code int) { c.renderVirtualList(w, r, p, cfg, code) })
}

func activated(on bool) string {
	if on {
		return "activated"
	}
	return "deactivated"
}

func (c *Console) deleteVirtual(w http.ResponseWriter, r *http.Request) {
	vid := idParam(r, "vid")
	c.listAction(w, r, "/virtual"+keepList(r, virtualStates), func(cfg *config.Config) (string, error) {
		i, vs := virtualByID(cfg, vid)
		if vs == nil {
			return "", errGone
		}
		name := vs.Name
		cfg.Virtuals = append(cfg.Virtuals[:i], cfg.Virtuals[i+1:]...)
		return fmt.Sprintf("Virtual server %s deleted.", name), nil
	}, func(p web.Page, cfg *config.Config, code int) { c.renderVirtualList(w, r, p, cfg, code) })
}

// listAction runs a button of a list (activate, delete): on success back to
// the list with a message, on refusal the list again with the reasons.
func (c *Console) listAction(w http.ResponseWriter, r *http.Request, done string,
	fn func(*config.Config) (string, error), again func(web.Page, *config.Config, int)) {
	var msg string
	_, err := c.update(r.Context(), r, stampOf(r), false, func(cfg *config.Config) error {
		m, err := fn(cfg)
		msg = m
		return err
	})
	if err == nil {
		setFlash(w, r, msg+" "+c.pendingNote(r))
		http.Redirect(w, r, done, http.StatusSeeOther)
		return
	}
	if errors.Is(err, errGone) {
		c.notFound(w, r)
		return
	}
	cfg, st, rerr := c.editing(r)
	if rerr != nil {
		c.serverError(w, r, "reading the configuration", rerr)
		return
	}
	p := c.page(w, r, "", "", st.serial)
	code := place(err, web.NewForm(0), &p, scope{virtual: -1, real: -1})
	switch code {
	case 0:
		c.serverError(w, r, "saving the change", err)
		return
	case http.StatusOK:
		setFlash(w, r, "Nothing changed.")
		http.Redirect(w, r, done, http.StatusSeeOther)
		return
	}
	again(p, cfg, code)
}

func scriptsForm(vs *config.VirtualServer, st stamp) *web.Form {
	return formOf(config.VirtualFields, config.TabScripts, vs, st)
}

// copyScripts copies the fields of the MONITORING SCRIPTS tab.
func copyScripts(dst, src *config.VirtualServer) {
	for i := range config.VirtualFields {
		if f := &config.VirtualFields[i]; f.Tab == config.TabScripts {
			f.Copy(dst, src)
		}
	}
}

// readScripts reads the MONITORING SCRIPTS tab over base.
func readScripts(f *formReader, base config.VirtualServer) config.VirtualServer {
	return readOver(f, config.VirtualFields, config.TabScripts, base)
}

// scriptsTitle is the heading of MONITORING SCRIPTS.
func scriptsTitle(h web.VirtualHead) string { return "Monitoring scripts of " + h.Name }

func (c *Console) scriptsPage(w http.ResponseWriter, r *http.Request) {
	_, st, vs, ok := c.loadVirtual(w, r)
	if !ok {
		return
	}
	h := head(vs, web.SubScripts)
	p := c.page(w, r, scriptsTitle(h), web.TabVirtual, st.serial)
	c.render(w, r, http.StatusOK, web.Scripts(p, h, scriptsForm(vs, st)))
}

func (c *Console) saveScripts(w http.ResponseWriter, r *http.Request) {
	_, st, cur, ok := c.loadVirtual(w, r)
	if !ok {
		return
	}
	vid := cur.ID
	h := head(cur, web.SubScripts)
	f := newFormReader(r)
	edited := readScripts(f, *cur)
	again := func(p web.Page, code int) {
		p.Title, p.Tab = scriptsTitle(h), web.TabVirtual
		c.render(w, r, code, web.Scripts(p, h, f.form))
	}
	// NO SEND PROGRAM, BLANK SEND and BLANK EXPECT clear a field on the
	// form; as in piranha, ACCEPT saves.
	if blank := r.PostFormValue("blank"); blank != "" {
		if _, ok := f.form.Values[blank]; ok {
			f.form.Values[blank] = ""
		}
		again(c.page(w, r, "", "", st.serial), http.StatusOK)
		return
	}
	idx := -1
	_, ok = c.apply(w, r, f, func(cfg *config.Config) error {
		i, vs := virtualByID(cfg, vid)
		if vs == nil {
			return errGone
		}
		idx = i
		copyScripts(vs, &edited)
		return nil
	}, scopeOf(func() int { return idx }, "virtual"), fmt.Sprintf("/virtual/%d/scripts", vid), again)
	if !ok {
		return
	}
	setFlash(w, r, fmt.Sprintf("Monitoring scripts of %s saved. %s", h.Name, c.pendingNote(r)))
	http.Redirect(w, r, fmt.Sprintf("/virtual/%d/scripts", vid), http.StatusSeeOther)
}

func (c *Console) realList(w http.ResponseWriter, r *http.Request) {
	cfg, st, vs, ok := c.loadVirtual(w, r)
	if !ok {
		return
	}
	c.renderRealList(w, r, c.page(w, r, "", "", st.serial), cfg, vs, http.StatusOK)
}

func (c *Console) renderRealList(w http.ResponseWriter, r *http.Request, p web.Page, cfg *config.Config, vs *config.VirtualServer, code int) {
	p.Title, p.Tab = "Real servers of "+vs.Name, web.TabVirtual
	pg := web.Pager{Base: fmt.Sprintf("/virtual/%d/real", vs.ID), Query: listQuery(r, realStates), States: realStates, Total: len(vs.Reals)}
	m := newMatcher(pg.Query.Q)
	var rows []web.RealRow
	for i := range vs.Reals {
		rs := &vs.Reals[i]
		row := realRow(cfg, vs, rs)
		if pg.Query.State == "up" || pg.Query.State == "down" || pg.Query.State == "unknown" {
			row = c.withHealth(row, vs, rs)
		}
		if realMatches(&row, m, pg.Query.State) {
			rows = append(rows, row)
		}
	}
	lo, hi := pg.Paginate(len(rows))
	rows = rows[lo:hi]
	for i := range rows {
		if j, rs := realByID(vs, rows[i].ID); j >= 0 && rows[i].Health == "" {
			rows[i] = c.withHealth(rows[i], vs, rs)
		}
	}
	c.render(w, r, code, web.RealList(p, head(vs, web.SubReal), rows, pg, c.chartOf(vs.Name), c.directRouting(cfg, vs)))
}

func realForm(rs *config.RealServer, st stamp) *web.Form {
	return formOf(config.RealFields, config.TabReal, rs, st)
}

func readReal(f *formReader, base config.RealServer) config.RealServer {
	return readOver(f, config.RealFields, config.TabReal, base)
}

// readRealAs reads a real server's form as the role of r's user allows.
// An operator's form sends the weight and the state only (the other
// fields show disabled), so the rest is base's, and is shown as base's if
// the form comes back; the store would refuse any other change anyway.
func readRealAs(r *http.Request, f *formReader, base config.RealServer) config.RealServer {
	if requestScope(r).Allows(store.ScopeAdmin) {
		return readReal(f, base)
	}
	var fs config.Fields[config.RealServer]
	for _, fl := range config.RealFields {
		if slices.Contains(store.OperatorFields, fl.Form) {
			fs = append(fs, fl)
		}
	}
	for k, v := range formOf(config.RealFields, config.TabReal, &base, stamp{}).Values {
		f.form.Values[k] = v
	}
	delete(f.form.Values, "active") // a checkbox: only what was sent counts
	return readOver(f, fs, config.TabReal, base)
}

// realTitle is the heading of a real server's form (rs nil: ADD's), the
// same before and after a refusal.
func realTitle(h web.VirtualHead, rs *config.RealServer) string {
	if rs == nil {
		return "New real server of " + h.Name
	}
	return "Real server " + rs.Name + " of " + h.Name
}

func (c *Console) newRealPage(w http.ResponseWriter, r *http.Request) {
	_, st, vs, ok := c.loadVirtual(w, r)
	if !ok {
		return
	}
	rs := config.NewReal("")
	h := head(vs, web.SubReal)
	p := c.page(w, r, realTitle(h, nil), web.TabVirtual, st.serial)
	c.render(w, r, http.StatusOK, web.RealEdit(p, h, 0, realForm(&rs, st), nil))
}

func (c *Console) realPage(w http.ResponseWriter, r *http.Request) {
	cfg, st, vs, ok := c.loadVirtual(w, r)
	if !ok {
		return
	}
	_, rs := realByID(vs, idParam(r, "rid"))
	if rs == nil {
		c.notFound(w, r)
		return
	}
	h := head(vs, web.SubReal)
	p := c.page(w, r, realTitle(h, rs), web.TabVirtual, st.serial)
	row := c.withHealth(realRow(cfg, vs, rs), vs, rs)
	c.withPin(&row, vs, rs)
	c.render(w, r, http.StatusOK, web.RealEdit(p, h, rs.ID, realForm(rs, st), &row))
}

// saveReal is ACCEPT on a real server's form, new (real/new) or existing
// (an id that names none is 404).
func (c *Console) saveReal(w http.ResponseWriter, r *http.Request) {
	_, _, cur, ok := c.loadVirtual(w, r)
	if !ok {
		return
	}
	vid, rid := cur.ID, idParam(r, "rid")
	create := chi.URLParam(r, "rid") == ""
	h := head(cur, web.SubReal)
	var shown *config.RealServer // the entry edited, as loaded; nil for ADD
	base := config.NewReal("")
	if !create {
		if _, shown = realByID(cur, rid); shown == nil {
			c.notFound(w, r)
			return
		}
		base = *shown
	}
	f := newFormReader(r)
	// Read now, and again inside the change over the entry as it is
	// then: a refusal that never runs the change (a conflict) shows what
	// was typed too.
	readRealAs(r, f, base)
	vi, ri := -1, -1
	again := func(p web.Page, code int) {
		p.Title, p.Tab = realTitle(h, shown), web.TabVirtual
		c.render(w, r, code, web.RealEdit(p, h, rid, f.form, nil))
	}
	done := fmt.Sprintf("/virtual/%d/real", vid)
	var name string
	_, ok = c.apply(w, r, f, func(cfg *config.Config) error {
		i, vs := virtualByID(cfg, vid)
		if vs == nil {
			return errGone
		}
		vi = i
		if create {
			rs := readReal(f, config.NewReal(""))
			ri, name = len(vs.Reals), rs.Name
			vs.Reals = append(vs.Reals, rs)
			return nil
		}
		j, rs := realByID(vs, rid)
		if rs == nil {
			return errGone
		}
		*rs = readRealAs(r, f, *rs)
		ri, name = j, rs.Name
		return nil
	}, func() scope { return scope{sections: []string{"server"}, virtual: vi, real: ri} }, done, again)
	if !ok {
		return
	}
	verb := "saved"
	if create {
		verb = "added"
	}
	setFlash(w, r, fmt.Sprintf("Real server %s %s. %s", name, verb, c.pendingNote(r)))
	http.Redirect(w, r, done, http.StatusSeeOther)
}

func (c *Console) activateReal(w http.ResponseWriter, r *http.Request) {
	c.realAction(w, r, func(vs *config.VirtualServer, j int) string {
		want := r.PostFormValue("active") == "1"
		vs.Reals[j].SetActive(want) // and ends a drain
		return fmt.Sprintf("Real server %s %s.", vs.Reals[j].Name, activated(want))
	})
}

// drainReal is DRAIN: weight 0 until the real server's connections end,
// then the active director deactivates it (lvs/drain).
func (c *Console) drainReal(w http.ResponseWriter, r *http.Request) {
	vid, rid := idParam(r, "vid"), idParam(r, "rid")
	done := fmt.Sprintf("/virtual/%d/real", vid) + keepList(r, realStates)
	if r.PostFormValue("from") == "real" { // the real server's page
		done = fmt.Sprintf("/virtual/%d/real/%d", vid, rid)
	}
	c.listAction(w, r, done, func(cfg *config.Config) (string, error) {
		i, vs := virtualByID(cfg, vid)
		if vs == nil {
			return "", errGone
		}
		j, rs := realByID(vs, rid)
		if rs == nil {
			return "", errGone
		}
		if err := startDrain(cfg, i, j); err != nil {
			return "", err
		}
		return fmt.Sprintf("Real server %s set to drain: weight 0 until its connections end, then deactivated%s.",
			rs.Name, drainLimit(vs)), nil
	}, func(p web.Page, cfg *config.Config, code int) {
		_, vs := virtualByID(cfg, vid)
		if vs == nil {
			c.notFound(w, r)
			return
		}
		c.renderRealList(w, r, p, cfg, vs, code)
	})
}

// drainLimit words vs's longest drain, after "then it is deactivated".
func drainLimit(vs *config.VirtualServer) string {
	if vs.DrainTimeout <= 0 {
		return ""
	}
	return fmt.Sprintf(" (after %v at most, connections left or not)", vs.DrainTimeout)
}

// startDrain is DRAIN of real server j of virtual server i. A server that
// is not active is refused: it has no connections to drain.
func startDrain(cfg *config.Config, i, j int) error {
	vs := &cfg.Virtuals[i]
	rs := &vs.Reals[j]
	if !rs.Active {
		return &config.ValidationError{Fields: []*config.FieldError{{Section: "server", Virtual: i, Real: j,
			VirtualName: vs.Name, RealName: rs.Name, Field: "active",
			Msg: "is off: only an active real server has connections to drain"}}}
	}
	rs.StartDrain()
	return nil
}

func (c *Console) deleteReal(w http.ResponseWriter, r *http.Request) {
	c.realAction(w, r, func(vs *config.VirtualServer, j int) string {
		name := vs.Reals[j].Name
		vs.Reals = append(vs.Reals[:j], vs.Reals[j+1:]...)
		return fmt.Sprintf("Real server %s deleted.", name)
	})
}

func (c *Console) realAction(w http.ResponseWriter, r *http.Request, fn func(*config.VirtualServer, int) string) {
	vid, rid := idParam(r, "vid"), idParam(r, "rid")
	done := fmt.Sprintf("/virtual/%d/real", vid) + keepList(r, realStates)
	c.listAction(w, r, done, func(cfg *config.Config) (string, error) {
		_, vs := virtualByID(cfg, vid)
		if vs == nil {
			return "", errGone
		}
		j, rs := realByID(vs, rid)
		if rs == nil {
			return "", errGone
		}
		return fn(vs, j), nil
	}, func(p web.Page, cfg *config.Config, code int) {
		_, vs := virtualByID(cfg, vid)
		if vs == nil {
			c.notFound(w, r)
			return
		}
		c.renderRealList(w, r, p, cfg, vs, code)
	})
}

// withHealth adds the health check's verdict to a real server's row, and
// a drain's connections.
func (c *Console) withHealth(row web.RealRow, vs *config.VirtualServer, rs *config.RealServer) web.RealRow {
	if row.Draining && c.engine != nil {
		row.Conns = drainConns(c.engine.Status(), vs, rs)
	}
	if c.health == nil {
		return row
	}
	if h, ok := c.health.Of(vs, rs); ok {
		row.Health, row.HealthReason, row.HealthSince = h.State, h.Reason, h.Since
		c.withLoad(&row, vs, rs, h)
	}
	return row
}

// drainConns words the connections IPVS counts to rs, as of the engine's
// last sample: "" when it has none to read.
func drainConns(st engine.Status, vs *config.VirtualServer, rs *config.RealServer) string {
	if !st.Available || st.Kernel == nil || !vs.Active {
		return ""
	}
	sk, dk := engine.Where(vs, rs)
	s := st.Kernel.Lookup(sk)
	if s == nil {
		return "not in IPVS"
	}
	for _, d := range s.Dests {
		if d.Key() == dk {
			return fmt.Sprintf("%d active, %d inactive connections", d.ActiveConns, d.InactiveConns)
		}
	}
	return "not in IPVS"
}
