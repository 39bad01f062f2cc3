package handlers

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// logIn logs the browser in as admin on the console at base.
func logIn(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	step(t, ctx, "opening the login page", chromedp.Navigate(base+"/login"))
	fill(t, ctx, map[string]string{"user": "admin", "password": testPassword})
	submit(t, ctx, "logging in", "#login")
}

// choose picks the option of value in the list id, as a person would with
// the mouse (chromedp.SetValue picks none for "").
func choose(t *testing.T, ctx context.Context, id, value string) {
	t.Helper()
	got := run(t, ctx, "choosing "+value+" in "+id, chromedp.Evaluate[string](fmt.Sprintf(
		`(s => { for (const o of s.options) o.selected = o.value === %q; return s.value })(document.getElementById(%q))`, value, id)))
	if got != value {
		t.Fatalf("%s has no choice %q", id, value)
	}
}

// value reads what the browser shows in field id: a text box's or a
// list's value, "1" or "" for a check box.
func value(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return run(t, ctx, "reading "+id, chromedp.Evaluate[string](fmt.Sprintf(
		`(e => e.type === "checkbox" ? (e.checked ? "1" : "") : e.value)(document.getElementById(%q))`, id)))
}

// visible reports whether element id takes room on the page.
func visible(t *testing.T, ctx context.Context, id string) bool {
	t.Helper()
	return run(t, ctx, "looking at "+id, chromedp.Evaluate[bool](fmt.Sprintf(
		`(e => !!e && e.getClientRects().length > 0)(document.getElementById(%q))`, id)))
}

// viewport sets the size of the page, as a window of that size would.
func viewport(t *testing.T, ctx context.Context, width, height int64) {
	t.Helper()
	step(t, ctx, fmt.Sprintf("setting the viewport to %dx%d", width, height), chromedp.EmulateViewport(width, height))
}

