package handlers

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

type fixedFailover failover.Status

func (f fixedFailover) Status() failover.Status   { return failover.Status(f) }
func (fixedFailover) Events(int) []failover.Event { return nil }

// TestStandbyIsReadOnly: on the standby director every configuration
// change is refused (409) and saves nothing, pages say so and link to the
// active; so are changes of users, tokens and passwords, which the standby
// takes from the active; the peer secret can still be set there.
func TestStandbyIsReadOnly(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	e.console.failover = fixedFailover{Pair: true, Role: failover.Standby, PeerConsole: "http://192.0.2.1:3636"}
	c := e.login(t)

	page := get(t, c, e.srv.URL+"/global")
	if !strings.Contains(page.body, `id="standby"`) || !strings.Contains(page.body, "http://192.0.2.1:3636") {
		t.Errorf("the standby's pages do not say it is the standby with a link to the active:\n%s", page.body)
	}
	vid := itoa(cfg.Virtuals[0].ID)
	for _, path := range []string{"/global", "/redundancy", "/redundancy/reset", "/virtual/new", "/virtual/" + vid + "/activate",
		"/virtual/" + vid + "/delete", "/virtual/" + vid + "/scripts", "/history/1/restore", "/import"} {
		a := post(t, c, e.srv.URL+path, url.Values{"serial": {itoa(cfg.Serial)}, "name": {"x"}})
		if a.code != http.StatusConflict || !strings.Contains(a.body, "standby") {
			t.Errorf("POST %s on the standby: %d, want 409 saying why", path, a.code)
		}
	}
	if got := e.config(t).Serial; got != cfg.Serial {
		t.Errorf("serial moved from %d to %d on the standby", cfg.Serial, got)
	}
	// Users, tokens and passwords follow the active's (the sync takes
	// them): changed here, they would be undone.
	for path, form := range map[string]url.Values{
		"/account":          {"current": {testPassword}, "password": {"another long one"}, "password2": {"another long one"}},
		"/users":            {"name": {"bob"}, "role": {"viewer"}, "password": {"bob's password"}, "password2": {"bob's password"}},
		"/users/password":   {"user": {"admin"}, "password": {"another long one"}, "password2": {"another long one"}},
		"/users/admin/role": {"role": {"viewer"}},
		"/tokens":           {"name": {"ci"}, "scope": {"read"}},
	} {
		a := post(t, c, e.srv.URL+path, form)
		if a.code != http.StatusConflict || !strings.Contains(a.body, "its users and API tokens follow the active director") ||
			!strings.Contains(a.body, "http://192.0.2.1:3636") {
			t.Errorf("POST %s on the standby: %d, want 409 saying why:\n%s", path, a.code, a.body)
		}
	}
	if us, _ := e.store.ListUsers(context.Background()); len(us) != 1 || us[0].Role != store.ScopeAdmin {
		t.Errorf("users after the refusals: %+v", us)
	}
	if ts, _ := e.store.ListTokens(context.Background()); len(ts) != 0 {
		t.Errorf("tokens after the refusals: %+v", ts)
	}
	if err := e.store.CheckPassword(context.Background(), "admin", testPassword); err != nil {
		t.Errorf("the password changed on the standby: %v", err)
	}
	a := follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/redundancy/secret", url.Values{"action": {"generate"}}))
	if a.code != http.StatusOK || !strings.Contains(a.body, `id="new-secret"`) {
		t.Errorf("generating the secret on the standby: %d", a.code)
	}

	// The same console as active (or alone) takes the change.
	e.console.failover = fixedFailover{Pair: true, Role: failover.Active}
	a = post(t, c, e.srv.URL+"/virtual/"+vid+"/activate", url.Values{"serial": {itoa(cfg.Serial)}})
	if a.code != http.StatusSeeOther {
		t.Errorf("activate on the active: %d %s", a.code, a.body)
	}
}

