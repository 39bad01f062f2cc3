// Package handlers is the console's HTTP layer: routes, login, and the
// translation between forms and the store. Handlers read and write the store
// only; they never talk to the kernel.
//
// Every route requires a session, for every method, except the login and
// setup pages, static files and the health probe: the check sits in front of
// the router (see requireSession), not on each route, so a route added later
// cannot forget it. That is the lesson of piranha's CVE-2013-6492, where
// authentication covered GET only.
package handlers

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/static"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// Options configure the console.
type Options struct {
	Store *store.Store
	Log   *slog.Logger
	// Secure treats every request as one over HTTPS (Secure cookies,
	// HSTS); a request over TLS is one anyway. serve sets it with TLS.
	Secure bool
	// Sessions says how long a login lasts; zero values take the defaults
	// (30 minutes idle, 12 hours at most).
	Sessions store.SessionPolicy
	// SetupCode, when no user exists, is the code the first-time setup page
	// asks for. Empty: New makes one and logs it.
	SetupCode string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Engine reports what the IPVS engine does; nil when none runs.
	Engine StatusSource
	// History gives the traffic of the last hour, for the charts; nil:
	// none are drawn. *engine.Engine provides it.
	History HistorySource
	// Health reports the health checks; nil when none run.
	Health HealthSource
	// Failover reports failover; nil when none runs. On the standby
	// director of a pair it makes the configuration read-only.
	Failover FailoverSource
	// Cluster reports cluster mode (issue 19): CONTROL/MONITORING's
	// cluster view, /metrics' BGP and cluster metrics, the status at
	// /peer/v2/cluster; nil when not in cluster mode or not wired.
	Cluster ClusterSource
	// Timeouts bound reading requests and writing answers.
	Timeouts Timeouts
	// TrustedProxies are the proxies whose X-Forwarded-For (the client's
	// address) and X-Forwarded-Proto (https: Secure cookies and HSTS) are
	// believed; nobody else's are.
	TrustedProxies []netip.Prefix
	// Preview says what a configuration would send to the kernel, for
	// REVIEW; nil: REVIEW says it cannot. *engine.Engine provides it.
	Preview Previewer
	// Host and Probe feed REVIEW's warnings (a missing interface, NAT
	// without forwarding, a real server that does not answer); nil: not
	// checked.
	Host  Host
	Probe Prober
	// DRProbe checks that a direct-routing real server accepts traffic
	// for the VIP (REAL SERVER's CHECK); nil: no such check.
	DRProbe DRProbe
	// Fingerprint returns the SHA-256 fingerprint of the certificate the
	// console serves, shown on the account page to compare with the
	// browser's; nil: the console serves plain HTTP.
	Fingerprint func() string
	// Checks are the director's checks that CONTROL/MONITORING lists
	// (lvsconsole doctor's); nil: none listed.
	Checks DirectorChecks
	// RollbackUnit is the unit of REVIEW's "roll back unless confirmed"
	// choices: a minute, unless a test makes it shorter.
	RollbackUnit time.Duration
	// PAM checks, with the system, the passwords of users who are not
	// local console users (serve -pam-service); nil: only local users
	// log in.
	PAM SystemAuth
	// PAMTimeout bounds the wait for PAM's answer; zero: 15 s.
	PAMTimeout time.Duration
	// LoadKey is the director's own SSH key for the uptime load monitor,
	// whose public half the VIRTUAL SERVER tab shows; nil: "not
	// available".
	LoadKey LoadKey
}

// LoadKey gives the director's own SSH public key, in authorized_keys'
// form ("ssh-ed25519 AAAA... lvsconsole@host").
type LoadKey interface {
	PublicKey() (string, error)
}

