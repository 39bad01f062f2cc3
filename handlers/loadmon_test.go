package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/static"
	"github.com/lvsconsole/lvsconsole/store"
)

// loadHealth is a HealthSource whose verdicts, load monitor's included,
// the test sets per real server name, as *engine.Checks.Of fills them.
type loadHealth map[string]engine.ServerHealth

func (h loadHealth) Of(vs *config.VirtualServer, rs *config.RealServer) (engine.ServerHealth, bool) {
	s, ok := h[rs.Name]
	return s, ok
}

func (loadHealth) Events(int) []engine.Event { return nil }

// fixedKey is a LoadKey.
type fixedKey struct {
	key string
	err error
}

func (k fixedKey) PublicKey() (string, error) { return k.key, k.err }

const (
	testLoadKey  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBQ2pNl1Hm4b8z1k1Yt2zJ5uJq7mP2x9m3c6oVv1aB2c lvsconsole@director"
	testHostKey  = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
	testLoadRead = "load 0.20"
)

// seedLoad configures www, monitored by uptime on port 2222, with web1
// (weight 2) and web2 (weight 3), both active; the checks say web1 is up
// at 7 by its load and web2 up at its own weight, its last reading
// failed.
func (e *testEnv) seedLoad(t *testing.T) (*config.Config, loadHealth) {
	t.Helper()
	cfg, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		vs := config.NewVirtual("www")
		vs.Address, vs.Active = netip.MustParseAddr("192.0.2.10"), true
		vs.LoadMonitor, vs.LoadPort = "uptime", 2222
		for i, w := range []int64{2, 3} {
			rs := config.NewReal(fmt.Sprintf("web%d", i+1))
			rs.Address, rs.Active, rs.Weight = netip.MustParseAddr(fmt.Sprintf("10.0.0.%d", i+1)), true, w
			vs.Reals = append(vs.Reals, rs)
		}
		c.Virtuals = append(c.Virtuals, vs)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-30 * time.Second)
	h := loadHealth{
		"web1": {State: "up", Since: at, Weight: 7, Configured: 2, Why: "load 0.20 (uptime)",
			Load: &engine.LoadStatus{Monitor: "uptime", Reading: testLoadRead, At: at, Weight: 7, HostKey: testHostKey}},
		"web2": {State: "up", Since: at, Weight: 3, Configured: 3,
			Load: &engine.LoadStatus{Monitor: "uptime", Error: "ssh: connect to 10.0.0.2:2222: connection refused"}},
	}
	return cfg, h
}

