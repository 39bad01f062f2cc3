package handlers

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// FailoverSource tells the state of failover; *failover.Director provides
// it.
type FailoverSource interface {
	Status() failover.Status
	// Events returns the last n role changes, newest first.
	Events(n int) []failover.Event
}

// standby reports whether this director is the standby of a pair, and the
// active's console when known.
func (c *Console) standby() (bool, string) {
	if c.failover == nil {
		return false, ""
	}
	st := c.failover.Status()
	return st.Pair && st.Role == failover.Standby, st.PeerConsole
}

// writable refuses configuration changes on the standby director: its
// configuration follows the active's, and an edit there would be lost (or
// worse, fight the active's).
func (c *Console) writable(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if sb, active := c.standby(); sb {
			p := c.page(w, r, "Read-only on the standby director", "", 0)
			p.Errors = []string{standbyRefusal(active)}
			c.render(w, r, http.StatusConflict, web.NotFound(p))
			return
		}
		next(w, r)
	}
}

// accountsWritable refuses changes of console users and API tokens (and
// passwords) on the standby director: the configuration sync replaces them
// with the active director's every few seconds, so a change made here
// would be undone.
func (c *Console) accountsWritable(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sb, active := c.standby()
		if !sb {
			next(w, r)
			return
		}
		msg := "This director is the standby: its users and API tokens follow the active director's, so nothing was saved."
		if active != "" {
			msg += " Make the change on the active director's console, " + active + "."
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeJSON(w, http.StatusConflict, apiError{Error: msg, ActiveConsole: active})
			return
		}
		p := c.page(w, r, "Read-only on the standby director", "", 0)
		p.Errors = []string{msg}
		c.render(w, r, http.StatusConflict, web.NotFound(p))
	}
}

// standbyRefusal says why the standby refused a change, and where to make
// it (active is the active director's console, when known).
func standbyRefusal(active string) string {
	msg := "This director is the standby: its configuration follows the active director's, so nothing was saved."
	if active != "" {
		msg += " Make the change on the active director's console, " + active + "."
	}
	return msg
}

// peerEndpoint is the state of the configuration endpoint: the request
// nonces it took, and its refusals for the log.
type peerEndpoint struct {
	verify *failover.Verifier

	mu      sync.Mutex
	tokens  float64   // log lines that may be written now
	last    time.Time // when tokens was counted
	dropped int       // refusals not logged since the last logged one
}

// Refusals are logged at most refusalBurst at once and refusalRate a
// minute after that: a flood of requests cannot fill the log.
const (
	refusalBurst = 10
	refusalRate  = 10
)

func newPeerEndpoint() *peerEndpoint {
	return &peerEndpoint{verify: failover.NewVerifier(), tokens: refusalBurst}
}

// logRefusal reports whether a refusal at now may be logged, and how many
// were not since the last that was.
func (p *peerEndpoint) logRefusal(now time.Time) (bool, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := now.Sub(p.last); !p.last.IsZero() && d > 0 {
		p.tokens = min(refusalBurst, p.tokens+d.Minutes()*refusalRate)
	}
	if now.After(p.last) {
		p.last = now
	}
	if p.tokens < 1 {
		p.dropped++
		return false, 0
	}
	p.tokens--
	dropped := p.dropped
	p.dropped = 0
	return true, dropped
}

// peerConfig serves the configuration to the peer director, sealed for
// the request, when the request proves it holds the peer secret (see
// lvs/failover's peerauth.go). Every refusal is the same 401, whatever
// the reason: the reason goes to the log only.
func (c *Console) peerConfig(w http.ResponseWriter, r *http.Request) {
	c.peerAnswer(w, r, "the configuration", func(r *http.Request) ([]byte, error) {
		cfg, err := c.store.Config(r.Context())
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		err = lvscf.Format(&buf, cfg)
		return buf.Bytes(), err
	})
}

// peerAccounts serves the console users and API tokens (their hashes) to
// the peer director, as peerConfig serves the configuration: the standby
// takes them, so that a takeover does not lock the team out.
func (c *Console) peerAccounts(w http.ResponseWriter, r *http.Request) {
	c.peerAnswer(w, r, "the users and API tokens", func(r *http.Request) ([]byte, error) {
		a, err := c.store.Accounts(r.Context())
		if err != nil {
			return nil, err
		}
		return json.Marshal(a)
	})
}

