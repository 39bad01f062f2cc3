package handlers

// Pending changes through the API. Every write of the configuration takes
// ?apply=now (the default: a revision at once, as scripts expect) or
// ?apply=draft: the same body, the same validation and the same scope rule,
// but the change goes into the caller's draft, as the console's edits do
// (drafts.go), and the answer is the draft. The draft is then read, reviewed,
// applied (optionally to be rolled back unless confirmed) or discarded under
// /draft, and a pending confirmation is confirmed with POST /confirm.
//
// A token never carries the console's proof of the password: APPLY through
// the API does not let a draft's proved programs through (store.Apply.Proof
// is false), and an operator token applies only a draft whose changes an
// operator could have made itself (allowedChange).

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
)

// applyMode is how a write of the API takes effect: ?apply=.
type applyMode int

const (
	applyNow   applyMode = iota // a revision at once
	applyDraft                  // a change of the caller's draft
)

// applyOf reads ?apply= of a write: absent or "now" is applyNow, "draft"
// applyDraft; anything else is a 400 naming the parameter.
func applyOf(r *http.Request) (applyMode, error) {
	vals, ok := r.URL.Query()["apply"]
	if !ok {
		return applyNow, nil
	}
	if len(vals) != 1 {
		return applyNow, badf("apply", "apply: give it once: now (save a revision at once, the default) or draft (change your pending changes)")
	}
	switch vals[0] {
	case "now":
		return applyNow, nil
	case "draft":
		return applyDraft, nil
	}
	return applyNow, badf("apply", "apply: %q is not allowed: use now (save a revision at once, the default) or draft (change your pending changes)", vals[0])
}

// apiEdit is a write of the configuration: refused on the standby
// (apiWritable) and with an ?apply= it does not take, before its body is
// read.
func (c *Console) apiEdit(next http.HandlerFunc) http.HandlerFunc {
	return c.apiWritable(func(w http.ResponseWriter, r *http.Request) {
		if _, err := applyOf(r); err != nil {
			c.apiRefuse(w, r, err, nil)
			return
		}
		next(w, r)
	})
}

// apiDraft is a user's pending changes: the configuration APPLY would
// save, what it changes of the running configuration it was made on
// (base), and what stands in the way of rebasing it on the running one now.
// Version 0 is no draft: the answer to an edit that left none.
type apiDraft struct {
	Version   int64     `json:"version"`
	Base      int64     `json:"base"`
	Updated   time.Time `json:"updated,omitzero"`
	Changes   []string  `json:"changes"`
	Conflicts []string  `json:"conflicts"`
	Config    apiConfig `json:"config"`
	// Warnings are an lvs.cf import's.
	Warnings []apiLineError `json:"warnings,omitempty"`
}

// draftOf is d as the API shows it; d nil (or of version 0) is none, on
// running.
func draftOf(d *store.Draft, running *config.Config) apiDraft {
	if d == nil || d.Version == 0 {
		return apiDraft{Base: running.Serial, Changes: []string{}, Conflicts: []string{}, Config: configOf(running)}
	}
	out := apiDraft{Version: d.Version, Base: d.Base.Serial, Updated: d.Updated.UTC(),
		Changes: nonNil(config.Diff(d.Base, d.Config)), Conflicts: []string{}, Config: configOf(d.Config)}
	for _, cf := range d.Conflicts(running) {
		out.Conflicts = append(out.Conflicts, cf.String())
	}
	return out
}

// writeDraft answers with d (nil: none), its base serial as ETag.
func (c *Console) writeDraft(w http.ResponseWriter, r *http.Request, d *store.Draft, warns []*lvscf.Warning) {
	running, ok := c.apiRead(w, r)
	if !ok {
		return
	}
	out := draftOf(d, running)
	for _, wn := range warns {
		out.Warnings = append(out.Warnings, apiLineError{Line: wn.Line, Column: wn.Col, Key: wn.Key, Message: wn.Msg})
	}
	writeResource(w, http.StatusOK, out.Base, out)
}

// afterDraftEdit answers a write made with ?apply=draft: the draft, or the
// refusal. An edit that changed nothing answers the draft as it is. cfg is
// what the edit made, for the ids of refused entries.
func (c *Console) afterDraftEdit(w http.ResponseWriter, r *http.Request, d *store.Draft, err error, cfg *config.Config, warns []*lvscf.Warning) {
	if errors.Is(err, store.ErrNoChange) {
		d, err = c.store.Draft(r.Context(), userOf(r))
		if errors.Is(err, store.ErrNoDraft) {
			d, err = nil, nil
		}
		if err != nil {
			c.apiServerError(w, r, "reading the pending changes", err)
			return
		}
	} else if err != nil {
		c.apiRefuse(w, r, err, cfg)
		return
	}
	c.writeDraft(w, r, d, warns)
}

// apiGetDraft is GET /draft: the caller's pending changes; 404 when none.
func (c *Console) apiGetDraft(w http.ResponseWriter, r *http.Request) {
	d, err := c.store.Draft(r.Context(), userOf(r))
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	c.writeDraft(w, r, d, nil)
}

// apiDiscardDraft is DELETE /draft: DISCARD. It answers the running
// configuration's serial, as other deletions do.
func (c *Console) apiDiscardDraft(w http.ResponseWriter, r *http.Request) {
	if err := c.store.DiscardDraft(r.Context(), userOf(r)); err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	if running, ok := c.apiRead(w, r); ok {
		writeResource(w, http.StatusOK, running.Serial, serialOnly{running.Serial})
	}
}

