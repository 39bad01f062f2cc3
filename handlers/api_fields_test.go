package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/config/configtest"
	"github.com/lvsconsole/lvsconsole/store"
)

// TestAPIWritesEveryField: every registered field, at its example
// (configtest.Rich), written through the API's PUT and POST comes back from
// its GET and is what the store holds; a field added to the registry is in
// this test without more. The programs are set in the store first (with
// the real server that has some): the API may keep a program, never bring
// one in.
func TestAPIWritesEveryField(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	rich := configtest.Rich()
	seed := config.Default()
	seed.Global.ActiveCmd, seed.Global.InactiveCmd = rich.Global.ActiveCmd, rich.Global.InactiveCmd
	www := config.NewVirtual("www")
	www.SendProgram = rich.Virtuals[0].SendProgram
	www.QuorumUp, www.QuorumDown = rich.Virtuals[0].QuorumUp, rich.Virtuals[0].QuorumDown
	web1 := config.NewReal(rich.Virtuals[0].Reals[0].Name)
	web1.NotifyUp, web1.NotifyDown = rich.Virtuals[0].Reals[0].NotifyUp, rich.Virtuals[0].Reals[0].NotifyDown
	www.Reals = []config.RealServer{web1}
	seed.Virtuals = []config.VirtualServer{www}
	seeded, err := e.store.Replace(ctx, store.Change{Role: store.ScopeAdmin, Author: "test", Elevated: true}, seed)
	if err != nil {
		t.Fatal(err)
	}
	vid := seeded.Virtuals[0].ID
	a := e.api(t, e.login(t), "")

	put := func(method, path string, body any) map[string]any {
		t.Helper()
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		code := http.StatusOK
		if method == "POST" {
			code = http.StatusCreated
		}
		got := obj(t, a.expect(code, method, path, string(j)))
		delete(got, "serial")
		return got
	}
	want := func(v any) map[string]any {
		t.Helper()
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "serial")
		return m
	}

	if got, w := put("PUT", "/global", apiGlobal.of(&rich.Global, 0).Interface()), want(apiGlobal.of(&rich.Global, 0).Interface()); !reflect.DeepEqual(got, w) {
		t.Errorf("PUT /global answered\n%v\nwant\n%v", got, w)
	}
	if got, w := put("PUT", "/redundancy", apiRedundancy.of(&rich.Redundancy, 0).Interface()), want(apiRedundancy.of(&rich.Redundancy, 0).Interface()); !reflect.DeepEqual(got, w) {
		t.Errorf("PUT /redundancy answered\n%v\nwant\n%v", got, w)
	}
	vs := rich.Virtuals[0]
	vs.ID = vid
	if got, w := put("PUT", fmt.Sprintf("/virtual/%d", vid), apiVirtual.of(&vs, 0).Interface()), want(apiVirtual.of(&vs, 0).Interface()); !reflect.DeepEqual(got, w) {
		t.Errorf("PUT /virtual/%d answered\n%v\nwant\n%v", vid, got, w)
	}
	// The real server is seeded, with its programs, so that the API
	// keeps them: a POST could not bring them in.
	rs := rich.Virtuals[0].Reals[0]
	rs.ID = seeded.Virtuals[0].Reals[0].ID
	got := put("PUT", fmt.Sprintf("/virtual/%d/real/%d", vid, rs.ID), apiReal.of(&rs, 0).Interface())
	if w := want(apiReal.of(&rs, 0).Interface()); !reflect.DeepEqual(got, w) {
		t.Errorf("PUT a real server answered\n%v\nwant\n%v", got, w)
	}

	// What the store holds is the test model.
	cfg, err := e.store.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rich.Serial, rich.Virtuals[0].ID, rich.Virtuals[0].Reals[0].ID = cfg.Serial, vid, rs.ID
	if d := config.Diff(cfg, rich); len(d) != 0 || !reflect.DeepEqual(cfg, rich) {
		t.Errorf("the store holds what the API wrote with these differences: %q\n got %+v\nwant %+v", d, cfg, rich)
	}
}
