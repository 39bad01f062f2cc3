package handlers

// Pending changes. Every console action that changes the configuration
// (ACCEPT, ADD, DELETE, (DE)ACTIVATE, RESTORE, an lvs.cf upload) changes
// the user's draft (store.EditDraft), through the same validation and the
// same rule for programs; pages show the draft while there is one, and a
// bar on every page says how many changes are pending. REVIEW shows what
// APPLY would do before anything happens (review.go); APPLY makes the
// draft one revision, optionally to be rolled back unless confirmed.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// stamp is what a form was filled from: the running configuration's
// serial and the version of the user's draft (0: none). An edit made on an
// older one is refused, rather than overwriting what was saved since.
type stamp struct {
	serial, draft int64
}

func (s stamp) form() *web.Form {
	f := web.NewForm(s.serial)
	f.Draft = s.draft
	return f
}

// stampOf reads the stamp a form or a button sent.
func stampOf(r *http.Request) stamp {
	serial, _ := strconv.ParseInt(r.PostFormValue("serial"), 10, 64)
	draft, _ := strconv.ParseInt(r.PostFormValue("draft"), 10, 64)
	return stamp{serial: serial, draft: draft}
}

// editing returns what the user edits: their draft when they have one,
// else the running configuration. It is the store's own (lent, not
// copied: at 10,000 x 10 a copy made most of a page's time): read it,
// never change it; an edit goes through the store (update).
func (c *Console) editing(r *http.Request) (*config.Config, stamp, error) {
	d, err := c.store.SharedDraft(r.Context(), userOf(r))
	switch {
	case errors.Is(err, store.ErrNoDraft):
		cfg, err := c.store.SharedConfig(r.Context())
		if err != nil {
			return nil, stamp{}, err
		}
		return cfg, stamp{serial: cfg.Serial}, nil
	case err != nil:
		return nil, stamp{}, err
	}
	return d.Config, stamp{serial: d.Base.Serial, draft: d.Version}, nil
}

// update makes a change of the logged-in user's draft, on the stamp the
// form was filled from; elevated when the user re-entered their password
// (see reauth). It returns the draft.
func (c *Console) update(ctx context.Context, r *http.Request, st stamp, elevated bool, fn func(*config.Config) error) (*config.Config, error) {
	d, err := c.store.EditDraft(ctx, store.Change{Role: requestScope(r), Author: userOf(r), Base: st.serial, Elevated: elevated}, st.draft, fn)
	if err != nil {
		return nil, err
	}
	return d.Config, nil
}

// pendingNote ends the message of an edit: nothing runs differently yet,
// or, when the edit undid the others, nothing is pending any more.
func (c *Console) pendingNote(r *http.Request) string {
	if _, err := c.store.Draft(r.Context(), userOf(r)); errors.Is(err, store.ErrNoDraft) {
		return "Your changes now match the running configuration: nothing is pending."
	}
	return "It is pending: REVIEW shows what it will do; APPLY makes it live."
}

// pending fills the page's bar of pending changes and of an APPLY that
// waits for its confirmation.
func (c *Console) pending(r *http.Request, p *web.Page) {
	ctx := r.Context()
	if version, n, err := c.store.DraftSummary(ctx, p.User); err == nil {
		p.Pending, p.Draft = n, version
	}
	if cf, err := c.store.Pending(ctx); err == nil {
		p.Confirm = &web.Confirm{Serial: cf.Serial, Previous: cf.Previous, Owner: cf.Owner,
			Delay: cf.Delay, Deadline: cf.Deadline}
	}
}

