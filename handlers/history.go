package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

const historyPage = 50

// maxUpload bounds an lvs.cf upload; real files are a few kilobytes.
const maxUpload = 8 << 20

func revisionRow(r store.Revision, current int64) web.RevisionRow {
	return web.RevisionRow{Serial: r.Serial, When: r.Created, Author: r.Author, Summary: r.Summary, Current: r.Serial == current}
}

func (c *Console) history(w http.ResponseWriter, r *http.Request) {
	cfg, err := c.store.Config(r.Context())
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	c.renderHistory(w, r, c.page(w, r, "", "", cfg.Serial), http.StatusOK)
}

func (c *Console) renderHistory(w http.ResponseWriter, r *http.Request, p web.Page, code int) {
	p.Title, p.Tab = "History", web.TabHistory
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	revs, err := c.store.Revisions(r.Context(), before, historyPage+1)
	if err != nil {
		c.serverError(w, r, "reading the history", err)
		return
	}
	var older int64
	if len(revs) > historyPage {
		revs = revs[:historyPage]
		older = revs[historyPage-1].Serial
	}
	rows := make([]web.RevisionRow, len(revs))
	for i, rev := range revs {
		rows[i] = revisionRow(rev, p.Serial)
	}
	c.render(w, r, code, web.History(p, rows, older))
}

func (c *Console) revision(w http.ResponseWriter, r *http.Request) {
	serial, _ := strconv.ParseInt(chi.URLParam(r, "serial"), 10, 64)
	cur, err := c.store.Config(r.Context())
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	rev, cfg, err := c.store.Revision(r.Context(), serial)
	if errors.Is(err, store.ErrNoRevision) {
		c.notFound(w, r)
		return
	}
	if err != nil {
		c.serverError(w, r, "reading the revision", err)
		return
	}
	var buf bytes.Buffer
	if err := lvscf.Format(&buf, cfg); err != nil {
		c.serverError(w, r, "writing the revision as lvs.cf", err)
		return
	}
	p := c.page(w, r, fmt.Sprintf("Revision %d", serial), web.TabHistory, cur.Serial)
	c.render(w, r, http.StatusOK, web.Revision(p, revisionRow(rev, cur.Serial), buf.String()))
}

func (c *Console) restore(w http.ResponseWriter, r *http.Request) {
	serial, _ := strconv.ParseInt(chi.URLParam(r, "serial"), 10, 64)
	base, _ := strconv.ParseInt(r.PostFormValue("serial"), 10, 64)
	saved, err := c.store.Restore(r.Context(), store.Change{Author: userOf(r), Base: base}, serial)
	c.afterReplace(w, r, saved, err, fmt.Sprintf("Revision %d restored", serial))
}

// afterReplace answers a restore or an import.
func (c *Console) afterReplace(w http.ResponseWriter, r *http.Request, saved *config.Config, err error, what string) {
	switch {
	case err == nil:
		setFlash(w, r, fmt.Sprintf("%s as serial %d.", what, saved.Serial))
		http.Redirect(w, r, "/history", http.StatusSeeOther)
		return
	case errors.Is(err, store.ErrNoRevision):
		c.notFound(w, r)
		return
	case errors.Is(err, store.ErrNoChange):
		setFlash(w, r, "Nothing changed: the configuration is already this.")
		http.Redirect(w, r, "/history", http.StatusSeeOther)
		return
	}
	cur, rerr := c.store.Config(r.Context())
	if rerr != nil {
		c.serverError(w, r, "reading the configuration", rerr)
		return
	}
	p := c.page(w, r, "", "", cur.Serial)
	var perr lvscf.Errors
	code := http.StatusUnprocessableEntity
	if errors.As(err, &perr) {
		for _, e := range perr {
			p.Errors = append(p.Errors, e.Error())
		}
	} else if code = place(err, web.NewForm(0), &p, scope{virtual: -1, real: -1}); code == 0 {
		c.serverError(w, r, "saving the configuration", err)
		return
	}
	c.renderHistory(w, r, p, code)
}

// export downloads the configuration, or revision ?serial=N, as lvs.cf.
func (c *Console) export(w http.ResponseWriter, r *http.Request) {
	var (
		cfg *config.Config
		err error
	)
	if s := r.URL.Query().Get("serial"); s != "" {
		serial, _ := strconv.ParseInt(s, 10, 64)
		_, cfg, err = c.store.Revision(r.Context(), serial)
	} else {
		cfg, err = c.store.Config(r.Context())
	}
	if errors.Is(err, store.ErrNoRevision) {
		c.notFound(w, r)
		return
	}
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	var buf bytes.Buffer
	if err := lvscf.Format(&buf, cfg); err != nil {
		c.serverError(w, r, "writing lvs.cf", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="lvs-%d.cf"`, cfg.Serial))
	w.Write(buf.Bytes())
}

// importCf replaces the configuration with an uploaded lvs.cf.
func (c *Console) importCf(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	file, hdr, err := r.FormFile("file")
	if err != nil {
		cur, rerr := c.store.Config(r.Context())
		if rerr != nil {
			c.serverError(w, r, "reading the configuration", rerr)
			return
		}
		p := c.page(w, r, "", "", cur.Serial)
		p.Errors = []string{"Choose an lvs.cf file to import (at most 8 MiB)."}
		c.renderHistory(w, r, p, http.StatusBadRequest)
		return
	}
	defer file.Close()
	base, _ := strconv.ParseInt(r.PostFormValue("serial"), 10, 64)
	cfg, err := lvscf.Parse(file)
	var saved *config.Config
	if err == nil {
		saved, err = c.store.Replace(r.Context(), store.Change{Author: userOf(r), Base: base, Note: "import of " + hdr.Filename}, cfg)
	}
	c.afterReplace(w, r, saved, err, hdr.Filename+" imported")
}
