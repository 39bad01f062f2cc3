package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/store"
)

// seedActive is seed with www and web1 (weight 5) active.
func (e *testEnv) seedActive(t *testing.T) *config.Config {
	t.Helper()
	e.seed(t)
	cfg, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Virtuals[0].Active = true
		c.Virtuals[0].Reals[0].Active, c.Virtuals[0].Reals[0].Weight = true, 5
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestAPIDrain: an operator token drains a real server (weight kept,
// draining since the store's time, /status says so); again changes
// nothing; ACTIVATE ends the drain; an inactive server is refused, and a
// read token may not drain.
func TestAPIDrain(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seedActive(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	rp := fmt.Sprintf("/virtual/%d/real/%d", vid, rid)
	op := e.api(t, nil, e.scopedToken(t, store.ScopeOperator))
	read := e.api(t, nil, e.scopedToken(t, store.ScopeRead))
	web1 := func() config.RealServer { return e.config(t).Virtuals[0].Reals[0] }

	forbidden(t, read.call("POST", rp+"/drain", nil), store.ScopeOperator, store.ScopeRead)
	forbidden(t, read.call("POST", rp+"/drain?apply=draft", nil), store.ScopeOperator, store.ScopeRead)
	if rs := web1(); rs.Draining {
		t.Fatal("a read token drained web1")
	}

	r := obj(t, op.expect(http.StatusOK, "POST", rp+"/drain", nil))
	rs := web1()
	if !rs.Draining || rs.DrainSince.IsZero() || !rs.Active || rs.Weight != 5 || r["weight"] != float64(5) {
		t.Fatalf("after drain web1 is %+v (answer %v): want active, draining, weight 5", rs, r)
	}
	since, serial := rs.DrainSince, e.config(t).Serial
	revs, _ := e.store.Revisions(context.Background(), 0, 1)
	if !strings.Contains(revs[0].Summary, "draining") {
		t.Errorf("HISTORY says %q", revs[0].Summary)
	}
	op.expect(http.StatusOK, "POST", rp+"/drain", nil)
	if got := e.config(t); got.Serial != serial || !got.Virtuals[0].Reals[0].DrainSince.Equal(since) {
		t.Errorf("draining again changed the configuration (serial %d, was %d) or the drain's start", got.Serial, serial)
	}
	st := obj(t, read.expect(http.StatusOK, "GET", "/status", nil))
	real0 := st["virtuals"].([]any)[0].(map[string]any)["reals"].([]any)[0].(map[string]any)
	if real0["draining"] != true || real0["drain_since"] == nil {
		t.Errorf("/status shows web1 as %v", real0)
	}

	op.expect(http.StatusOK, "POST", rp+"/activate", nil)
	if rs := web1(); rs.Draining || !rs.DrainSince.IsZero() || !rs.Active || rs.Weight != 5 {
		t.Errorf("activated, web1 is %+v: want active, not draining, weight 5", rs)
	}

	op.expect(http.StatusOK, "POST", rp+"/deactivate", nil)
	ref := refusal(t, op.expect(http.StatusUnprocessableEntity, "POST", rp+"/drain", nil))
	if !strings.Contains(ref.Error, "only an active real server has connections to drain") {
		t.Errorf("draining an inactive server: %q", ref.Error)
	}
	op.expect(http.StatusNotFound, "POST", fmt.Sprintf("/virtual/%d/real/999/drain", vid), nil)
}

// TestOperatorChangeDrain: the rule of an operator's change lets a drain
// start and end, and nothing else along with it.
func TestOperatorChangeDrain(t *testing.T) {
	old := config.Default()
	vs := config.NewVirtual("www")
	vs.ID = 1
	rs := config.NewReal("web1")
	rs.ID, rs.Active = 2, true
	vs.Reals = []config.RealServer{rs}
	old.Virtuals = []config.VirtualServer{vs}

	next := old.Clone()
	next.Virtuals[0].Reals[0].StartDrain()
	if err := store.Allowed(store.ScopeOperator, old, next); err != nil {
		t.Errorf("an operator may not drain: %v", err)
	}
	if err := store.Allowed(store.ScopeRead, old, next); err == nil {
		t.Error("a read credential may drain")
	}
	next.Virtuals[0].Reals[0].Port = 8080
	if err := store.Allowed(store.ScopeOperator, old, next); err == nil {
		t.Error("an operator may change a port along with a drain")
	}
}

// TestConsoleDrain: DRAIN on the REAL SERVER list is a pending change
// like ACTIVATE; once applied the list and CONTROL/MONITORING show the
// server draining with the connections IPVS counts, the real server's
// page offers ACTIVATE to end the drain, and the virtual server's form
// says what the longest drain does.
func TestConsoleDrain(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seedActive(t)
	vs := &cfg.Virtuals[0]
	sk, dk := engine.Where(vs, &vs.Reals[0])
	table := engine.Desired(cfg, engine.Configured{})
	svc := table.Lookup(sk)
	for i := range svc.Dests {
		if svc.Dests[i].Key() == dk {
			svc.Dests[i].Weight, svc.Dests[i].ActiveConns, svc.Dests[i].InactiveConns = 0, 3, 4
		}
	}
	console, err := New(context.Background(), Options{Store: e.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Engine: fixedStatus(engine.Status{Running: true, Available: true, Serial: cfg.Serial + 2, Kernel: table, Desired: table})})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(console)
	defer e.srv.Close()
	c := e.login(t)
	vid, rid := strconv.FormatInt(vs.ID, 10), strconv.FormatInt(vs.Reals[0].ID, 10)
	list := e.srv.URL + "/virtual/" + vid + "/real"

	page := get(t, c, list)
	if !strings.Contains(page.body, `action="/virtual/`+vid+`/real/`+rid+`/drain"`) || !strings.Contains(page.body, ">DRAIN<") {
		t.Fatalf("the REAL SERVER list has no DRAIN for web1")
	}
	a := post(t, c, e.srv.URL+"/virtual/"+vid+"/real/"+rid+"/drain", url.Values{"serial": {strconv.FormatInt(cfg.Serial, 10)}})
	if a.code != http.StatusSeeOther || a.location != "/virtual/"+vid+"/real" {
		t.Fatalf("DRAIN = %d to %q: %s", a.code, a.location, a.body)
	}
	if e.config(t).Virtuals[0].Reals[0].Draining {
		t.Fatal("DRAIN changed the running configuration before APPLY")
	}
	if page := get(t, c, list); !strings.Contains(page.body, "set to drain") || !strings.Contains(page.body, "pending: once applied") {
		t.Errorf("the list does not show the pending drain")
	}
	if rs := e.applied(t, c).Virtuals[0].Reals[0]; !rs.Draining || rs.Weight != 5 {
		t.Fatalf("applied, web1 is %+v", rs)
	}
	for _, u := range []string{list, e.srv.URL + "/control"} {
		page := get(t, c, u)
		for _, want := range []string{">draining<", "3 active, 4 inactive connections"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("%s lacks %q", u, want)
			}
		}
	}
	page = get(t, c, list+"/"+rid)
	if !strings.Contains(page.body, `id="real-state"`) || !strings.Contains(page.body, "end the drain") {
		t.Errorf("the real server's page does not offer to end the drain")
	}
	if page := get(t, c, e.srv.URL+"/virtual/"+vid); !strings.Contains(page.body, "Longest drain") || !strings.Contains(page.body, "after this long with connections left") {
		t.Errorf("the virtual server's form does not explain the longest drain")
	}

	// ACTIVATE from the real server's page ends it.
	a = post(t, c, e.srv.URL+"/virtual/"+vid+"/real/"+rid+"/activate", url.Values{"serial": {strconv.FormatInt(e.config(t).Serial, 10)}, "active": {"1"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("ACTIVATE = %d", a.code)
	}
	if rs := e.applied(t, c).Virtuals[0].Reals[0]; rs.Draining || !rs.Active || rs.Weight != 5 {
		t.Errorf("activated, web1 is %+v", rs)
	}

	// An inactive server: refused on the list, with the reason.
	a = post(t, c, e.srv.URL+"/virtual/"+vid+"/real/"+rid+"/activate", url.Values{"serial": {strconv.FormatInt(e.config(t).Serial, 10)}, "active": {"0"}})
	if a.code != http.StatusSeeOther {
		t.Fatalf("DEACTIVATE = %d", a.code)
	}
	e.applied(t, c)
	a = post(t, c, e.srv.URL+"/virtual/"+vid+"/real/"+rid+"/drain", url.Values{"serial": {strconv.FormatInt(e.config(t).Serial, 10)}})
	if a.code != http.StatusUnprocessableEntity || !strings.Contains(a.body, "only an active real server has connections to drain") {
		t.Errorf("DRAIN of an inactive server = %d", a.code)
	}
}