// TestPeerSecretForm: a generated secret is shown once and stored; a
// pasted one is checked and stored; a bad paste says what is wrong and
// keeps the old secret.
func TestPeerSecretForm(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	if page := get(t, c, e.srv.URL+"/redundancy"); !strings.Contains(page.body, "not set") {
		t.Error("the REDUNDANCY tab does not say that no secret is set")
	}
	a := follow(t, c, e.srv.URL, post(t, c, e.srv.URL+"/redundancy/secret", url.Values{"action": {"generate"}}))
	i := strings.Index(a.body, `id="new-secret">`)
	if a.code != http.StatusOK || i < 0 {
		t.Fatalf("generate: %d", a.code)
	}
	shown := a.body[i+len(`id="new-secret">`):]
	shown = shown[:strings.Index(shown, "<")]
	key, _, err := e.store.PeerSecret(context.Background())
	if err != nil || EncodeSecret(key) != shown {
		t.Fatalf("stored %x (%v), shown %q", key, err, shown)
	}
	if page := get(t, c, e.srv.URL+"/redundancy"); strings.Contains(page.body, shown) {
		t.Error("the secret is shown again on a later page")
	}

	a = post(t, c, e.srv.URL+"/redundancy/secret", url.Values{"action": {"set"}, "secret": {"too-short"}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(fieldError(a.body, "secret"), "Peer secret") {
		t.Errorf("a bad secret: %d, message %q", a.code, fieldError(a.body, "secret"))
	}
	if k, _, _ := e.store.PeerSecret(context.Background()); EncodeSecret(k) != shown {
		t.Error("a refused secret replaced the stored one")
	}
	other := EncodeSecret(NewSecret())
	a = post(t, c, e.srv.URL+"/redundancy/secret", url.Values{"action": {"set"}, "secret": {" " + other + "\n"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("set: %d %s", a.code, a.body)
	}
	if k, _, _ := e.store.PeerSecret(context.Background()); EncodeSecret(k) != other {
		t.Error("the pasted secret was not stored")
	}
}

// TestPeerConfig: the peer endpoint needs no session but the secret: it
// refuses a request without it, with another secret or an old time stamp,
// and answers the right one with the configuration sealed for it, which
// failover.Fetch opens.
func TestPeerConfig(t *testing.T) {
	e := newEnv(t, true)
	want := e.seed(t)
	u := e.srv.URL + failover.ConfigPath
	anon := &http.Client{}
	if a := get(t, anon, u); a.code != http.StatusUnauthorized {
		t.Errorf("without a secret set: %d, want 401", a.code)
	}
	key := NewSecret()
	if err := e.store.SetPeerSecret(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if a := get(t, anon, u); a.code != http.StatusUnauthorized {
		t.Errorf("unsigned request: %d, want 401", a.code)
	}
	for name, sign := range map[string]func(*http.Request){
		"another secret":  func(r *http.Request) { failover.SignRequest(r, NewSecret(), time.Now()) },
		"a stale request": func(r *http.Request) { failover.SignRequest(r, key, time.Now().Add(-time.Hour)) },
	} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		sign(req)
		if a := do(t, anon, req); a.code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, a.code)
		}
	}
	got, err := failover.Fetch(context.Background(), anon, e.srv.URL, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != want.Serial || len(got.Virtuals) != 1 || got.Virtuals[0].Name != "www" {
		t.Errorf("fetched serial %d with %d virtual servers, want %d with www", got.Serial, len(got.Virtuals), want.Serial)
	}
	// An answer is only good for the request it answers.
	if _, err := failover.Fetch(context.Background(), anon, e.srv.URL, NewSecret(), time.Now()); err == nil {
		t.Error("Fetch with another secret succeeded")
	}
}

// TestControlShowsFailover: CONTROL/MONITORING shows this director's role,
// the peer's state and last heartbeat, both serials and whether they agree,
// the refused heartbeats by reason, the addresses up, and the warnings.
func TestControlShowsFailover(t *testing.T) {
	e := newEnv(t, true)
	now := time.Now()
	st := failover.Status{
		Pair: true, Role: failover.Active, Since: now.Add(-time.Minute), Reason: "peer 192.0.2.2 is standby and we are primary",
		Primary: true, Self: netip.MustParseAddr("192.0.2.1"), Serial: 7, InSync: false,
		VIPs:        []string{"192.0.2.10/24 on eth0 label eth0:1"},
		Warnings:    []string{"NAT forwarding needs net.ipv4.ip_forward = 1"},
		PeerConsole: "http://192.0.2.2:3636",
	}
	st.Pulse.Peer = pulse.PeerStatus{Addr: netip.MustParseAddr("192.0.2.2"), Role: pulse.Standby, Serial: 6, Heard: true, LastHeard: now.Add(-150 * time.Millisecond)}
	st.Pulse.Counters = pulse.Counters{Sent: 100, Received: 98, BadAuth: 3, Replayed: 2, UnknownSource: 1}
	e.console.failover = fixedFailover(st)
	page := get(t, e.login(t), e.srv.URL+"/control").body
	for _, want := range []string{
		`id="failover"`, ">active<", "primary 192.0.2.1", "192.0.2.2", ">standby<", "last heartbeat ", "ms ago",
		"differ", "this director 7, peer 6", "refused: bad authentication 3", "replayed 2", "unknown source 1",
		"192.0.2.10/24 on eth0 label eth0:1", "net.ipv4.ip_forward", "http://192.0.2.2:3636",
	} {
		if !strings.Contains(page, htmlEscape(want)) && !strings.Contains(page, want) {
			t.Errorf("the control page lacks %q", want)
		}
	}
}