// Console is the console's HTTP handler.
type Console struct {
	store *store.Store
	// passwords checks and sets passwords: the store, which a test may
	// wrap to watch the hashing.
	passwords passwordStore
	log       *slog.Logger
	secure    bool
	policy    store.SessionPolicy
	setup     *setupCode
	throttle  *throttle
	hashes    *hashGate
	sysAuth   SystemAuth // Options.PAM
	pamWait   time.Duration
	now       func() time.Time
	engine    StatusSource
	traffic   HistorySource
	health    HealthSource
	failover  FailoverSource
	cluster   ClusterSource
	timeouts  Timeouts
	proxies   []netip.Prefix
	preview   Previewer
	host      Host
	checks    DirectorChecks
	probe     Prober
	drProbe   DRProbe
	loadKey   LoadKey
	// fingerprint is Options.Fingerprint.
	fingerprint func() string
	// rollbackUnit is the unit of the rollback delays REVIEW offers.
	rollbackUnit time.Duration
	peer         *peerEndpoint // the peer's configuration requests (failover.go)
	handoffs     *handoffs     // what a page shows once after a POST (handoff.go)
	// throttleLog counts the throttle's refusals for the audit trail.
	throttleLog *throttleLog
	// done ends with the context New was given: long-lived answers (the
	// dashboard's stream) end then, so that a server shutdown completes.
	done    <-chan struct{}
	scrape  http.Handler // /metrics, over the console's own registry
	mux     *chi.Mux     // the routes, for tests that walk them
	handler http.Handler // mux behind the middleware
}

// sessionCookie names the session cookie of r. Over HTTPS the __Host-
// prefix makes the browser refuse it unless it is Secure, host-only and for
// path /; the same request (and those after it, over the same scheme) set
// and read the same name.
func (c *Console) sessionCookie(r *http.Request) string {
	if secureRequest(r) {
		return "__Host-lvsconsole"
	}
	return "lvsconsole"
}