// peerAnswer answers a request of the peer director with what body makes,
// sealed for the request, once the request is verified.
func (c *Console) peerAnswer(w http.ResponseWriter, r *http.Request, what string, body func(*http.Request) ([]byte, error)) {
	key, _, err := c.store.PeerSecret(r.Context())
	if err != nil {
		key = nil
	}
	q, verr := c.peer.verify.Verify(r, key, c.now())
	if err != nil && !errors.Is(err, store.ErrNoSecret) {
		verr = fmt.Errorf("reading the peer secret: %w", err)
	}
	if verr != nil {
		if ok, dropped := c.peer.logRefusal(c.now()); ok {
			args := []any{"remote", r.RemoteAddr, "path", r.URL.Path, "err", verr}
			if dropped > 0 {
				args = append(args, "not_logged", dropped)
			}
			c.log.Warn("refused a configuration request", args...)
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	b, err := body(r)
	if errors.Is(err, errNotServed) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		c.log.Error("reading "+what+" for the peer director", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(failover.SealAnswer(key, q, b))
}

// failoverView fills the failover card of CONTROL/MONITORING.
func (c *Console) failoverView() *web.FailoverView {
	if c.failover == nil {
		return nil
	}
	st := c.failover.Status()
	ps := st.Pulse.Peer
	v := &web.FailoverView{
		Pair: st.Pair, Role: string(st.Role), Since: st.Since, Reason: st.Reason,
		Primary: st.Primary, Self: addrString(st.Self), Peer: addrString(ps.Addr),
		PeerRole: ps.Role.String(), PeerHeard: ps.Heard, PeerConsole: st.PeerConsole,
		Serial: st.Serial, PeerSerial: ps.Serial, InSync: st.InSync,
		VIPs: st.VIPs, Warnings: st.Warnings,
	}
	if !ps.LastHeard.IsZero() {
		v.PeerAge = c.now().Sub(ps.LastHeard).Round(time.Millisecond).String()
	}
	k := st.Pulse.Counters
	v.Counters = []web.Counter{
		{Name: "sent", Value: k.Sent}, {Name: "received", Value: k.Received},
		{Name: "refused: bad authentication", Value: k.BadAuth}, {Name: "unknown source", Value: k.UnknownSource},
		{Name: "replayed", Value: k.Replayed}, {Name: "stale (no answer to a recent challenge)", Value: k.Stale},
		{Name: "malformed", Value: k.Malformed},
	}
	return v
}

func addrString[A interface {
	IsValid() bool
	String() string
}](a A) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// secretLen is the size of a generated peer secret, in bytes.
const secretLen = 32

// EncodeSecret writes a peer secret as admins copy it.
func EncodeSecret(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// DecodeSecret reads a secret written by EncodeSecret.
func DecodeSecret(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("is not a secret made by lvsconsole (base64url text, as shown when it was generated)")
	}
	if len(b) < store.MinSecret {
		return nil, errors.New("is too short: paste the whole secret the other director showed")
	}
	return b, nil
}

// NewSecret makes a peer secret.
func NewSecret() []byte {
	b := make([]byte, secretLen)
	rand.Read(b)
	return b
}

// peerSecret generates (action=generate) or sets (action=set, field
// secret) the peer secret, which stays on this director: it is not part of
// the configuration, so each director is given it once.
func (c *Console) peerSecret(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var key []byte
	switch r.PostForm.Get("action") {
	case "generate":
		key = NewSecret()
	case "set":
		var err error
		if key, err = DecodeSecret(r.PostForm.Get("secret")); err != nil {
			cfg, st, cerr := c.editing(r)
			if cerr != nil {
				c.serverError(w, r, "reading the configuration", cerr)
				return
			}
			f := redundancyForm(cfg, st)
			sf := web.NewForm(0)
			sf.Values["secret"] = r.PostForm.Get("secret")
			sf.Errs["secret"] = "Peer secret " + err.Error()
			c.render(w, r, http.StatusUnprocessableEntity, web.Redundancy(c.page(w, r, "Redundancy", web.TabRedundancy, st.serial), f, c.secretView(r, sf, "")))
			return
		}
	default:
		http.Error(w, "action must be generate or set", http.StatusBadRequest)
		return
	}
	if err := c.store.SetPeerSecret(r.Context(), key); err != nil {
		c.serverError(w, r, "saving the peer secret", err)
		return
	}
	c.log.Info("peer secret changed", "user", userOf(r))
	if r.PostForm.Get("action") == "generate" {
		// Shown once, on the page this redirects to (handoffs): it is
		// not kept anywhere a page could show it again.
		c.handoffs.give(w, r, "/redundancy", handed{Secret: EncodeSecret(key)})
		setFlash(w, r, "A new peer secret was generated. Copy it now and set it on the other director: it is not shown again.")
		http.Redirect(w, r, "/redundancy", http.StatusSeeOther)
		return
	}
	setFlash(w, r, "The peer secret was set. Heartbeats and configuration sync now use it.")
	http.Redirect(w, r, "/redundancy", http.StatusSeeOther)
}

// secretView describes the peer secret on the REDUNDANCY tab; shown is a
// secret just generated.
func (c *Console) secretView(r *http.Request, f *web.Form, shown string) web.SecretView {
	v := web.SecretView{Form: f, Shown: shown}
	if _, at, err := c.store.PeerSecret(r.Context()); err == nil {
		v.SetAt = at
	}
	return v
}