// TestBrowserConflictKeepsTypedValues is the walk: EDIT of a
// virtual server, and of a real server, in two tabs; ACCEPT in one, then
// in the other. The second shows the conflict's banner with every value
// it typed still in the form, and a second ACCEPT saves them.
func TestBrowserConflictKeepsTypedValues(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	tab1 := browser(t)
	logIn(t, tab1, e.srv.URL)
	tab2, cancel := chromedp.NewContext(tab1) // a second tab of the same browser
	defer cancel()
	// The tab lives as long as the context of its first Run: open it
	// with the test's, not with a step's, which ends with the step.
	if err := chromedp.Do(tab2); err != nil {
		t.Fatalf("opening a second tab: %v", err)
	}

	forms := []struct {
		name  string
		path  string
		first map[string]string // typed in the first tab
		typed map[string]string // text boxes typed in the second
		lists map[string]string // lists chosen in the second
		ticks []string          // boxes ticked in the second
		check func(*config.Config) string
	}{
		{
			name: "virtual", path: fmt.Sprintf("/virtual/%d", vid),
			first: map[string]string{"persistent": "60"},
			typed: map[string]string{"name": "www2", "address": "192.0.2.11", "vip_nmask": "255.255.255.0", "device": "eth0:2",
				"port": "53", "timeout": "7", "reentry": "20", "sorry_server": "10.0.0.99"},
			lists: map[string]string{"protocol": "udp", "scheduler": "sh", "load_monitor": "feedback"},
			ticks: []string{"active", "quiesce_server"},
			check: func(c *config.Config) string {
				vs := c.Virtuals[0]
				if vs.Name != "www2" || !vs.Active || !vs.Quiesce || vs.Scheduler != "sh" || vs.Protocol != config.UDP || vs.Port != 53 || vs.LoadMonitor != "feedback" {
					return fmt.Sprintf("%+v", vs)
				}
				return ""
			},
		},
		{
			name: "real", path: fmt.Sprintf("/virtual/%d/real/%d", vid, rid),
			first: map[string]string{"uthreshold": "100"},
			typed: map[string]string{"name": "web1b", "address": "10.0.0.9", "port": "8080", "weight": "7", "uthreshold": "500", "lthreshold": "10"},
			lists: map[string]string{"fwd": "nat"},
			ticks: []string{"active"},
			check: func(c *config.Config) string {
				rs := c.Virtuals[0].Reals[0]
				if rs.Name != "web1b" || !rs.Active || rs.Weight != 7 || rs.Forward != config.NAT || rs.Port != 8080 || rs.UpperThreshold != 500 {
					return fmt.Sprintf("%+v", rs)
				}
				return ""
			},
		},
	}
	for _, fm := range forms {
		step(t, tab1, "opening EDIT in the first tab", chromedp.Navigate(e.srv.URL+fm.path))
		step(t, tab2, "opening EDIT in the second tab", chromedp.Navigate(e.srv.URL+fm.path))

		fill(t, tab1, fm.first)
		submit(t, tab1, "accepting in the first tab", "#accept")

		fill(t, tab2, fm.typed)
		for id, v := range fm.lists {
			choose(t, tab2, id, v)
		}
		for _, id := range fm.ticks {
			if value(t, tab2, id) == "" {
				step(t, tab2, "ticking "+id, chromedp.Click(chromedp.ID(id)))
			}
		}
		submit(t, tab2, "accepting in the second tab", "#accept")
		shot(t, tab2, "conflict-"+fm.name)
		banner := run(t, tab2, "reading the banner", chromedp.Text(chromedp.CSS(".problems")))
		if !strings.Contains(banner, "changed in another window") {
			t.Fatalf("%s: the second ACCEPT shows no conflict: %q", fm.name, banner)
		}
		for id, want := range fm.typed {
			if got := value(t, tab2, id); got != want {
				t.Errorf("%s: after the conflict %s holds %q, want what was typed, %q", fm.name, id, got, want)
			}
		}
		for id, want := range fm.lists {
			if got := value(t, tab2, id); got != want {
				t.Errorf("%s: after the conflict %s shows %q, want what was chosen, %q", fm.name, id, got, want)
			}
		}
		for _, id := range fm.ticks {
			if value(t, tab2, id) != "1" {
				t.Errorf("%s: after the conflict %s is not ticked", fm.name, id)
			}
		}
		submit(t, tab2, "accepting again in the second tab", "#accept")
		if loc := location(t, tab2); strings.HasSuffix(loc, fm.path) {
			shot(t, tab2, "failed-accepting-again-"+fm.name)
			t.Fatalf("%s: the second ACCEPT was refused", fm.name)
		}
		reviewAndApply(t, tab2, "")
		if bad := fm.check(e.config(t)); bad != "" {
			t.Errorf("%s: the second ACCEPT saved %s", fm.name, bad)
		}
	}
}

// TestBrowserEveryRefusalAtOnce: ADD with an address of 192.168.1.1000, a
// port of 70000 and no name shows three messages, each beside its field,
// under the heading the form was opened with.
func TestBrowserEveryRefusalAtOnce(t *testing.T) {
	e := newEnv(t, true)
	ctx := browser(t)
	logIn(t, ctx, e.srv.URL)
	step(t, ctx, "opening ADD", chromedp.Navigate(e.srv.URL+"/virtual/new"))
	fill(t, ctx, map[string]string{"name": "", "address": "192.168.1.1000", "port": "70000"})
	submit(t, ctx, "accepting three bad values", "#accept")
	shot(t, ctx, "three-refusals")
	msgs := run(t, ctx, "reading the messages", chromedp.Evaluate[map[string]string](
		`Object.fromEntries([...document.querySelectorAll(".field .error")].map(e => [e.id, e.textContent]))`))
	want := map[string]string{"name-error": "is required", "address-error": "is not an IP address", "port-error": "use 1-65535"}
	if len(msgs) != len(want) {
		t.Errorf("%d messages beside fields, want %d: %v", len(msgs), len(want), msgs)
	}
	for id, w := range want {
		if !strings.Contains(msgs[id], w) {
			t.Errorf("%s = %q, want it to say %q", id, msgs[id], w)
		}
	}
	if h := run(t, ctx, "reading the heading", chromedp.Text(chromedp.CSS("h1"))); h != "New virtual server" {
		t.Errorf("the refused form is headed %q", h)
	}
	if len(e.config(t).Virtuals) != 0 {
		t.Error("a refused virtual server was saved")
	}
}

// requestLog is a console that notes every request it answers.
type requestLog struct {
	mu   sync.Mutex
	seen []string // "POST /account"
	next http.Handler
}

