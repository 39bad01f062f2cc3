package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLongListsAt10000x10: at issue 20's size the lists and the dashboard
// show a bounded page, whatever the query asks: a search is cut at
// maxSearch, a page holds web.MaxPageSize at most, a page past the last is
// the last, an unknown state is ignored; an action keeps the list's own
// parameters only; the dashboard counts everything and lists what needs
// attention, and the routing table's page searches the destinations.
func TestLongListsAt10000x10(t *testing.T) {
	c, srv, st, cfg := console10000x10(t)
	e := &testEnv{store: st, console: c, srv: srv}
	client := e.login(t)
	tableCount := func(body, table, marker string) int {
		i := strings.Index(body, `id="`+table+`"`)
		if i < 0 {
			return 0
		}
		body = body[i:]
		if j := strings.Index(body, "</table>"); j >= 0 {
			body = body[:j]
		}
		return strings.Count(body, marker)
	}
	rows := func(body, table string) int { return tableCount(body, table, "<tr data-name=") }
	page := func(path string) string {
		t.Helper()
		a := get(t, client, srv.URL+path)
		if a.code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, a.code)
		}
		return a.body
	}

	if n := rows(page("/virtual"), "virtuals"); n != 50 {
		t.Errorf("/virtual lists %d virtual servers, want a page of 50", n)
	}
	if n := rows(page("/virtual?size=100000"), "virtuals"); n != 200 {
		t.Errorf("?size=100000 lists %d, want at most 200", n)
	}
	if body := page("/virtual?page=999999"); rows(body, "virtuals") != 50 || !strings.Contains(body, `data-name="vs09999"`) {
		t.Error("a page past the last is not the last")
	}
	if n := rows(page("/virtual?state=%3Cscript%3E"), "virtuals"); n != 50 {
		t.Errorf("an unknown state lists %d, want it ignored", n)
	}
	long := strings.Repeat("é", 300)
	if body := page("/virtual?q=" + url.QueryEscape(long)); !strings.Contains(body, `value="`+strings.Repeat("é", maxSearch/2)+`"`) {
		t.Error("a long search is not cut at maxSearch bytes on a character")
	}
	if body := page("/virtual?q=10.0.39.250"); rows(body, "virtuals") != 1 || !strings.Contains(body, `data-name="vs09999"`) {
		t.Error("the search by address does not find vs09999 alone")
	}
	if n := rows(page("/virtual?state=down"), "virtuals"); n != 50 {
		t.Errorf("state=down lists %d on its first page, want 50 of the 100", n)
	}
	if body := page("/virtual?state=down&page=2"); rows(body, "virtuals") != 50 || !strings.Contains(body, `data-name="vs09900"`) {
		t.Error("the second page of state=down is not the last 50 with a real server down")
	}
	if body := page(fmt.Sprintf("/virtual/%d/real?state=draining", cfg.Virtuals[250].ID)); rows(body, "reals") != 1 || !strings.Contains(body, `data-name="rs8"`) {
		t.Error("vs00250's draining real server is not found")
	}

	// An action keeps the list's parameters, read and written again, and
	// nothing else.
	vs := &cfg.Virtuals[1060]
	a := post(t, client, fmt.Sprintf("%s/virtual/%d/activate?q=vs01&page=2&next=https://evil.example/", srv.URL, vs.ID),
		url.Values{"serial": {fmt.Sprint(cfg.Serial)}, "draft": {"0"}, "active": {"0"}})
	if a.code != http.StatusSeeOther || a.location != "/virtual?page=2&q=vs01" {
		t.Errorf("DEACTIVATE on a searched page: %d to %q, want 303 to /virtual?page=2&q=vs01", a.code, a.location)
	}

	// The dashboard: totals, 50 virtual servers needing attention, the
	// first 20 services of the routing table.
	body := page("/control?auto=0")
	for _, want := range []string{"100 down", "40 draining", "10000 services, 100000 destinations", `id="attention-more"`, `href="/control/ipvs"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the dashboard lacks %q", want)
		}
	}
	if n := tableCount(body, "table", `class="service-row"`); n != 50 {
		t.Errorf("the dashboard lists %d virtual servers, want the first 50 that need attention", n)
	}
	if n := tableCount(body, "ipvs", `class="service-row"`); n != 20 {
		t.Errorf("the dashboard shows %d services of the routing table, want the first 20", n)
	}
	if len(body) > 512<<10 {
		t.Errorf("the dashboard is %d kB", len(body)>>10)
	}
	ipvsPage := page("/control/ipvs?q=10.3.39.250")
	if !strings.Contains(ipvsPage, "TCP  10.0.39.250:80") || strings.Contains(ipvsPage, "TCP  10.0.39.249:80") {
		t.Error("the routing table's search by a destination does not find its service alone")
	}
}