// discard is DISCARD of the bar: the user's pending changes are dropped.
func (c *Console) discard(w http.ResponseWriter, r *http.Request) {
	switch err := c.store.DiscardDraft(r.Context(), userOf(r)); {
	case errors.Is(err, store.ErrNoDraft):
		setFlash(w, r, "There were no pending changes.")
	case err != nil:
		c.serverError(w, r, "discarding the pending changes", err)
		return
	default:
		setFlash(w, r, "Your pending changes were discarded; the running configuration is as it was.")
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// rollbackChoices are the delays REVIEW offers for "apply, and roll back
// unless confirmed", in units of Console.rollbackUnit (minutes; a test
// makes them seconds). 0 is off, the default.
var rollbackChoices = []int{0, 1, 2, 5, 10, 30}

// applyDraft is APPLY on REVIEW.
func (c *Console) applyDraft(w http.ResponseWriter, r *http.Request) {
	version, _ := strconv.ParseInt(r.PostFormValue("draft"), 10, 64)
	n, err := strconv.Atoi(r.PostFormValue("rollback"))
	if err != nil || n < 0 || n > rollbackChoices[len(rollbackChoices)-1] {
		n = -1
	}
	if n < 0 {
		c.renderReview(w, r, http.StatusUnprocessableEntity, fmt.Sprintf("Roll back after: choose one of %v %s (0 is off).", rollbackChoices, c.unitName(2)))
		return
	}
	a := store.Apply{Version: version, Proof: true}
	if n > 0 {
		a.Rollback, a.Delay = time.Duration(n)*c.rollbackUnit, fmt.Sprintf("%d %s", n, c.unitName(n))
	}
	saved, err := c.store.ApplyDraft(r.Context(), store.Change{Role: requestScope(r), Author: userOf(r)}, a)
	var (
		dc *store.DraftConflictError
		me *store.MergeError
	)
	switch {
	case err == nil:
		msg := fmt.Sprintf("Applied as serial %d.", saved.Serial)
		if n > 0 {
			msg += fmt.Sprintf(" It rolls back in %s unless you press CONFIRM.", a.Delay)
		}
		setFlash(w, r, msg)
		http.Redirect(w, r, "/control", http.StatusSeeOther)
	case errors.Is(err, store.ErrNoDraft):
		setFlash(w, r, "There are no pending changes to apply.")
		http.Redirect(w, r, "/control", http.StatusSeeOther)
	case errors.As(err, &dc):
		c.renderReview(w, r, http.StatusConflict, "Your pending changes were changed in another window after this review was shown: "+
			"review them again below, then APPLY.")
	case errors.As(err, &me):
		c.renderReview(w, r, http.StatusConflict, fmt.Sprintf("%s applied serial %d, which changes what your pending changes change: "+
			"see the conflicts below and edit your changes (or DISCARD them).", me.Running.Author, me.Running.Serial))
	case errors.Is(err, store.ErrNoChange):
		_ = c.store.DiscardDraft(r.Context(), userOf(r))
		setFlash(w, r, "Nothing to apply: the running configuration already is what your changes make it.")
		http.Redirect(w, r, "/control", http.StatusSeeOther)
	default:
		var ve *config.ValidationError
		var pe *store.ProgramError
		if errors.As(err, &ve) || errors.As(err, &pe) {
			c.renderReview(w, r, http.StatusUnprocessableEntity, "APPLY was refused: "+err.Error())
			return
		}
		c.serverError(w, r, "applying the pending changes", err)
	}
}

// unitName names n units of the rollback delay.
func (c *Console) unitName(n int) string {
	unit := "minute"
	if c.rollbackUnit < time.Minute {
		unit = "second"
	}
	if n != 1 {
		unit += "s"
	}
	return unit
}

// confirm is CONFIRM of an APPLY that rolls back unless confirmed.
func (c *Console) confirm(w http.ResponseWriter, r *http.Request) {
	cf, err := c.store.Confirm(r.Context())
	switch {
	case errors.Is(err, store.ErrNoConfirmation):
		setFlash(w, r, "Nothing waits for a confirmation (it may have been rolled back: see HISTORY).")
	case err != nil:
		c.serverError(w, r, "confirming", err)
		return
	default:
		c.log.Info("apply confirmed", "serial", cf.Serial, "user", userOf(r))
		setFlash(w, r, fmt.Sprintf("Serial %d confirmed: it stays.", cf.Serial))
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

// draftConfig is d's configuration; nil for none.
func draftConfig(d *store.Draft) *config.Config {
	if d == nil {
		return nil
	}
	return d.Config
}