func (l *requestLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		l.mu.Lock()
		l.seen = append(l.seen, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
	}
	l.next.ServeHTTP(w, r)
}

// since returns the requests after the first n.
func (l *requestLog) since(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen[n:]...)
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// TestBrowserReloadAfterSaveIsAGet: after each save (a form's ACCEPT, a
// password change, a token made, a peer secret generated) the browser's
// current entry is the GET the POST redirected to, so a reload sends no
// POST again and makes nothing twice.
func TestBrowserReloadAfterSaveIsAGet(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	log := &requestLog{next: e.console}
	srv := httptest.NewServer(log)
	defer srv.Close()
	ctx := browser(t)
	logIn(t, ctx, srv.URL)

	saves := []struct {
		name, page string
		do         func()
		after      string // the page the save lands on
	}{
		{"virtual server", fmt.Sprintf("/virtual/%d", cfg.Virtuals[0].ID), func() {
			fill(t, ctx, map[string]string{"port": "8080"})
		}, "/virtual"},
		{"password", "/account", func() {
			fill(t, ctx, map[string]string{"current": testPassword, "password": "another pass phrase", "password2": "another pass phrase"})
		}, "/account"},
		{"token", "/tokens", func() {
			fill(t, ctx, map[string]string{"name": "ci"})
			step(t, ctx, "choosing the scope", chromedp.Click(chromedp.ID("scope-viewer")))
		}, "/tokens"},
		{"peer secret", "/redundancy", nil, "/redundancy"},
	}
	for _, s := range saves {
		step(t, ctx, "opening "+s.page, chromedp.Navigate(srv.URL+s.page))
		if s.do != nil {
			s.do()
		}
		button := `form[method="post"] button[type="submit"].primary`
		if s.name == "peer secret" {
			// GENERATE asks first; the page's script confirms with
			// window.confirm, which the test answers yes.
			run(t, ctx, "answering yes", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
			button = "#generate-secret"
		}
		n := log.len()
		submit(t, ctx, "saving the "+s.name, button)
		shot(t, ctx, "saved-"+strings.ReplaceAll(s.name, " ", "-"))
		hist := run(t, ctx, "reading the history", chromedp.NavigationEntries())
		if cur := hist.Entries[hist.CurrentIndex]; !strings.HasSuffix(cur.URL, s.after) {
			t.Errorf("%s: the current entry is %s, want the GET of %s", s.name, cur.URL, s.after)
		}
		saved := log.since(n)
		step(t, ctx, "reloading", chromedp.Reload())
		again := log.since(n + len(saved))
		if len(saved) != 2 || !strings.HasPrefix(saved[0], "POST ") || saved[1] != "GET "+s.after {
			t.Errorf("%s: the save was %v, want a POST, then the GET of %s", s.name, saved, s.after)
		}
		if len(again) != 1 || again[0] != "GET "+s.after {
			t.Errorf("%s: the reload sent %v, want one GET of %s", s.name, again, s.after)
		}
	}
	if ts, _ := e.store.ListTokens(t.Context()); len(ts) != 1 {
		t.Errorf("%d tokens made, want 1", len(ts))
	}
	if strings.Contains(run(t, ctx, "reading the page", chromedp.Text(chromedp.CSS("main"))), "New secret") {
		t.Error("the reload shows the peer secret again")
	}
}

// TestBrowserFieldsShownWhenTheyApply: a field that does nothing under
// the current choice is not shown (Send and Expect under an HTTP check,
// the NAT router under direct routing, the sh/mh flags under another
// scheduler, one-packet scheduling under TCP), with JavaScript and
// without: the page's stylesheet decides. A refused field is shown
// whatever is chosen.
func TestBrowserFieldsShownWhenTheyApply(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid := cfg.Virtuals[0].ID
	ctx := browser(t)
	logIn(t, ctx, e.srv.URL)

	type when struct {
		list, value string
		shown, not  []string
	}
	pages := []struct {
		path  string
		cases []when
	}{
		{fmt.Sprintf("/virtual/%d/scripts", vid), []when{
			{"check", "http", []string{"http_path", "http_host", "http_status", "http_body"}, []string{"send", "expect", "use_regex", "send_program", "tls_verify"}},
			{"check", "https", []string{"http_path", "tls_verify"}, []string{"send", "expect", "send_program"}},
			{"check", "tcp", nil, []string{"send", "expect", "send_program", "http_path", "tls_verify"}},
			{"check", "send", []string{"send", "expect", "use_regex"}, []string{"send_program", "http_path"}},
			{"check", "program", []string{"send_program", "expect", "use_regex"}, []string{"send", "http_path"}},
			{"check", "udp", []string{"send", "expect", "use_regex"}, []string{"send_program", "http_path"}},
			{"check", "", []string{"send", "expect", "use_regex", "send_program"}, []string{"http_path", "tls_verify"}},
		}},
		{"/global", []when{
			{"network", "direct", nil, []string{"nat_router", "nat_router_device", "nat_nmask"}},
			{"network", "tunnel", nil, []string{"nat_router"}},
			{"network", "nat", []string{"nat_router", "nat_router_device", "nat_nmask"}, nil},
		}},
		{fmt.Sprintf("/virtual/%d", vid), []when{
			{"scheduler", "wlc", nil, []string{"sched_fallback", "sched_port"}},
			{"scheduler", "sh", []string{"sched_fallback", "sched_port"}, nil},
			{"scheduler", "mh", []string{"sched_fallback", "sched_port"}, nil},
			{"protocol", "tcp", nil, []string{"ops"}},
			{"protocol", "udp", []string{"ops"}, nil},
		}},
	}
	for _, js := range []bool{true, false} {
		mode := "with JavaScript"
		if !js {
			mode = "without JavaScript"
			step(t, ctx, "turning JavaScript off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
				return err
			}))
		}
		for _, pg := range pages {
			step(t, ctx, "opening "+pg.path, chromedp.Navigate(e.srv.URL+pg.path))
			for _, c := range pg.cases {
				// Chosen as a person would, without script: the list's
				// own keyboard and mouse (SetValue is the same change).
				choose(t, ctx, c.list, c.value)
				for _, id := range c.shown {
					if !visible(t, ctx, id) {
						t.Errorf("%s, %s: with %s = %q, %s is hidden", mode, pg.path, c.list, c.value, id)
					}
				}
				for _, id := range c.not {
					if visible(t, ctx, id) {
						t.Errorf("%s, %s: with %s = %q, %s is shown", mode, pg.path, c.list, c.value, id)
					}
				}
				if js && c.value != "" {
					shot(t, ctx, fmt.Sprintf("fields-%s-%s", c.list, c.value))
				}
			}
		}

		// REDUNDANCY: what a box turns on is shown once it is ticked.
		step(t, ctx, "opening REDUNDANCY", chromedp.Navigate(e.srv.URL+"/redundancy"))
		for _, box := range []struct {
			id         string
			shown, not []string
		}{
			{"", nil, []string{"backup", "keepalive", "deadtime", "heartbeat_port", "preempt", "preempt_delay", "syncdaemon", "syncd_iface"}},
			{"backup_active", []string{"backup", "backup_private", "keepalive", "heartbeat", "preempt", "syncdaemon"}, []string{"preempt_delay", "syncd_iface", "syncd_id"}},
			{"preempt", []string{"preempt_delay"}, []string{"syncd_iface"}},
			{"syncdaemon", []string{"syncd_iface", "syncd_id"}, nil},
		} {
			if box.id != "" {
				step(t, ctx, "ticking "+box.id, chromedp.Click(chromedp.ID(box.id)))
			}
			for _, id := range box.shown {
				if !visible(t, ctx, id) {
					t.Errorf("%s, REDUNDANCY: with %q ticked, %s is hidden", mode, box.id, id)
				}
			}
			for _, id := range box.not {
				if visible(t, ctx, id) {
					t.Errorf("%s, REDUNDANCY: with %q ticked, %s is shown", mode, box.id, id)
				}
			}
			if js {
				shot(t, ctx, "fields-redundancy-"+cmp.Or(box.id, "no-backup"))
			}
		}
	}

	// A refused field is shown even where it does not apply: here the NAT
	// netmask under direct routing.
	step(t, ctx, "opening GLOBAL SETTINGS", chromedp.Navigate(e.srv.URL+"/global"))
	choose(t, ctx, "network", "nat")
	fill(t, ctx, map[string]string{"nat_nmask": "255.0.255.0"})
	choose(t, ctx, "network", "direct")
	submit(t, ctx, "accepting a bad hidden field", "#accept")
	if !visible(t, ctx, "nat_nmask") || !visible(t, ctx, "nat_nmask-error") {
		t.Error("a refused NAT netmask is hidden under direct routing")
	}
	shot(t, ctx, "fields-refused-shown")
}

