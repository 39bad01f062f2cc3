package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/imports"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

const historyPage = 50

// maxUpload bounds an lvs.cf upload; real files are a few kilobytes.
const maxUpload = imports.MaxSize

func revisionRow(r store.Revision, current int64) web.RevisionRow {
	return web.RevisionRow{Serial: r.Serial, When: r.Created, Author: r.By(), Summary: r.Summary, Current: r.Serial == current}
}

func (c *Console) history(w http.ResponseWriter, r *http.Request) {
	serial, err := c.store.Serial(r.Context())
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	p := c.page(w, r, "", "", serial)
	p.Warnings = c.handoffs.take(w, r).Warnings // an import's, shown once
	c.renderHistory(w, r, p, web.NewForm(serial), http.StatusOK)
}

// renderHistory shows the HISTORY tab; f is its import form.
func (c *Console) renderHistory(w http.ResponseWriter, r *http.Request, p web.Page, f *web.Form, code int) {
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
	c.render(w, r, code, web.History(p, rows, older, f))
}

func (c *Console) revision(w http.ResponseWriter, r *http.Request) {
	serial, _ := strconv.ParseInt(chi.URLParam(r, "serial"), 10, 64)
	cur, err := c.store.Serial(r.Context())
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	c.renderRevision(w, r, c.page(w, r, "", "", cur), serial, web.NewForm(cur), http.StatusOK)
}

// renderRevision shows revision serial; f is its RESTORE form.
func (c *Console) renderRevision(w http.ResponseWriter, r *http.Request, p web.Page, serial int64, f *web.Form, code int) {
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
	p.Title, p.Tab = fmt.Sprintf("Revision %d", serial), web.TabHistory
	c.render(w, r, code, web.Revision(p, revisionRow(rev, p.Serial), buf.String(), f))
}

// restore is RESTORE of a revision; a refusal comes back on the
// revision's page, whose form has the password field.
func (c *Console) restore(w http.ResponseWriter, r *http.Request) {
	serial, _ := strconv.ParseInt(chi.URLParam(r, "serial"), 10, 64)
	st := stampOf(r)
	f := st.form()
	again := func(p web.Page, code int) { c.renderRevision(w, r, p, serial, f, code) }
	elevated, ok := c.reauthPage(w, r, f, again)
	if !ok {
		return
	}
	d, err := c.store.RestoreDraft(r.Context(), store.Change{Role: requestScope(r), Author: userOf(r), Base: st.serial, Elevated: elevated}, st.draft, serial)
	c.afterReplace(w, r, draftConfig(d), err, fmt.Sprintf("Revision %d restored", serial), f, nil, again)
}

// reauthPage checks the password of a form that is not a configuration
// tab's (import, restore), answering a refusal itself with again.
func (c *Console) reauthPage(w http.ResponseWriter, r *http.Request, f *web.Form, again func(web.Page, int)) (elevated, ok bool) {
	elevated, code, err := c.reauth(r, f)
	if err != nil {
		c.serverError(w, r, "checking the password", err)
		return false, false
	}
	if code == 0 {
		return elevated, true
	}
	cur, err := c.store.Serial(r.Context())
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return false, false
	}
	p := c.page(w, r, "", "", cur)
	p.Errors = []string{reauthRefused}
	again(p, code)
	return false, false
}

// afterReplace answers a restore or an import: on refusal, again shows its
// form (f) with the reasons; cf, for an import, is the file, whose lines
// the reasons name.
func (c *Console) afterReplace(w http.ResponseWriter, r *http.Request, saved *config.Config, err error, what string,
	f *web.Form, locate func(error) error, again func(web.Page, int)) {
	switch {
	case err == nil:
		// RESTORE and an import go through REVIEW, as every change.
		setFlash(w, r, fmt.Sprintf("%s in your pending changes: below is what it would change. APPLY makes it live.", what))
		http.Redirect(w, r, "/review", http.StatusSeeOther)
		return
	case errors.Is(err, store.ErrNoRevision):
		c.notFound(w, r)
		return
	case errors.Is(err, store.ErrNoChange):
		setFlash(w, r, "Nothing changed: your configuration is already this.")
		http.Redirect(w, r, "/history", http.StatusSeeOther)
		return
	}
	cur, rerr := c.store.Serial(r.Context())
	if rerr != nil {
		c.serverError(w, r, "reading the configuration", rerr)
		return
	}
	p := c.page(w, r, "", "", cur)
	if locate != nil {
		err = locate(err) // the store's field errors, at the file's lines
	}
	var ferr *imports.Errors
	code := http.StatusUnprocessableEntity
	switch {
	case errors.As(err, &ferr):
		p.Errors = ferr.Lines
	default:
		var ok bool
		if code, ok = placeProgramError(err, f, &p); ok {
			break
		}
		if code = place(err, web.NewForm(0), &p, scope{virtual: -1, real: -1}); code == 0 {
			c.serverError(w, r, "saving the configuration", err)
			return
		}
	}
	again(p, code)
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

// maxFileName bounds the name an upload gives its file, which goes into
// the history.
const maxFileName = 255

// importCf replaces the configuration with an uploaded lvs.cf, or with the
// text of a refused upload that the HISTORY page kept to send again.
func (c *Console) importCf(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	st := stampOf(r)
	f := st.form()
	again := func(p web.Page, code int) { c.renderHistory(w, r, p, f, code) }
	var (
		text []byte
		name string
	)
	file, hdr, err := r.FormFile("file")
	switch {
	case err == nil:
		defer file.Close()
		text, err = io.ReadAll(file)
		name = hdr.Filename
	case r.PostFormValue("cf") != "":
		text, name, err = []byte(r.PostFormValue("cf")), r.PostFormValue("name"), nil
	}
	if err != nil {
		cur, rerr := c.store.Serial(r.Context())
		if rerr != nil {
			c.serverError(w, r, "reading the configuration", rerr)
			return
		}
		p := c.page(w, r, "", "", cur)
		p.Errors = []string{fmt.Sprintf("Choose an lvs.cf file to import (at most %d MiB).", maxUpload>>20)}
		c.renderHistory(w, r, p, web.NewForm(cur), http.StatusBadRequest)
		return
	}
	name = filepath.Base(name)
	if len(name) > maxFileName || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) || name == "." {
		name = "lvs.cf"
	}
	// Kept for a refused upload, to send again without choosing the file.
	f.Values["cf"], f.Values["name"] = string(text), name
	elevated, ok := c.reauthPage(w, r, f, again)
	if !ok {
		return
	}
	kind := imports.Detect(text)
	if asked := r.PostFormValue("format"); asked != "" {
		if kind, err = imports.Parse(asked); err != nil {
			kind = imports.Detect(text) // the form offers only the formats
		}
	}
	f.Values["format"] = string(kind)
	// An upload never follows keepalived's includes: they would read the
	// director's own files.
	read, err := imports.Read(r.Context(), kind, name, text, imports.Options{Resolver: net.DefaultResolver})
	if err != nil {
		c.refusedFile(w, r, f, err, again)
		return
	}
	var saved *config.Config
	cur, _, err := c.editing(r)
	if err == nil {
		var d *store.Draft
		d, err = c.store.ReplaceDraft(r.Context(), store.Change{Role: requestScope(r), Author: userOf(r), Base: st.serial, Note: "import of " + name, Elevated: elevated}, st.draft, read.Over(cur))
		saved = draftConfig(d)
	}
	if c.showImported(w, r, saved, err, name, read.Warnings) {
		return
	}
	c.afterReplace(w, r, saved, err, name+" imported", f, read.Locate, again)
}