// TestLoadMonitorPages: the REAL SERVER list, a real server's page and
// CONTROL/MONITORING show the configured weight, the weight in IPVS and
// why, the monitor's latest reading and its failure; the pinned host key
// (from the store) with FORGET for admins only, which forgets it with an
// audit entry; the VIRTUAL SERVER tab shows the line to install, or why it
// cannot.
func TestLoadMonitorPages(t *testing.T) {
	e := newEnvWith(t, true, func(o *Options) { o.LoadKey = fixedKey{key: testLoadKey + "\n"} })
	cfg, h := e.seedLoad(t)
	e.console.health = h
	if err := e.store.Pin("10.0.0.1:2222", testHostKey); err != nil {
		t.Fatal(err)
	}
	if err := e.store.AddUser(context.Background(), "vera", store.ScopeRead, "vera's password"); err != nil {
		t.Fatal(err)
	}
	vs := cfg.Virtuals[0]
	web1, web2 := vs.Reals[0], vs.Reals[1]
	admin, viewer := e.login(t), e.loginAs(t, "vera", "vera's password")

	list := get(t, admin, fmt.Sprintf("%s/virtual/%d/real", e.srv.URL, vs.ID))
	row1, row2 := rowOf(t, list.body, "web1"), rowOf(t, list.body, "web2")
	for _, want := range []string{`<span class="configured">2</span>`, `→ 7`, `load 0.20 (uptime)`} {
		if !strings.Contains(row1, want) {
			t.Errorf("web1's row lacks %q:\n%s", want, row1)
		}
	}
	if !strings.Contains(row2, `<span class="configured">3</span>`) || strings.Contains(row2, "→") || !strings.Contains(row2, "load unread") {
		t.Errorf("web2's row: want its own weight, no other, and its unread load:\n%s", row2)
	}

	page := get(t, admin, fmt.Sprintf("%s/virtual/%d/real/%d", e.srv.URL, vs.ID, web1.ID))
	for _, want := range []string{
		`id="weight-configured">2<`, `id="weight-current">7<`, `id="weight-why">load 0.20 (uptime)<`,
		`id="load-monitor">uptime<`, testLoadRead, "the monitor gives weight 7", `<code>` + testHostKey + `</code>`,
		"pinned for 10.0.0.1:2222", `id="forget-hostkey"`,
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("web1's page lacks %q", want)
		}
	}
	page2 := get(t, admin, fmt.Sprintf("%s/virtual/%d/real/%d", e.srv.URL, vs.ID, web2.ID))
	for _, want := range []string{`id="load-error"`, "connection refused", "none pinned for 10.0.0.2:2222"} {
		if !strings.Contains(page2.body, want) {
			t.Errorf("web2's page lacks %q", want)
		}
	}
	if strings.Contains(page2.body, `id="forget-hostkey"`) {
		t.Error("web2's page offers FORGET with no key pinned")
	}

	// A viewer sees the key but may not forget it.
	forget := fmt.Sprintf("%s/virtual/%d/real/%d/hostkey/forget", e.srv.URL, vs.ID, web1.ID)
	vpage := get(t, viewer, fmt.Sprintf("%s/virtual/%d/real/%d", e.srv.URL, vs.ID, web1.ID))
	if !strings.Contains(vpage.body, testHostKey) || strings.Contains(vpage.body, `id="forget-hostkey"`) {
		t.Error("a viewer's page: want the host key without FORGET")
	}
	if a := post(t, viewer, forget, url.Values{}); a.code != http.StatusForbidden {
		t.Errorf("a viewer's FORGET answered %d, want 403", a.code)
	}
	if _, ok := e.store.Pinned("10.0.0.1:2222"); !ok {
		t.Fatal("a viewer's FORGET forgot the key")
	}

	// The admin forgets it: gone, audited.
	if a := post(t, admin, forget, url.Values{}); a.code != http.StatusSeeOther {
		t.Fatalf("FORGET answered %d: %s", a.code, a.body)
	}
	if fp, ok := e.store.Pinned("10.0.0.1:2222"); ok {
		t.Errorf("still pinned after FORGET: %s", fp)
	}
	es, err := e.store.AuditQuery(context.Background(), store.AuditFilter{Kind: store.AuditHostKeyForgotten})
	if err != nil || len(es) != 1 || es[0].Actor != "admin" || es[0].Fields["fingerprint"] != testHostKey {
		t.Errorf("audit of FORGET: %+v, %v", es, err)
	}
	page = get(t, admin, fmt.Sprintf("%s/virtual/%d/real/%d", e.srv.URL, vs.ID, web1.ID))
	if !strings.Contains(page.body, "none pinned for 10.0.0.1:2222") {
		t.Error("after FORGET the page does not say no key is pinned")
	}

	// CONTROL/MONITORING lists the up servers whose weight moved or whose
	// load is unread, with why.
	ctl := get(t, admin, e.srv.URL+"/control")
	r1, r2 := rowOf(t, ctl.body, "www/web1"), rowOf(t, ctl.body, "www/web2")
	if !strings.Contains(r1, "→ 7") || !strings.Contains(r1, "load 0.20 (uptime)") || !strings.Contains(r2, "load unread") {
		t.Errorf("CONTROL/MONITORING's rows:\n%s\n%s", r1, r2)
	}

	// The key to install.
	vpageKey := get(t, viewer, fmt.Sprintf("%s/virtual/%d", e.srv.URL, vs.ID))
	line := `restrict,command=&#34;cat /proc/loadavg&#34; ` + testLoadKey
	if !strings.Contains(vpageKey.body, line) {
		t.Errorf("the VIRTUAL SERVER tab lacks the authorized_keys line %q", line)
	}
	e.console.loadKey = fixedKey{err: errors.New("no key file yet")}
	if a := get(t, admin, fmt.Sprintf("%s/virtual/%d", e.srv.URL, vs.ID)); !strings.Contains(a.body, "not available: no key file yet") {
		t.Error("a key that cannot be read is not said so")
	}
	e.console.loadKey = nil
	if a := get(t, admin, fmt.Sprintf("%s/virtual/%d", e.srv.URL, vs.ID)); !strings.Contains(a.body, `id="load-key-missing"`) {
		t.Error("without a LoadKey the tab does not say the key is not available")
	}
}

// rowOf is the table row of body whose data-name or data-server is name.
func rowOf(t *testing.T, body, name string) string {
	t.Helper()
	for _, attr := range []string{`data-name="` + name + `"`, `data-server="` + name + `"`} {
		if i := strings.Index(body, "<tr "+attr); i >= 0 {
			row := body[i:]
			if j := strings.Index(row, "</tr>"); j >= 0 {
				return row[:j]
			}
		}
	}
	t.Fatalf("no row of %s", name)
	return ""
}