// TestBrowserSelectsShowTheirChoice: on a 1366 and a 1280 pixel wide
// screen, every choice of every list of the forms is shown whole when
// chosen ("wlc – weighted least connectic" was cut).
func TestBrowserSelectsShowTheirChoice(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	vid, rid := cfg.Virtuals[0].ID, cfg.Virtuals[0].Reals[0].ID
	ctx := browser(t)
	logIn(t, ctx, e.srv.URL)
	// For each list, the choices whose text is wider than the room the
	// closed list gives it (its inner width, less the arrow's 24 px).
	const cut = `(() => {
		const out = [];
		const g = document.createElement("canvas").getContext("2d");
		// Lists shown only under another choice (web.When) are measured too.
		for (const w of document.querySelectorAll(".when")) w.classList.add("shown");
		for (const s of document.querySelectorAll("select")) {
			const cs = getComputedStyle(s);
			g.font = cs.font;
			const room = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 24;
			for (const o of s.options) {
				if (g.measureText(o.text).width > room) out.push(s.id + ": " + o.text);
			}
		}
		return out;
	})()`
	for _, width := range []int64{1366, 1280} {
		viewport(t, ctx, width, 900)
		for _, path := range []string{"/virtual/new", fmt.Sprintf("/virtual/%d", vid), fmt.Sprintf("/virtual/%d/real/%d", vid, rid),
			fmt.Sprintf("/virtual/%d/scripts", vid), "/global", "/tokens"} {
			step(t, ctx, "opening "+path, chromedp.Navigate(e.srv.URL+path))
			if width == 1366 {
				shot(t, ctx, "lists"+strings.ReplaceAll(path, "/", "-"))
			}
			for _, c := range run(t, ctx, "measuring the lists", chromedp.Evaluate[[]string](cut)) {
				t.Errorf("%d px, %s: the choice %q is cut", width, path, c)
			}
		}
	}
}