// New returns the console. When no console user exists it prepares the
// first-time setup; SetupCode returns the code to show the admin.
func New(ctx context.Context, o Options) (*Console, error) {
	c := &Console{
		done:      ctx.Done(),
		store:     o.Store,
		passwords: o.Store,
		log:       o.Log,
		secure:    o.Secure,
		policy:    o.Sessions,
		now:       o.Now,
		engine:    o.Engine,
		traffic:   o.History,
		health:    o.Health,
		failover:  o.Failover,
		cluster:   o.Cluster,
		timeouts:  o.Timeouts.withDefaults(),
		proxies:   o.TrustedProxies,
		preview:   o.Preview,
		host:      o.Host,
		checks:    o.Checks,
		probe:     o.Probe,
		drProbe:   o.DRProbe,
		loadKey:   o.LoadKey,

		rollbackUnit: o.RollbackUnit,
		fingerprint:  o.Fingerprint,
		sysAuth:      o.PAM,
		pamWait:      cmp.Or(o.PAMTimeout, pamTimeout),
	}
	if c.rollbackUnit <= 0 {
		c.rollbackUnit = time.Minute
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.policy.Idle == 0 {
		c.policy.Idle = 30 * time.Minute
	}
	if c.policy.Absolute == 0 {
		c.policy.Absolute = 12 * time.Hour
	}
	c.throttle = newThrottle(c.now, maxThrottled)
	c.throttleLog = newThrottleLog()
	go c.flushEvery(ctx, 10*time.Second)
	c.hashes = newHashGate(hashSlots(), hashWait)
	c.peer = newPeerEndpoint()
	c.handoffs = newHandoffs(c.now)
	has, err := c.store.HasUsers(ctx)
	if err != nil {
		return nil, err
	}
	if !has {
		code := o.SetupCode
		if code == "" {
			code = newSetupCode()
		}
		c.setup = &setupCode{code: code}
	}
	c.scrape = c.newMetricsHandler()
	c.handler = c.routes()
	return c, nil
}

// passwordStore is what the login, setup and account pages need of the
// store: each call hashes a password (argon2id, 19 MiB).
type passwordStore interface {
	CheckPassword(ctx context.Context, user, password string) error
	SetPassword(ctx context.Context, user, password string) error
}

// SetupCode returns the first-time setup code while no console user exists.
func (c *Console) SetupCode() (string, bool) {
	if c.setup == nil || !c.setup.open() {
		return "", false
	}
	return c.setup.code, true
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

func (c *Console) routes() http.Handler {
	r := chi.NewRouter()
	r.NotFound(c.notFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})

	files := http.StripPrefix("/static/", http.FileServerFS(static.FS))
	r.Method(http.MethodGet, "/static/*", files)
	r.Method(http.MethodHead, "/static/*", files)
	r.Get("/healthz", c.healthz)
	r.Get(failover.ConfigPath, c.peerConfig)     // authenticated by the peer secret, not a session
	r.Get(failover.AccountsPath, c.peerAccounts) // likewise
	r.Get(cluster.Path, c.peerCluster)           // likewise: the other directors of a cluster
	r.Get("/login", c.loginPage)
	r.Post("/login", c.login)
	r.Get("/setup", c.setupPage)
	r.Post("/setup", c.doSetup)

	r.Get("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/control", http.StatusSeeOther) })
	r.Post("/logout", c.logout)
	r.Get("/account", c.accountPage)
	r.Post("/account", c.accountsWritable(c.changePassword))
	r.Get("/control", c.control)
	r.Get("/control/stream", c.controlStream)
	r.Get("/control/ipvs", c.ipvsPage)
	r.Get("/global", c.globalPage)
	r.Post("/global", c.writable(c.saveGlobal))
	r.Get("/redundancy", c.redundancyPage)
	r.Post("/redundancy", c.writable(c.saveRedundancy))
	r.Post("/redundancy/reset", c.writable(c.resetRedundancy))
	r.Post("/redundancy/secret", c.peerSecret) // local to each director, so the standby takes it too

	r.Get("/virtual", c.virtualList)
	r.Get("/virtual/new", c.newVirtualPage)
	r.Post("/virtual/new", c.writable(c.saveVirtual))
	r.Route("/virtual/{vid:-?[0-9]+}", func(r chi.Router) {
		r.Get("/", c.virtualPage)
		r.Post("/", c.writable(c.saveVirtual))
		r.Post("/activate", c.writable(c.activateVirtual))
		r.Post("/delete", c.writable(c.deleteVirtual))
		r.Get("/scripts", c.scriptsPage)
		r.Post("/scripts", c.writable(c.saveScripts))
		r.Get("/real", c.realList)
		r.Get("/real/new", c.newRealPage)
		r.Post("/real/new", c.writable(c.saveReal))
		r.Get("/real/{rid:-?[0-9]+}", c.realPage)
		r.Post("/real/{rid:-?[0-9]+}", c.writable(c.saveReal))
		r.Post("/real/{rid:-?[0-9]+}/activate", c.writable(c.activateReal))
		r.Post("/real/{rid:-?[0-9]+}/drain", c.writable(c.drainReal))
		r.Post("/real/{rid:-?[0-9]+}/delete", c.writable(c.deleteReal))
		r.Post("/real/{rid:-?[0-9]+}/drcheck", c.drCheck)              // writes nothing: the standby checks too
		r.Post("/real/{rid:-?[0-9]+}/hostkey/forget", c.forgetHostKey) // local to each director, as its pins
	})

	r.Get("/review", c.reviewPage)
	r.Post("/review/apply", c.writable(c.applyDraft))
	r.Post("/review/discard", c.discard)
	r.Post("/confirm", c.confirm)

	r.Get("/audit", c.auditPage) // audit.go
	r.Get("/audit.jsonl", c.auditExport)
	r.Get("/history", c.history)
	r.Get("/history/{serial:[0-9]+}", c.revision)
	r.Post("/history/{serial:[0-9]+}/restore", c.writable(c.restore))
	r.Get("/export", c.export)
	r.Get("/metrics", c.metrics)
	r.Post("/import", c.writable(c.upload(c.importCf)))
	r.Get("/tokens", c.tokensPage)
	r.Post("/tokens", c.accountsWritable(c.createToken)) // the standby takes the active's
	r.Post("/tokens/{tid:[0-9]+}/revoke", c.accountsWritable(c.revokeToken))
	c.userRoutes(r)                 // the USERS page, for admins: users.go
	r.Route("/api/v1", c.apiRoutes) // the JSON API: see api.go

	// Outermost first: where the request comes from, headers on every
	// answer, cross-origin requests refused before anything else runs,
	// the body's limit and the deadlines, the session check, then the
	// body read (see wall.go).
	c.mux = r
	var h http.Handler = r
	h = c.readBodies(h)
	h = c.requirePageRole(h)
	h = c.requireSession(h)
	h = c.bound(h)
	h = http.NewCrossOriginProtection().Handler(h)
	h = securityHeaders(h)
	h = c.origins(h)
	return h
}

// publicPath reports whether path is served without a session.
func publicPath(path string) bool {
	switch path {
	case "/login", "/setup", "/healthz", failover.ConfigPath, failover.AccountsPath, cluster.Path:
		return true
	}
	return strings.HasPrefix(path, "/static/")
}

type userKey struct{}

