package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// importLvsCf reads an uploaded lvs.cf as the command line's import does,
// looking up the host names piranha accepted.
func importLvsCf(ctx context.Context, r io.Reader) (*config.Config, []*lvscf.Warning, error) {
	return lvscf.Import(ctx, r, lvscf.Options{Resolver: net.DefaultResolver})
}

// peerSecretMissing reports whether cfg has a backup director while this
// director has no peer secret: serve then stays "starting" and brings
// nothing up.
func (c *Console) peerSecretMissing(ctx context.Context, cfg *config.Config) (bool, error) {
	if !cfg.Redundancy.BackupActive {
		return false, nil
	}
	_, _, err := c.store.PeerSecret(ctx)
	if errors.Is(err, store.ErrNoSecret) {
		return true, nil
	}
	return false, err
}

// What the console says when the peer secret is missing: after an import,
// beside REDUNDANCY's backup_active, and on CONTROL/MONITORING.
const (
	secretMissingImport = "backup_active = 1, but this director has no peer secret: lvsconsole serve stays \"starting\" " +
		"and brings nothing up until both directors share one. Press GENERATE A NEW SECRET on the REDUNDANCY tab and set " +
		"it on the other director (or run lvsconsole secret -generate here and lvsconsole secret -set on the other)."
	secretMissingField = "There is no peer secret on this director: with a backup active, lvsconsole serve stays " +
		"\"starting\" and brings nothing up until both directors share one. Press GENERATE A NEW SECRET below and set " +
		"it on the other director."
	secretMissingRun = "No peer secret is set, so this director brings nothing up. Run lvsconsole secret -generate on " +
		"one director and give what it prints to lvsconsole secret -set on the other (or use GENERATE A NEW SECRET on " +
		"the REDUNDANCY tab); each takes it within a heartbeat, no restart needed."
)

// showImported answers a console import that was saved (or changed
// nothing) and has warnings: a redirect to the history page, which shows
// them once (handoffs). It returns false, having written nothing, when
// there is nothing to read or the import failed.
func (c *Console) showImported(w http.ResponseWriter, r *http.Request, saved *config.Config, err error,
	name string, warns []string) bool {
	if err != nil && !errors.Is(err, store.ErrNoChange) {
		return false
	}
	cur, _, rerr := c.editing(r)
	if rerr != nil {
		return false
	}
	notes := append(make([]string, 0, len(warns)+1), warns...)
	if missing, serr := c.peerSecretMissing(r.Context(), cur); serr == nil && missing {
		notes = append(notes, secretMissingImport)
	}
	if len(notes) == 0 {
		return false
	}
	msg := fmt.Sprintf("%s imported into your pending changes: REVIEW shows what it would change; APPLY makes it live.", name)
	if saved == nil {
		msg = fmt.Sprintf("Nothing changed: your configuration is already %s.", name)
	}
	c.handoffs.give(w, r, "/review", handed{Warnings: notes})
	setFlash(w, r, msg)
	http.Redirect(w, r, "/review", http.StatusSeeOther)
	return true
}

// apiImported is the answer to PUT config.cf: the configuration saved, and
// the import's warnings ([] when none).
type apiImported struct {
	apiConfig
	Warnings []apiLineError `json:"warnings"`
}

// answerImport answers an API import that was saved, or changed nothing.
func (c *Console) answerImport(w http.ResponseWriter, r *http.Request, saved *config.Config, warns []*lvscf.Warning) {
	if saved == nil {
		var ok bool
		if saved, ok = c.apiRead(w, r); !ok {
			return
		}
	}
	out := apiImported{apiConfig: configOf(saved), Warnings: make([]apiLineError, len(warns))}
	for i, wn := range warns {
		out.Warnings[i] = apiLineError{Line: wn.Line, Column: wn.Col, Key: wn.Key, Message: wn.Msg}
	}
	writeResource(w, http.StatusOK, saved.Serial, out)
}

// noteSecret puts the missing peer secret beside REDUNDANCY's
// backup_active while a backup is active.
func (c *Console) noteSecret(r *http.Request, f *web.Form, cfg *config.Config) {
	if missing, err := c.peerSecretMissing(r.Context(), cfg); err == nil && missing {
		if f.Notes == nil {
			f.Notes = map[string]string{}
		}
		f.Notes["backup_active"] = secretMissingField
	}
}

// hintSecret tells CONTROL/MONITORING's failover card what to run when the
// peer secret is missing.
func (c *Console) hintSecret(ctx context.Context, cfg *config.Config, v *web.ControlView) {
	if v.Failover == nil {
		return
	}
	if missing, err := c.peerSecretMissing(ctx, cfg); err == nil && missing {
		// Clipped: the warnings are failover's own slice.
		v.Failover.Warnings = append(slices.Clip(v.Failover.Warnings), secretMissingRun)
	}
}

// refusedFile shows the HISTORY page again after an upload that could not
// be read (err lists each refused line), with the file's text kept in f to
// correct and send again.
func (c *Console) refusedFile(w http.ResponseWriter, r *http.Request, f *web.Form, err error, again func(web.Page, int)) {
	cur, rerr := c.store.Serial(r.Context())
	if rerr != nil {
		c.serverError(w, r, "reading the configuration", rerr)
		return
	}
	p := c.page(w, r, "", "", cur)
	var perr lvscf.Errors
	if errors.As(err, &perr) {
		for _, e := range perr {
			p.Errors = append(p.Errors, e.Error())
		}
	} else {
		for _, l := range strings.Split(err.Error(), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				p.Errors = append(p.Errors, l)
			}
		}
	}
	again(p, http.StatusUnprocessableEntity)
}