// apiReview is REVIEW as JSON.
type apiReview struct {
	Version   int64    `json:"version"`
	Serial    int64    `json:"serial"` // of the running configuration
	Changes   []string `json:"changes"`
	Conflicts []string `json:"conflicts"`
	Ipvsadm   []string `json:"ipvsadm"`
	Refused   []string `json:"refused"`
	PlanNote  string   `json:"plan_note,omitempty"`
	Addresses []string `json:"addresses"`
	Checks    []string `json:"checks"`
	Programs  []string `json:"programs"`
	Standby   string   `json:"standby"`
	Warnings  []string `json:"warnings"`
	CanApply  bool     `json:"can_apply"`
}

// apiDraftReview is GET /draft/review: what APPLY of the caller's draft
// would do, as REVIEW shows it; 404 when there is no draft.
func (c *Console) apiDraftReview(w http.ResponseWriter, r *http.Request) {
	v, err := c.review(r.Context(), userOf(r))
	if err != nil {
		if errors.Is(err, store.ErrNoDraft) {
			c.apiRefuse(w, r, err, nil)
			return
		}
		c.apiServerError(w, r, "reviewing the pending changes", err)
		return
	}
	writeResource(w, http.StatusOK, v.Serial, apiReview{
		Version: v.Version, Serial: v.Serial, Changes: nonNil(v.Changes), Conflicts: nonNil(v.Conflicts),
		Ipvsadm: nonNil(v.Ipvsadm), Refused: nonNil(v.Refused), PlanNote: v.PlanNote,
		Addresses: nonNil(v.Addresses), Checks: nonNil(v.Checks), Programs: nonNil(v.Programs),
		Standby: v.Standby, Warnings: nonNil(v.Warnings), CanApply: v.CanApply,
	})
}

// maxRollbackMinutes bounds rollback_minutes of an APPLY: a day.
const maxRollbackMinutes = 24 * 60

// apiApplyBody is the body of POST /draft/apply; both optional.
type apiApplyBody struct {
	// Version is the draft's version reviewed: one changed since is not
	// applied unseen (409). Absent: whatever the draft is now.
	Version *int64 `json:"version"`
	// RollbackMinutes, above 0, rolls the APPLY back after that long
	// unless POST /confirm comes first.
	RollbackMinutes int `json:"rollback_minutes"`
}

// readApply reads the body of POST /draft/apply.
func readApply(r *http.Request) (apiApplyBody, error) {
	var in apiApplyBody
	body, err := readBody(r, maxJSON, true)
	if err != nil {
		return in, err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := decodeStrict(body, &in); err != nil {
			return in, err
		}
	}
	if in.Version != nil && *in.Version < 1 {
		return in, badf("version", "version: %d is not a version of pending changes: send the version GET /draft gave, or leave it out", *in.Version)
	}
	if in.RollbackMinutes < 0 || in.RollbackMinutes > maxRollbackMinutes {
		return in, badf("rollback_minutes", "rollback_minutes: %d is not allowed: use a whole number of 0-%d (0: no rollback)", in.RollbackMinutes, maxRollbackMinutes)
	}
	return in, nil
}

// apiApplyDraft is POST /draft/apply: the caller's draft becomes the next
// revision, as APPLY on REVIEW; it answers the saved configuration.
func (c *Console) apiApplyDraft(w http.ResponseWriter, r *http.Request) {
	in, err := readApply(r)
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	ctx, user := r.Context(), userOf(r)
	d, err := c.store.Draft(ctx, user)
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	if in.Version != nil && *in.Version != d.Version {
		c.apiRefuse(w, r, &store.DraftConflictError{Version: *in.Version, Current: d.Version, Updated: d.Updated}, nil)
		return
	}
	// The draft may hold what the caller's token may not change (its
	// owner's console session made it): the store checks what it changes
	// of the running configuration as a direct change (store.Allowed).
	a := store.Apply{Version: d.Version} // Proof false: a token never proves the password
	if n := in.RollbackMinutes; n > 0 {
		a.Rollback, a.Delay = time.Duration(n)*c.rollbackUnit, fmt.Sprintf("%d %s", n, c.unitName(n))
	}
	note := strings.Join(append([]string{"api"}, d.Notes...), ", ")
	saved, err := c.store.ApplyDraft(ctx, store.Change{Role: requestScope(r), Author: user, Token: tokenNameOf(r), Note: note}, a)
	switch {
	case errors.Is(err, store.ErrNoChange):
		// The running configuration already is what the draft makes it.
		if err := c.store.DiscardDraft(ctx, user); err != nil && !errors.Is(err, store.ErrNoDraft) {
			c.apiServerError(w, r, "discarding the pending changes", err)
			return
		}
		var ok bool
		if saved, ok = c.apiRead(w, r); !ok {
			return
		}
	case err != nil:
		c.apiRefuse(w, r, err, d.Config)
		return
	}
	writeResource(w, http.StatusOK, saved.Serial, configOf(saved))
}

// apiConfirmation is an APPLY that rolls back unless confirmed.
type apiConfirmation struct {
	Serial   int64     `json:"serial"`   // the revision the APPLY made
	Previous int64     `json:"previous"` // the revision a rollback restores
	Owner    string    `json:"owner"`
	Delay    string    `json:"delay"`
	Deadline time.Time `json:"deadline"`
}

// apiConfirm is POST /confirm: CONFIRM of the APPLY that waits for it;
// 404 when none does (it may have been rolled back).
func (c *Console) apiConfirm(w http.ResponseWriter, r *http.Request) {
	cf, err := c.store.Confirm(r.Context())
	if err != nil {
		c.apiRefuse(w, r, err, nil)
		return
	}
	c.log.Info("apply confirmed", "serial", cf.Serial, "user", userOf(r), "via", "api")
	writeJSON(w, http.StatusOK, apiConfirmation{Serial: cf.Serial, Previous: cf.Previous, Owner: cf.Owner,
		Delay: cf.Delay, Deadline: cf.Deadline.UTC()})
}
