package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/store"
)

// emptyKernel previews a configuration against a kernel without any
// service, with the engine's own planner: what the reconciler would send
// to a director that runs nothing yet.
type emptyKernel struct{}

func (emptyKernel) Preview(_ context.Context, cfg *config.Config) (*engine.Plan, error) {
	return engine.Desired(cfg, engine.Configured{}).Plan(&engine.Table{}, nil), nil
}

// revisions counts the revisions of the history.
func (e *testEnv) revisions(t *testing.T) int {
	t.Helper()
	revs, err := e.store.Revisions(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(revs)
}

// draftAnswer decodes the answer of GET /draft or of a write with
// ?apply=draft.
func draftAnswer(t *testing.T, a answer) (version, base int64, changes []string, cfg map[string]any) {
	t.Helper()
	m := obj(t, a)
	for _, c := range m["changes"].([]any) {
		changes = append(changes, c.(string))
	}
	if _, ok := m["conflicts"].([]any); !ok {
		t.Errorf("a draft without its conflicts: %s", a.body)
	}
	cfg, _ = m["config"].(map[string]any)
	return num(m["version"]), num(m["base"]), changes, cfg
}

// realOf is real server j of virtual server i of a configuration answer.
func realOf(cfg map[string]any, i, j int) map[string]any {
	vs := cfg["virtuals"].([]any)[i].(map[string]any)
	return vs["reals"].([]any)[j].(map[string]any)
}

func saying(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// TestAPIDraftMode: with ?apply=draft a write of the API changes the
// caller's draft through the same route, body and validation, and answers
// with the draft: the running configuration and the history stay as they
// were, GET /draft shows the change, DELETE /draft drops it. ?apply=now
// is the direct mode, a revision at once.
func TestAPIDraftMode(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	rp := fmt.Sprintf("/virtual/%d/real/%d", vid, rid)
	api := e.api(t, nil, e.token(t, "admin"))
	revs := e.revisions(t)

	refusal(t, api.expect(http.StatusNotFound, "GET", "/draft", nil))
	refusal(t, api.expect(http.StatusNotFound, "GET", "/draft/review", nil))
	refusal(t, api.expect(http.StatusNotFound, "DELETE", "/draft", nil))
	refusal(t, api.expect(http.StatusNotFound, "POST", "/draft/apply", nil))

	a := api.expect(http.StatusOK, "PUT", rp+"?apply=draft", map[string]any{"weight": 7, "serial": cfg.Serial})
	v, base, changes, dc := draftAnswer(t, a)
	if v != 1 || base != cfg.Serial || !saying(changes, "(weight) 1 -> 7") || num(realOf(dc, 0, 0)["weight"]) != 7 || a.header.Get("ETag") != etag(cfg.Serial) {
		t.Errorf("PUT ?apply=draft = version %d base %d changes %q: %s", v, base, changes, a.body)
	}
	if got := e.config(t); got.Serial != cfg.Serial || got.Virtuals[0].Reals[0].Weight != 1 || e.revisions(t) != revs {
		t.Fatalf("?apply=draft changed the running configuration: serial %d, weight %d", got.Serial, got.Virtuals[0].Reals[0].Weight)
	}
	v, _, changes, dc = draftAnswer(t, api.expect(http.StatusOK, "GET", "/draft", nil))
	if v != 1 || !saying(changes, "(weight) 1 -> 7") || num(realOf(dc, 0, 0)["weight"]) != 7 {
		t.Errorf("GET /draft = version %d, changes %q", v, changes)
	}

	// The same validation, every refused field at once; the draft stays.
	a = api.call("PUT", fmt.Sprintf("/virtual/%d?apply=draft", vid), map[string]any{"address": "192.168.1.1000", "port": 70000})
	if ref := refusal(t, a); a.code != http.StatusUnprocessableEntity || len(ref.Fields) != 2 {
		t.Errorf("a bad PUT ?apply=draft = %d %+v, want 422 naming both fields", a.code, ref)
	}
	// A conflict on the serial, as the route has it, when there is no
	// draft yet, is checked in its own test; a POST adds to the draft,
	// answered with the draft, not 201.
	a = api.expect(http.StatusOK, "POST", "/virtual?apply=draft", map[string]any{"name": "dns", "address": "192.0.2.53", "port": 53, "protocol": "udp"})
	v, _, changes, dc = draftAnswer(t, a)
	if v != 2 || !saying(changes, "virtual server dns added") || len(dc["virtuals"].([]any)) != 2 || a.header.Get("Location") != "" {
		t.Errorf("POST /virtual ?apply=draft = version %d, changes %q, Location %q", v, changes, a.header.Get("Location"))
	}
	// An edit that changes nothing answers the draft as it is.
	if v, _, _, _ = draftAnswer(t, api.expect(http.StatusOK, "PUT", rp+"?apply=draft", map[string]any{"weight": 7})); v != 2 {
		t.Errorf("an edit that changes nothing made version %d", v)
	}
	if got := e.config(t); got.Serial != cfg.Serial || len(got.Virtuals) != 1 || e.revisions(t) != revs {
		t.Fatal("?apply=draft changed the running configuration")
	}

	// DISCARD.
	if m := obj(t, api.expect(http.StatusOK, "DELETE", "/draft", nil)); num(m["serial"]) != cfg.Serial {
		t.Errorf("DELETE /draft = %v", m)
	}
	refusal(t, api.expect(http.StatusNotFound, "GET", "/draft", nil))
	if ref := refusal(t, api.expect(http.StatusNotFound, "DELETE", "/draft", nil)); !strings.Contains(ref.Error, "no pending changes") {
		t.Errorf("DELETE /draft without one says %q", ref.Error)
	}

	// A restore and an lvs.cf go into the draft whole.
	api.expect(http.StatusOK, "POST", fmt.Sprintf("/virtual/%d/activate", vid), nil) // direct: serial+1
	running := e.config(t)
	v, base, changes, _ = draftAnswer(t, api.expect(http.StatusOK, "POST", fmt.Sprintf("/history/%d/restore?apply=draft", cfg.Serial), nil))
	if v != 1 || base != running.Serial || !saying(changes, "Active (active) on -> off") {
		t.Errorf("restore ?apply=draft = version %d base %d changes %q", v, base, changes)
	}
	refusal(t, api.expect(http.StatusNotFound, "POST", "/history/999/restore?apply=draft", nil))
	cf := api.expect(http.StatusOK, "GET", "/config.cf", nil).body
	if !strings.Contains(cf, "scheduler = wlc") {
		t.Fatalf("the lvs.cf has no scheduler = wlc:\n%s", cf)
	}
	a = api.expect(http.StatusOK, "PUT", "/config.cf?apply=draft", strings.Replace(cf, "scheduler = wlc", "scheduler = rr", 1))
	if v, _, changes, _ = draftAnswer(t, a); v != 2 || !saying(changes, "(scheduler) wlc -> rr") {
		t.Errorf("PUT config.cf ?apply=draft = version %d changes %q", v, changes)
	}
	if got := e.config(t); got.Serial != running.Serial || e.revisions(t) != revs+1 {
		t.Fatal("a restore or an import with ?apply=draft changed the running configuration")
	}
	// Back to the running configuration: no draft is left.
	if v, _, changes, _ = draftAnswer(t, api.expect(http.StatusOK, "PUT", "/config.cf?apply=draft", cf)); v != 0 || len(changes) != 0 {
		t.Errorf("an lvs.cf equal to the running one left version %d, changes %q", v, changes)
	}
	refusal(t, api.expect(http.StatusNotFound, "GET", "/draft", nil))

	// ?apply=now is the direct mode, said explicitly.
	api.expect(http.StatusOK, "PUT", rp+"?apply=now", map[string]any{"weight": 3})
	if got := e.config(t); got.Serial != running.Serial+1 || got.Virtuals[0].Reals[0].Weight != 3 {
		t.Errorf("?apply=now: serial %d, weight %d", got.Serial, got.Virtuals[0].Reals[0].Weight)
	}
}

// TestAPIDraftSerial: with no draft yet, ?apply=draft checks the serial
// the write names as the direct mode does: one behind is a 409.
func TestAPIDraftSerial(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	api := e.api(t, nil, e.token(t, "admin"))
	api.expect(http.StatusOK, "PUT", "/global", map[string]any{"tcp_timeout": 5})
	for _, path := range []string{"/global?apply=draft", "/global?apply=now"} {
		a := api.call("PUT", path, map[string]any{"tcp_timeout": 6, "serial": cfg.Serial})
		if ref := refusal(t, a); a.code != http.StatusConflict || ref.Base != cfg.Serial || ref.Current == nil {
			t.Errorf("PUT %s on an old serial = %d %+v", path, a.code, ref)
		}
	}
	refusal(t, api.expect(http.StatusNotFound, "GET", "/draft", nil))
}

// TestAPIApplyParameter: a value of ?apply= other than now and draft is a
// 400 naming the parameter and what it takes, before anything is read or
// changed; so is apply given twice.
func TestAPIApplyParameter(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	api := e.api(t, nil, e.token(t, "admin"))
	before := fileSum(t, e.store.Path())
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/global?apply=later", map[string]any{"tcp_timeout": 5}},
		{"PUT", "/global?apply=", map[string]any{"tcp_timeout": 5}},
		{"PUT", "/global?apply=DRAFT", map[string]any{"tcp_timeout": 5}},
		{"PUT", "/global?apply=now&apply=draft", map[string]any{"tcp_timeout": 5}},
		{"POST", "/virtual?apply=1", map[string]any{"name": "x", "address": "192.0.2.5"}},
		{"DELETE", fmt.Sprintf("/virtual/%d?apply=yes", vid), nil},
		{"POST", fmt.Sprintf("/virtual/%d/real/%d/activate?apply=draft2", vid, rid), nil},
		{"PUT", "/config.cf?apply=soon", "serial_no = 1\n"},
		{"POST", "/history/1/restore?apply=maybe", nil},
		{"POST", "/redundancy/reset?apply=x", map[string]any{"bogus": 1}}, // the parameter first
	} {
		a := api.call(tc.method, tc.path, tc.body)
		ref := refusal(t, a)
		if a.code != http.StatusBadRequest || len(ref.Fields) != 1 || ref.Fields[0].Field != "apply" ||
			!strings.Contains(ref.Error, "now") || !strings.Contains(ref.Error, "draft") {
			t.Errorf("%s %s = %d %+v, want 400 naming apply and its values", tc.method, tc.path, a.code, ref)
		}
	}
	if fileSum(t, e.store.Path()) != before {
		t.Fatal("a refused ?apply= changed the database")
	}
	for body, field := range map[string]string{
		`{"version": 0}`:            "version",
		`{"version": "1"}`:          "version",
		`{"rollback_minutes": -1}`:  "rollback_minutes",
		`{"rollback_minutes": 1e9}`: "rollback_minutes",
		`{"rollback": 5}`:           "rollback",
	} {
		a := api.call("POST", "/draft/apply", body)
		if ref := refusal(t, a); a.code != http.StatusBadRequest || len(ref.Fields) != 1 || ref.Fields[0].Field != field {
			t.Errorf("POST /draft/apply %s = %d %+v, want 400 naming %s", body, a.code, ref, field)
		}
	}
}

// TestAPIDraftReviewAndApply: REVIEW through the API lists the ipvsadm
// lines the engine's planner makes of the draft; APPLY makes the draft one
// revision and removes it; a draft changed since the version reviewed is
// not applied; an APPLY with rollback waits for POST /confirm, which
// clears it.
func TestAPIDraftReviewAndApply(t *testing.T) {
	e := newEnvWith(t, true, func(o *Options) { o.Preview = emptyKernel{} })
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	api := e.api(t, nil, e.token(t, "admin"))
	ctx := context.Background()

	api.expect(http.StatusOK, "POST", fmt.Sprintf("/virtual/%d/activate?apply=draft", vid), nil)
	api.expect(http.StatusOK, "POST", fmt.Sprintf("/virtual/%d/real/%d/activate?apply=draft", vid, rid), nil)
	m := obj(t, api.expect(http.StatusOK, "GET", "/draft/review", nil))
	for _, k := range []string{"changes", "conflicts", "ipvsadm", "refused", "addresses", "checks", "programs", "warnings"} {
		if _, ok := m[k].([]any); !ok {
			t.Errorf("the review's %s is not a list: %v", k, m[k])
		}
	}
	var lines []string
	for _, l := range m["ipvsadm"].([]any) {
		lines = append(lines, l.(string))
	}
	if num(m["version"]) != 2 || num(m["serial"]) != cfg.Serial || m["can_apply"] != true || m["standby"] == "" ||
		!saying(lines, "ipvsadm -A -t 192.0.2.10:80") || !saying(lines, "ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.1") ||
		!saying(toStrings(m["addresses"]), "up ") || !saying(toStrings(m["checks"]), "start: real server web1") {
		t.Errorf("GET /draft/review = %s", api.call("GET", "/draft/review", nil).body)
	}
	if got := e.config(t); got.Serial != cfg.Serial || got.Virtuals[0].Active {
		t.Fatal("the review changed the running configuration")
	}

	// A version other than the draft's is not applied.
	a := api.call("POST", "/draft/apply", map[string]any{"version": 1})
	if ref := refusal(t, a); a.code != http.StatusConflict || ref.Version != 2 {
		t.Errorf("APPLY of version 1 = %d %+v, want 409 with version 2", a.code, ref)
	}
	revs := e.revisions(t)
	a = api.expect(http.StatusOK, "POST", "/draft/apply", map[string]any{"version": 2})
	saved := obj(t, a)
	got := e.config(t)
	if num(saved["serial"]) != cfg.Serial+1 || got.Serial != cfg.Serial+1 || !got.Virtuals[0].Active || !got.Virtuals[0].Reals[0].Active ||
		e.revisions(t) != revs+1 || a.header.Get("ETag") != etag(got.Serial) {
		t.Fatalf("APPLY = %s; running serial %d, %d revisions (was %d)", a.body, got.Serial, e.revisions(t), revs)
	}
	if r, _, _ := e.store.Revision(ctx, got.Serial); r.Author != "admin" || !strings.HasPrefix(r.Summary, "api") {
		t.Errorf("the revision APPLY made: %q by %q", r.Summary, r.Author)
	}
	refusal(t, api.expect(http.StatusNotFound, "GET", "/draft", nil))
	if _, err := e.store.Pending(ctx); !errors.Is(err, store.ErrNoConfirmation) {
		t.Errorf("a plain APPLY left a confirmation: %v", err)
	}
	refusal(t, api.expect(http.StatusNotFound, "POST", "/confirm", nil))

	// APPLY, and roll back in 5 minutes unless confirmed.
	api.expect(http.StatusOK, "PUT", fmt.Sprintf("/virtual/%d/real/%d?apply=draft", vid, rid), map[string]any{"weight": 9})
	api.expect(http.StatusOK, "POST", "/draft/apply", map[string]any{"rollback_minutes": 5})
	pend, err := e.store.Pending(ctx)
	if err != nil || pend.Serial != got.Serial+1 || pend.Previous != got.Serial || pend.Owner != "admin" || pend.Delay != "5 minutes" ||
		time.Until(pend.Deadline) < 4*time.Minute {
		t.Fatalf("after APPLY with rollback: %+v, %v", pend, err)
	}
	m = obj(t, api.expect(http.StatusOK, "POST", "/confirm", nil))
	if num(m["serial"]) != pend.Serial || num(m["previous"]) != pend.Previous || m["delay"] != "5 minutes" {
		t.Errorf("POST /confirm = %v", m)
	}
	if _, err := e.store.Pending(ctx); !errors.Is(err, store.ErrNoConfirmation) {
		t.Errorf("after CONFIRM: %v", err)
	}
	if ref := refusal(t, api.expect(http.StatusNotFound, "POST", "/confirm", nil)); !strings.Contains(ref.Error, "nothing waits") {
		t.Errorf("a second CONFIRM says %q", ref.Error)
	}
	if w := e.config(t).Virtuals[0].Reals[0].Weight; w != 9 {
		t.Errorf("weight %d after the confirmed APPLY", w)
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

// TestAPIApplyMergeConflict: a draft whose field was changed differently
// in the running configuration since is refused with 409, the conflicts
// listed, and kept.
func TestAPIApplyMergeConflict(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	api := e.api(t, nil, e.token(t, "admin"))
	api.expect(http.StatusOK, "PUT", fmt.Sprintf("/virtual/%d/real/%d?apply=draft", vid, rid), map[string]any{"weight": 5})
	if _, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "alice"}, func(c *config.Config) error {
		c.Virtuals[0].Reals[0].Weight = 9
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	serial := e.config(t).Serial
	a := api.call("POST", "/draft/apply", nil)
	ref := refusal(t, a)
	if a.code != http.StatusConflict || len(ref.Conflicts) != 1 || !strings.Contains(ref.Conflicts[0], "(weight): was 1, now 9 in the running configuration, 5 in your changes") ||
		ref.Current == nil || ref.Current.Author != "alice" || !strings.Contains(ref.Error, "alice") {
		t.Errorf("APPLY in conflict = %d %s", a.code, a.body)
	}
	if e.config(t).Serial != serial {
		t.Error("a refused APPLY saved")
	}
	m := obj(t, api.expect(http.StatusOK, "GET", "/draft", nil))
	if cs := toStrings(m["conflicts"]); len(cs) != 1 || cs[0] != ref.Conflicts[0] || num(m["version"]) != 1 {
		t.Errorf("GET /draft in conflict: version %d, conflicts %q", num(m["version"]), cs)
	}
}

// TestAPITokenCannotApplyProvedPrograms: a draft that took in a program
// with its owner's password (in the console) is not applied through the
// API, even by the owner's admin token: the refusal is the API's program
// refusal, naming the field; nothing is saved and the draft stays. A
// program sent with ?apply=draft is refused as in the direct mode.
func TestAPITokenCannotApplyProvedPrograms(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid := cfg.Virtuals[0].ID
	api := e.api(t, nil, e.token(t, "admin"))
	d, err := e.store.EditDraft(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "admin", Elevated: true}, 0, func(c *config.Config) error {
		c.Virtuals[0].SendProgram = "/bin/true %h"
		return nil
	})
	if err != nil || !d.Proved {
		t.Fatalf("the console's draft: %+v, %v", d, err)
	}
	before := fileSum(t, e.store.Path())
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/draft/apply", nil},
		{"PUT", fmt.Sprintf("/virtual/%d?apply=draft", vid), map[string]any{"send_program": "/bin/false %h"}},
		{"PUT", "/global?apply=draft", map[string]any{"active_cmd": "/usr/bin/logger up"}},
	} {
		a := api.call(tc.method, tc.path, tc.body)
		ref := refusal(t, a)
		if a.code != http.StatusForbidden || !strings.Contains(ref.Error, "programs can only be changed in the console with your password") ||
			len(ref.Fields) != 1 || (ref.Fields[0].Field != "send_program" && ref.Fields[0].Field != "active_cmd") {
			t.Errorf("%s %s = %d %s, want the program refusal", tc.method, tc.path, a.code, a.body)
		}
	}
	if fileSum(t, e.store.Path()) != before {
		t.Fatal("the database changed")
	}
	if e.config(t).Virtuals[0].SendProgram != "" {
		t.Fatal("a token applied a program")
	}
}

// TestAPIDraftOperatorScope: the draft routes need the operator scope; an
// operator's ?apply=draft is held to the operator's rule on the change
// itself, and an operator token does not APPLY a draft holding what only
// an admin may change, though its owner made it (with an admin token or
// the console).
func TestAPIDraftOperatorScope(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	rp := fmt.Sprintf("/virtual/%d/real/%d", vid, rid)
	op := e.api(t, nil, e.scopedToken(t, store.ScopeOperator))
	read := e.api(t, nil, e.scopedToken(t, store.ScopeRead))
	admin := e.api(t, nil, e.scopedToken(t, store.ScopeAdmin))

	for _, rt := range []string{"GET /draft", "GET /draft/review", "DELETE /draft", "POST /draft/apply", "POST /confirm"} {
		method, path, _ := strings.Cut(rt, " ")
		forbidden(t, read.call(method, path, nil), store.ScopeOperator, store.ScopeRead)
		if a := op.call(method, path, nil); a.code != http.StatusNotFound {
			t.Errorf("%s with an operator token and no draft = %d, want 404: %s", rt, a.code, a.body)
		}
	}
	forbidden(t, read.call("PUT", rp+"?apply=draft", map[string]any{"weight": 2}), store.ScopeOperator, store.ScopeRead)

	v, _, changes, _ := draftAnswer(t, op.expect(http.StatusOK, "PUT", rp+"?apply=draft", map[string]any{"weight": 2}))
	if v != 1 || !saying(changes, "(weight) 1 -> 2") {
		t.Errorf("an operator's weight in the draft: version %d, %q", v, changes)
	}
	ref := forbidden(t, op.call("PUT", rp+"?apply=draft", map[string]any{"port": 8080}), store.ScopeAdmin, store.ScopeOperator)
	if !strings.Contains(ref.Error, "Port (port) 0 -> 8080") {
		t.Errorf("the refusal says %q", ref.Error)
	}
	forbidden(t, op.call("POST", "/virtual?apply=draft", map[string]any{"name": "new", "address": "192.0.2.77"}), store.ScopeAdmin, store.ScopeOperator)
	op.expect(http.StatusOK, "GET", "/draft", nil)
	op.expect(http.StatusOK, "GET", "/draft/review", nil)

	// The owner's admin token adds what an operator may not change: the
	// operator token may read the draft, not apply it.
	admin.expect(http.StatusOK, "PUT", fmt.Sprintf("/virtual/%d?apply=draft", vid), map[string]any{"scheduler": "rr"})
	serial := e.config(t).Serial
	ref = forbidden(t, op.call("POST", "/draft/apply", nil), store.ScopeAdmin, store.ScopeOperator)
	if !strings.Contains(ref.Error, "Scheduling (scheduler) wlc -> rr") || strings.Contains(ref.Error, "(weight)") {
		t.Errorf("the refusal of APPLY says %q", ref.Error)
	}
	if got := e.config(t); got.Serial != serial || got.Virtuals[0].Scheduler != "wlc" {
		t.Fatal("an operator token applied an admin's change")
	}
	// Without it, the operator applies its own.
	admin.expect(http.StatusOK, "PUT", fmt.Sprintf("/virtual/%d?apply=draft", vid), map[string]any{"scheduler": "wlc"})
	op.expect(http.StatusOK, "POST", "/draft/apply", map[string]any{"rollback_minutes": 1})
	if got := e.config(t); got.Serial != serial+1 || got.Virtuals[0].Reals[0].Weight != 2 {
		t.Errorf("the operator's APPLY: serial %d, weight %d", got.Serial, got.Virtuals[0].Reals[0].Weight)
	}
	op.expect(http.StatusOK, "POST", "/confirm", nil)

	op.expect(http.StatusOK, "POST", rp+"/activate?apply=draft", nil)
	op.expect(http.StatusOK, "DELETE", "/draft", nil)
	refusal(t, op.expect(http.StatusNotFound, "GET", "/draft", nil))
}