// TestLoadMonitorStatusAndMetrics: the API's status and /metrics carry the
// configured weight, the weight in IPVS and why, and the load monitor's,
// labelled as lvs_destination_weight.
func TestLoadMonitorStatusAndMetrics(t *testing.T) {
	e := newEnv(t, true)
	cfg, h := e.seedLoad(t)
	e.console.health = h
	vs := cfg.Virtuals[0]

	st := obj(t, e.api(t, nil, e.token(t, "admin")).expect(http.StatusOK, "GET", "/status", nil))
	reals := st["virtuals"].([]any)[0].(map[string]any)["reals"].([]any)
	hl := reals[0].(map[string]any)["health"].(map[string]any)
	if hl["weight"] != float64(7) || hl["configured"] != float64(2) || hl["why"] != "load 0.20 (uptime)" {
		t.Errorf("web1's health in /status: %v", hl)
	}
	ld, _ := hl["load"].(map[string]any)
	if ld["monitor"] != "uptime" || ld["reading"] != testLoadRead || ld["weight"] != float64(7) || ld["host_key"] != testHostKey || ld["at"] == nil {
		t.Errorf("web1's load in /status: %v", ld)
	}
	h2 := reals[1].(map[string]any)["health"].(map[string]any)
	if _, ok := h2["why"]; ok || h2["configured"] != float64(3) || !strings.Contains(fmt.Sprint(h2["load"].(map[string]any)["error"]), "refused") {
		t.Errorf("web2's health in /status: %v", h2)
	}

	fams := scrape(t, e, e.login(t))
	dst := func(ip string) lbl {
		return lbl{"service": "TCP 192.0.2.10:80", "virtual": vs.Name, "destination": ip + ":80"}
	}
	for _, c := range []struct {
		name string
		l    lbl
		want float64
	}{
		{"lvs_destination_configured_weight", dst("10.0.0.1"), 2},
		{"lvs_destination_load_weight", dst("10.0.0.1"), 7},
		{"lvs_destination_configured_weight", dst("10.0.0.2"), 3},
		{"lvs_destination_load_weight", dst("10.0.0.2"), 0},
	} {
		if got, _, ok := sample(fams, c.name, c.l); !ok || got != c.want {
			t.Errorf("%s%v = %v (%v), want %v", c.name, c.l, got, ok, c.want)
		}
	}
	// Without a load monitor, no load weight.
	delete(h, "web2")
	h["web2"] = engine.ServerHealth{State: "up", Weight: 3, Configured: 3}
	fams = scrape(t, e, e.login(t))
	if _, _, ok := sample(fams, "lvs_destination_load_weight", dst("10.0.0.2")); ok {
		t.Error("a load weight is exported for a server without a load monitor")
	}
}

// TestOpenAPIStatusHealth: openapi.yaml's status describes exactly the
// keys of a real server's health and its load monitor's latest.
func TestOpenAPIStatusHealth(t *testing.T) {
	spec, err := static.FS.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(spec), "\n")
	// props returns the keys of the properties of the object at the
	// first line after from that is key + ":" at indent spaces.
	props := func(from int, indent int, key string) (int, []string) {
		at := -1
		for i := from; i < len(lines); i++ {
			if lines[i] == strings.Repeat(" ", indent)+key+":" {
				at = i
				break
			}
		}
		if at < 0 {
			t.Fatalf("openapi.yaml has no %s: at indent %d after line %d", key, indent, from)
		}
		pad := strings.Repeat(" ", indent+4)
		var keys []string
		for i := at + 1; i < len(lines); i++ {
			l := lines[i]
			if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, strings.Repeat(" ", indent+1)) {
				break
			}
			if strings.HasPrefix(l, pad) && len(l) > len(pad) && l[len(pad)] != ' ' {
				k, _, _ := strings.Cut(strings.TrimPrefix(l, pad), ":")
				keys = append(keys, k)
			}
		}
		return at, keys
	}
	jsonKeys := func(v any) []string {
		var keys []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			k, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	status, _ := props(0, 2, "/status")
	health, keys := props(status, 20, "health")
	slices.Sort(keys)
	if want := jsonKeys(apiHealth{}); !slices.Equal(keys, want) {
		t.Errorf("openapi.yaml's status health has %v, the API %v", keys, want)
	}
	_, keys = props(health, 24, "load")
	slices.Sort(keys)
	if want := jsonKeys(apiLoad{}); !slices.Equal(keys, want) {
		t.Errorf("openapi.yaml's status health load has %v, the API %v", keys, want)
	}
}