// TestBrowserControlPage: on a 1366 pixel wide screen the routing table
// stays within its card; auto update is on by default and the browser
// remembers it switched off across a reload; the time of the page keeps
// its format, with its zone, when an update comes.
func TestBrowserControlPage(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	e.console.engine = liveStatus{wideTable(cfg)}
	e.console.traffic = liveStatus{wideTable(cfg)}
	ctx := browser(t)
	viewport(t, ctx, 1366, 900)
	logIn(t, ctx, e.srv.URL)
	step(t, ctx, "opening CONTROL/MONITORING", chromedp.Navigate(e.srv.URL+"/control"))
	shot(t, ctx, "control-1366")
	fits := run(t, ctx, "measuring the routing table", chromedp.Evaluate[map[string]float64](`(() => {
		const t = document.getElementById("ipvs"), card = t.closest(".card");
		const tr = t.getBoundingClientRect(), cr = card.getBoundingClientRect();
		return {table: tr.right, card: cr.right - parseFloat(getComputedStyle(card).paddingRight), page: document.documentElement.scrollWidth, window: innerWidth};
	})()`))
	if fits["table"] > fits["card"]+0.5 || fits["page"] > fits["window"] {
		t.Errorf("the routing table overflows its card at 1366 px: %v", fits)
	}

	if value(t, ctx, "auto") != "1" {
		t.Error("auto update is off on a plain /control")
	}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z0-9+-]+$`)
	first := run(t, ctx, "reading the time", chromedp.Text(chromedp.ID("updated")))
	if !stamp.MatchString(first) {
		t.Errorf("the page's time %q has no zone", first)
	}
	// An update every second: the time changes, in the same format.
	fill(t, ctx, map[string]string{"every": "1"})
	run(t, ctx, "leaving the period's field", chromedp.Evaluate[bool](`(document.getElementById("every").dispatchEvent(new Event("change")), true)`))
	next := run(t, ctx, "waiting for an update", chromedp.Poll[string](
		fmt.Sprintf(`(t => t !== %q && t)(document.getElementById("updated").textContent)`, first)))
	if !stamp.MatchString(next) {
		t.Errorf("after an update the time reads %q, not as before (%q)", next, first)
	}

	step(t, ctx, "switching auto update off", chromedp.Click(chromedp.ID("auto")))
	step(t, ctx, "opening CONTROL/MONITORING again", chromedp.Navigate(e.srv.URL+"/control"))
	if value(t, ctx, "auto") != "" {
		t.Error("the browser forgot that auto update was switched off")
	}
	step(t, ctx, "switching auto update on", chromedp.Click(chromedp.ID("auto")))
	step(t, ctx, "reloading", chromedp.Reload())
	if value(t, ctx, "auto") != "1" {
		t.Error("the browser forgot that auto update was switched on")
	}
}

// wideTable is a routing table as wide as a busy pair's: an IPv4 and an
// IPv6 service, persistent, with large counters.
func wideTable(cfg *config.Config) engine.Status {
	big := ipvs.Stats{Conns: 1234567890, InPkts: 98765432109, OutPkts: 1, InBytes: 12345678901234, CPS: 123456, InBPS: 987654321}
	svc := func(addr string, dests ...string) *engine.Service {
		a := netip.MustParseAddr(addr)
		fam := ipvs.FamilyIPv4
		mask := uint32(0xffffff00)
		if a.Is6() {
			fam, mask = ipvs.FamilyIPv6, 64
		}
		s := &engine.Service{Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: fam, Protocol: ipvs.TCP, Addr: a, Port: 443},
			Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: mask, Stats: big}, Virtual: cfg.Virtuals[0].Name}
		for _, d := range dests {
			s.Dests = append(s.Dests, ipvs.Destination{Addr: netip.MustParseAddr(d), Port: 8443, Forward: ipvs.Masquerade,
				Weight: 1000, ActiveConns: 123456, InactiveConns: 654321, Stats: big})
		}
		return s
	}
	t := &engine.Table{Services: []*engine.Service{
		svc("192.168.100.100", "10.10.0.11", "10.10.0.12", "10.10.0.13"),
		svc("2001:db8:10:20::100", "2001:db8:10:20::11", "2001:db8:10:20::12"),
	}}
	return engine.Status{Running: true, Available: true, Serial: cfg.Serial, Desired: t, Kernel: t}
}

// TestBrowserPagesOfTheWalk: the smaller things of the walk, as a
// person sees them: a failed login is no unsaved change, the header's
// serial on the account and a missing page is the configuration's, and
// the NETMASK column shows the mask a VIP without one goes up with.
func TestBrowserPagesOfTheWalk(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	ctx := browser(t)
	viewport(t, ctx, 1366, 900)

	step(t, ctx, "opening the login page", chromedp.Navigate(e.srv.URL+"/login"))
	fill(t, ctx, map[string]string{"user": "admin", "password": "not the password"})
	submit(t, ctx, "logging in with a wrong password", "#login")
	shot(t, ctx, "walk-login-refused")
	if head := run(t, ctx, "reading the refusal", chromedp.Text(chromedp.CSS(".problems p"))); head != "Not logged in:" {
		t.Errorf("a failed login is headed %q", head)
	}

	logIn(t, ctx, e.srv.URL)
	serial := fmt.Sprintf("serial %d", cfg.Serial)
	for _, path := range []string{"/account", "/nope"} {
		step(t, ctx, "opening "+path, chromedp.Navigate(e.srv.URL+path))
		shot(t, ctx, "walk"+strings.ReplaceAll(path, "/", "-"))
		if got := run(t, ctx, "reading the header", chromedp.Text(chromedp.CSS(".who .serial"))); got != serial {
			t.Errorf("%s: the header says %q, want %q", path, got, serial)
		}
	}

	step(t, ctx, "opening VIRTUAL SERVERS", chromedp.Navigate(e.srv.URL+"/virtual"))
	shot(t, ctx, "walk-virtual-list")
	if mask := run(t, ctx, "reading the netmask", chromedp.Text(chromedp.CSS(`tr[data-name="www"] td:nth-child(4)`))); mask != "255.255.255.255 (default)" {
		t.Errorf("the NETMASK of a VIP without one reads %q", mask)
	}
}
