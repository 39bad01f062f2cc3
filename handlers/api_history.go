package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// maxHistory bounds ?limit= of the history.
const maxHistory = 1000

// queryInt reads a whole number of the query; absent is def.
func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badf(name, "%s: %q is not allowed: use a whole number of %d-%d", name, s, lo, hi)
	}
	return n, nil
}

// apiHistory lists revisions, newest first: ?limit= of them (50 unless
// said) older than ?before= (the newest unless said). next_before, when
// set, is the ?before= of the next page.
func (c *Console) apiHistory(w http.ResponseWriter, r *http.Request) {
	before, err := queryInt(r, "before", 0, 0, 1<<63-1)
	var limit int64
	if err == nil {
		limit, err = queryInt(r, "limit", historyPage, 1, maxHistory)
	}
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	serial, err := c.store.Serial(r.Context())
	if err != nil {
		c.apiServerError(w, r, "reading the configuration", err)
		return
	}
	revs, err := c.store.Revisions(r.Context(), before, int(limit)+1)
	if err != nil {
		c.apiServerError(w, r, "reading the history", err)
		return
	}
	out := struct {
		Serial     int64         `json:"serial"`
		Revisions  []apiRevision `json:"revisions"`
		NextBefore int64         `json:"next_before,omitempty"`
	}{Serial: serial, Revisions: []apiRevision{}}
	if int64(len(revs)) > limit {
		revs = revs[:limit]
		out.NextBefore = revs[limit-1].Serial
	}
	for _, rev := range revs {
		out.Revisions = append(out.Revisions, apiRevisionOf(rev, serial))
	}
	writeResource(w, http.StatusOK, serial, out)
}

// loadRevision reads revision {serial}, answering a refusal itself.
func (c *Console) loadRevision(w http.ResponseWriter, r *http.Request) (store.Revision, *config.Config, bool) {
	serial, _ := strconv.ParseInt(chi.URLParam(r, "serial"), 10, 64)
	rev, cfg, err := c.store.Revision(r.Context(), serial)
	if err != nil {
		if errors.Is(err, store.ErrNoRevision) {
			c.apiRefuse(w, r, goneError(fmt.Sprintf("there is no revision %d", serial)), nil)
			return rev, nil, false
		}
		c.apiServerError(w, r, "reading the revision", err)
		return rev, nil, false
	}
	return rev, cfg, true
}

// apiRevision is one revision with the whole configuration it saved.
func (c *Console) apiRevision(w http.ResponseWriter, r *http.Request) {
	rev, cfg, ok := c.loadRevision(w, r)
	if !ok {
		return
	}
	current, err := c.store.Serial(r.Context())
	if err != nil {
		c.apiServerError(w, r, "reading the configuration", err)
		return
	}
	out := struct {
		apiRevision
		Config apiConfig `json:"config"`
	}{apiRevisionOf(rev, current), configOf(cfg)}
	writeJSON(w, http.StatusOK, out)
}

// apiRevisionCf is one revision as lvs.cf, as the console's export.
func (c *Console) apiRevisionCf(w http.ResponseWriter, r *http.Request) {
	if _, cfg, ok := c.loadRevision(w, r); ok {
		c.writeCf(w, r, cfg)
	}
}

// apiRestore saves revision {serial}'s configuration as the next one; with
// ?apply=draft, makes it the caller's draft.
func (c *Console) apiRestore(w http.ResponseWriter, r *http.Request) {
	serial, _ := strconv.ParseInt(chi.URLParam(r, "serial"), 10, 64)
	base, err := readSerialOnly(r)
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	ch := store.Change{Role: requestScope(r), Author: userOf(r), Token: tokenNameOf(r), Base: base, Note: fmt.Sprintf("api: restored revision %d", serial)}
	mode, _ := applyOf(r) // checked by apiEdit
	var (
		saved *config.Config
		d     *store.Draft
	)
	if mode == applyDraft {
		d, err = c.store.RestoreDraft(r.Context(), ch, store.AnyVersion, serial)
	} else {
		saved, err = c.store.Restore(r.Context(), ch, serial)
	}
	if errors.Is(err, store.ErrNoRevision) {
		c.apiRefuse(w, r, goneError(fmt.Sprintf("there is no revision %d", serial)), nil)
		return
	}
	var old *config.Config
	if err != nil && !errors.Is(err, store.ErrNoChange) {
		_, old, _ = c.store.Revision(r.Context(), serial) // for the ids of refused entries
	}
	if mode == applyDraft {
		c.afterDraftEdit(w, r, d, err, old, nil)
		return
	}
	c.afterAPIReplace(w, r, saved, err, old)
}