// requireSession lets a request through only with a valid session, for
// every method and every path but the public ones; it also answers the
// unknown paths, so that not even a 404 tells a stranger what exists.
// The API and /metrics also take an API token instead (see tokens.go), and
// answer 401 (the API in JSON, /metrics in text) rather than a redirect to
// the login page.
func (c *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The client's address, for what the store writes to the
		// audit trail of this request.
		r = r.WithContext(store.WithActor(r.Context(), store.Actor{Client: clientIP(r)}))
		if publicPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if token, ok := bearerToken(r); ok && bearerPath(r.URL.Path) {
			c.serveWithToken(w, r, token, next)
			return
		}
		sess, err := c.session(r)
		if err != nil {
			if !errors.Is(err, store.ErrNoSession) {
				c.log.Error("reading a session", "err", err)
			}
			if apiPath(r.URL.Path) {
				apiUnauthorized(w, "log in to the console, or send an API token as Authorization: Bearer <token>")
				return
			}
			if r.URL.Path == "/metrics" {
				// Scrapers: a challenge and a line of text, not the
				// login page.
				w.Header().Set("WWW-Authenticate", `Bearer realm="lvsconsole"`)
				http.Error(w, "send an API token as Authorization: Bearer <token>, or log in to the console", http.StatusUnauthorized)
				return
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				next := r.URL.Path
				if r.URL.RawQuery != "" {
					next += "?" + r.URL.RawQuery
				}
				http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
				return
			}
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		ctx := context.WithValue(r.Context(), userKey{}, sess.User)
		ctx = withScope(ctx, sess.Role)
		ctx = store.WithActor(ctx, store.Actor{Name: sess.User, Client: clientIP(r)})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (c *Console) session(r *http.Request) (store.Session, error) {
	ck, err := r.Cookie(c.sessionCookie(r))
	if err != nil || ck.Value == "" {
		return store.Session{}, store.ErrNoSession
	}
	return c.store.Session(r.Context(), ck.Value, c.policy)
}

// userOf returns the logged-in user of a request that passed requireSession.
func userOf(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}

// securityHeaders keeps pages out of frames and caches, allows only the
// console's own scripts and styles, and over HTTPS tells the browser to
// come back over HTTPS only (HSTS; not for subdomains, which may be
// other machines).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		if secureRequest(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// healthz answers whether the database can be read, for service managers and
// probes. It is open without login, so it says nothing of the configuration.
func (c *Console) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	// Not a copy: the endpoint is open, and a copy of 10,000 x 10 is 24 MB.
	if _, err := c.store.SharedConfig(r.Context()); err != nil {
		c.log.Error("health check", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": "the database cannot be read"})
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusNotFound, web.NotFound(c.page(w, r, "Not found", "", 0)))
}

// page returns the frame of a page for the logged-in user, with the message
// the last action left. A page that does not show the configuration gives
// serial 0: the header's is then read here (and left out if it cannot be).
func (c *Console) page(w http.ResponseWriter, r *http.Request, title, tab string, serial int64) web.Page {
	if serial == 0 && userOf(r) != "" {
		serial, _ = c.store.Serial(r.Context())
	}
	p := web.Page{Title: title, Tab: tab, User: userOf(r), Serial: serial, Flash: takeFlash(w, r),
		Role: store.RoleName(requestScope(r))}
	p.Standby, p.ActiveURL = c.standby()
	if p.User != "" {
		c.pending(r, &p)
	}
	return p
}

// render writes a page with status code.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, page templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := page.Render(r.Context(), w); err != nil {
		c.log.Error("rendering a page", "path", r.URL.Path, "err", err)
	}
}

// serverError logs err and shows a page that says what failed without
// internals.
func (c *Console) serverError(w http.ResponseWriter, r *http.Request, doing string, err error) {
	c.log.Error(doing, "path", r.URL.Path, "err", err)
	p := c.page(w, r, "Something went wrong", "", 0)
	p.Errors = []string{fmt.Sprintf("%s failed; the console's log has the details.", doing)}
	p.ErrorsHead = "The console could not finish this:"
	c.render(w, r, http.StatusInternalServerError, web.NotFound(p))
}

// setupCode is the one-time code of the first-time setup.
type setupCode struct {
	code   string
	mu     sync.Mutex
	closed bool
}

// newSetupCode returns a code of 8 characters a person can copy without
// confusing 0 and O: 40 bits, and the throttle limits guesses.
func newSetupCode() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:4]) + "-" + string(b[4:])
}
