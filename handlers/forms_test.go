package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// shownValue is what the form in body shows for field name: a text box's
// value, the selected option of a list, "1" or "" for a check box; false
// when the form has no such field.
func shownValue(body, name string) (string, bool) {
	q := regexp.QuoteMeta(name)
	for _, in := range regexp.MustCompile(`<input [^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(in, ` name="`+name+`"`) {
			continue
		}
		switch {
		case strings.Contains(in, `type="text"`):
			return htmlUnescape(regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(in)[1]), true
		case strings.Contains(in, `type="checkbox"`):
			if strings.Contains(in, " checked") {
				return "1", true
			}
			return "", true
		}
	}
	if m := regexp.MustCompile(`(?s)<select id="` + q + `" name="` + q + `">(.*?)</select>`).FindStringSubmatch(body); m != nil {
		if o := regexp.MustCompile(`<option value="([^"]*)" selected>`).FindStringSubmatch(m[1]); o != nil {
			return htmlUnescape(o[1]), true
		}
		// No option marked: the browser shows the first.
		if o := regexp.MustCompile(`<option value="([^"]*)"`).FindStringSubmatch(m[1]); o != nil {
			return htmlUnescape(o[1]), true
		}
	}
	return "", false
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`).Replace(s)
}

// formSerial is the serial a form in body was filled from.
func formSerial(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="serial" value="(\d+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page has no serial:\n%s", body)
	}
	return m[1]
}

// formDraft returns the version of the pending changes a page's form was
// filled from.
func formDraft(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="draft" value="(\d+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page has no draft version:\n%s", body)
	}
	return m[1]
}

// TestConflictKeepsTypedValues: EDIT (and ADD) of a virtual and a real
// server in two tabs, ACCEPT in one, then in the other: the second is
// refused as a conflict and shows every value it sent, with the new
// serial, so that ACCEPT again saves exactly them. (The forms were read
// only inside the store's change, which a conflict never runs: every field
// came back empty.)
func TestConflictKeepsTypedValues(t *testing.T) {
	e := newEnv(t, true)
	tab1, tab2 := e.login(t), e.login(t)
	cfg := e.seed(t)
	vid := strconv.FormatInt(cfg.Virtuals[0].ID, 10)
	rid := strconv.FormatInt(cfg.Virtuals[0].Reals[0].ID, 10)

	cases := []struct {
		name  string
		path  string // the form, GET and POST
		first url.Values
		typed url.Values // the second tab's values, all of the form's fields
		saved func(*testing.T, *config.Config)
	}{
		{
			name: "edit virtual", path: "/virtual/" + vid,
			first: url.Values{"name": {"www"}, "address": {"192.0.2.10"}, "device": {"eth0:1"}, "protocol": {"tcp"}, "port": {"80"},
				"scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}, "load_monitor": {"none"}, "persistent": {"60"}},
			typed: url.Values{"name": {"www2"}, "address": {"192.0.2.11"}, "vip_nmask": {"255.255.255.0"}, "device": {"eth0:2"},
				"protocol": {"udp"}, "port": {"53"}, "fwmark": {"0"}, "active": {"1"}, "scheduler": {"sh"}, "persistent": {"300"},
				"pmask": {"255.255.255.0"}, "sched_fallback": {"1"}, "sched_port": {"1"}, "ops": {"1"}, "sorry_server": {"10.0.0.99"},
				"timeout": {"7"}, "reentry": {"20"}, "quiesce_server": {"1"}, "load_monitor": {"feedback"}},
			saved: func(t *testing.T, c *config.Config) {
				vs := c.Virtuals[0]
				if vs.Name != "www2" || !vs.Active || vs.Scheduler != "sh" || vs.Port != 53 || !vs.SchedPort || vs.LoadMonitor != "feedback" || vs.Persistence != 300 {
					t.Errorf("saved %+v", vs)
				}
			},
		},
		{
			name: "add virtual", path: "/virtual/new",
			first: url.Values{"name": {"other"}, "address": {"192.0.2.50"}, "protocol": {"tcp"}, "port": {"80"},
				"scheduler": {"wlc"}, "timeout": {"6"}, "reentry": {"15"}, "load_monitor": {"none"}},
			typed: url.Values{"name": {"mail"}, "address": {"192.0.2.25"}, "vip_nmask": {""}, "device": {"eth0:3"},
				"protocol": {"tcp"}, "port": {"smtp"}, "fwmark": {"0"}, "active": {"1"}, "scheduler": {"rr"}, "persistent": {"0"},
				"pmask": {""}, "sorry_server": {""}, "timeout": {"9"}, "reentry": {"30"}, "load_monitor": {"rup"}},
			saved: func(t *testing.T, c *config.Config) {
				vs := c.Virtuals[len(c.Virtuals)-1]
				if vs.Name != "mail" || !vs.Active || vs.Scheduler != "rr" || vs.Port != 25 || vs.LoadMonitor != "rup" {
					t.Errorf("saved %+v", vs)
				}
			},
		},
		{
			name: "edit real", path: "/virtual/" + vid + "/real/" + rid,
			first: url.Values{"name": {"web1"}, "address": {"10.0.0.1"}, "weight": {"2"}},
			typed: url.Values{"name": {"web1b"}, "address": {"10.0.0.9"}, "port": {"8080"}, "weight": {"7"}, "fwd": {"nat"},
				"uthreshold": {"100"}, "lthreshold": {"10"}, "active": {"1"}},
			saved: func(t *testing.T, c *config.Config) {
				rs := c.Virtuals[0].Reals[0]
				if rs.Name != "web1b" || !rs.Active || rs.Weight != 7 || rs.Forward != config.NAT || rs.Port != 8080 {
					t.Errorf("saved %+v", rs)
				}
			},
		},
		{
			name: "add real", path: "/virtual/" + vid + "/real/new",
			first: url.Values{"name": {"web8"}, "address": {"10.0.0.8"}, "weight": {"1"}},
			typed: url.Values{"name": {"web9"}, "address": {"10.0.0.19"}, "port": {""}, "weight": {"3"}, "fwd": {"direct"},
				"uthreshold": {"0"}, "lthreshold": {"0"}, "active": {"1"}},
			saved: func(t *testing.T, c *config.Config) {
				reals := c.Virtuals[0].Reals
				rs := reals[len(reals)-1]
				if rs.Name != "web9" || !rs.Active || rs.Weight != 3 || rs.Forward != config.Direct {
					t.Errorf("saved %+v", rs)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Both tabs open the form on the same pending changes.
			page := get(t, tab1, e.srv.URL+tc.path).body
			serial, draft := formSerial(t, page), formDraft(t, page)
			if d := formDraft(t, get(t, tab2, e.srv.URL+tc.path).body); d != draft {
				t.Fatalf("the tabs loaded versions %s and %s", draft, d)
			}
			tc.first.Set("serial", serial)
			tc.first.Set("draft", draft)
			if a := post(t, tab1, e.srv.URL+tc.path, tc.first); a.code != http.StatusSeeOther {
				t.Fatalf("the first ACCEPT = %d: %s", a.code, a.body)
			}
			typed := url.Values{}
			for k, v := range tc.typed {
				typed[k] = v
			}
			typed.Set("serial", serial)
			typed.Set("draft", draft)
			a := post(t, tab2, e.srv.URL+tc.path, typed)
			if a.code != http.StatusConflict || !strings.Contains(a.body, "changed in another window") {
				t.Fatalf("the second ACCEPT = %d, want 409 with the conflict's banner:\n%s", a.code, a.body)
			}
			for k, v := range tc.typed {
				if got, ok := shownValue(a.body, k); !ok || got != v[0] {
					t.Errorf("after the conflict %s shows %q (a field: %v), want what was typed, %q", k, got, ok, v[0])
				}
			}
			again := formDraft(t, a.body)
			if again == draft {
				t.Fatalf("the refused form still carries version %s", draft)
			}
			typed.Set("draft", again)
			if a := post(t, tab2, e.srv.URL+tc.path, typed); a.code != http.StatusSeeOther {
				t.Fatalf("ACCEPT again = %d: %s", a.code, a.body)
			}
			tc.saved(t, e.applied(t, tab2))
		})
	}
}

// TestEveryRefusedFieldAtOnce: a form with several bad values shows a
// message beside each, whether the value could not be read (an address of
// 192.168.1.1000) or was read and refused (port 70000, no name). It showed
// only the values that could not be read, then, once fixed, the others.
func TestEveryRefusedFieldAtOnce(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	cfg := e.seed(t)
	vid := strconv.FormatInt(cfg.Virtuals[0].ID, 10)
	rid := strconv.FormatInt(cfg.Virtuals[0].Reals[0].ID, 10)
	serial := strconv.FormatInt(cfg.Serial, 10)
	virtual := func(kv ...string) url.Values {
		v := url.Values{"name": {"www2"}, "address": {"192.0.2.20"}, "protocol": {"tcp"}, "port": {"80"}, "scheduler": {"wlc"},
			"timeout": {"6"}, "reentry": {"15"}, "load_monitor": {"none"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		path string
		form url.Values
		want map[string]string // field: in its message
	}{
		{"/virtual/new", virtual("address", "192.168.1.1000", "port", "70000", "name", ""),
			map[string]string{"address": "not an IP address", "port": "1-65535", "name": "is required"}},
		{"/virtual/" + vid, virtual("name", "www", "reentry", "soon", "persistent", "-1", "sorry_server", "10.0.0"),
			map[string]string{"reentry": "not a number of seconds", "persistent": "out of range", "sorry_server": "not an IP address"}},
		{"/virtual/" + vid + "/real/new", url.Values{"name": {"bad name"}, "address": {"10.0.0.300"}, "weight": {"-1"}, "port": {"x"}},
			map[string]string{"name": "letters, digits", "address": "not an IP address", "weight": "0-2147483647", "port": "not a port"}},
		{"/virtual/" + vid + "/real/" + rid, url.Values{"name": {"web1"}, "address": {"10.0.0.1"}, "weight": {"heavy"}, "uthreshold": {"5"}, "lthreshold": {"9"}},
			map[string]string{"weight": "not a whole number", "lthreshold": "above the upper threshold"}},
		{"/global", url.Values{"primary": {"1.2.3"}, "network": {"bogus"}, "tcp_timeout": {"-1"}, "nat_nmask": {"255.0.255.0"}},
			map[string]string{"primary": "not an IP address", "network": "nat, direct or tunnel", "tcp_timeout": "out of range", "nat_nmask": "contiguous"}},
		{"/redundancy", url.Values{"keepalive": {"six"}, "deadtime": {"18"}, "heartbeat_port": {"70000"}, "syncd_id": {"300"}},
			map[string]string{"keepalive": "not a number of seconds", "heartbeat_port": "1-65535", "syncd_id": "0-255"}},
		{"/virtual/" + vid + "/scripts", url.Values{"check": {"https"}, "check_interval": {"often"}, "check_failures": {"500"}, "http_status": {"2xx"}},
			map[string]string{"check_interval": "not a number of seconds", "check_failures": "0-100", "http_status": "status code or range"}},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			before := fileSum(t, e.store.Path())
			tc.form.Set("serial", serial)
			a := post(t, c, e.srv.URL+tc.path, tc.form)
			if a.code != http.StatusUnprocessableEntity {
				t.Fatalf("POST %s = %d, want 422:\n%s", tc.path, a.code, a.body)
			}
			for field, want := range tc.want {
				if msg := fieldError(a.body, field); !strings.Contains(msg, want) {
					t.Errorf("beside %s: %q, want a message saying %q", field, msg, want)
				}
			}
			if n := strings.Count(a.body, `class="error" id="`); n != len(tc.want) {
				t.Errorf("%d messages beside fields, want %d", n, len(tc.want))
			}
			for k, v := range tc.form {
				if got, ok := shownValue(a.body, k); k != "serial" && ok && got != v[0] {
					t.Errorf("%s shows %q, want what was typed, %q", k, got, v[0])
				}
			}
			if after := fileSum(t, e.store.Path()); after != before {
				t.Errorf("the database changed")
			}
		})
	}
}

// TestAPIListsEveryRefusedField: the API refuses a write with every value
// it refuses, those it could not read (a port of "nope") and those it
// read and refused (syncd_id 300) alike; a body with several values of the
// wrong JSON type lists each.
func TestAPIListsEveryRefusedField(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	a := e.api(t, e.login(t), "")
	vid := cfg.Virtuals[0].ID
	cases := []struct {
		method, path, body string
		code               int
		fields             []string // in this order
	}{
		{"POST", "/virtual", `{"name": "", "address": "192.168.1.1000", "port": 70000}`, http.StatusUnprocessableEntity,
			[]string{"name", "address", "port"}},
		{"PUT", "/redundancy", `{"keepalive": "six", "heartbeat_port": "http", "syncd_id": 300}`, http.StatusUnprocessableEntity,
			[]string{"keepalive", "syncd_id"}},
		{"PUT", "/global", `{"primary": "1.2.3", "network": "bogus", "tcp_timeout": -1}`, http.StatusUnprocessableEntity,
			[]string{"primary", "network", "tcp_timeout"}},
		{"PUT", "/virtual/" + itoa(vid), `{"reentry": "soon", "persistent": -1, "sorry_server": "10.0.0"}`, http.StatusUnprocessableEntity,
			[]string{"persistent", "sorry_server", "reentry"}},
		{"POST", "/virtual/" + itoa(vid) + "/real", `{"name": "bad name", "address": "10.0.0.300", "weight": -1}`, http.StatusUnprocessableEntity,
			[]string{"name", "address", "weight"}},
		{"PUT", "/global", `{"hard_shutdown": "yes", "tcp_timeout": "x", "nope": 1}`, http.StatusBadRequest,
			[]string{"hard_shutdown", "tcp_timeout", "nope"}},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			ans := a.call(tc.method, tc.path, tc.body)
			if ans.code != tc.code {
				t.Fatalf("= %d, want %d: %s", ans.code, tc.code, ans.body)
			}
			e := refusal(t, ans)
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
				if f.Message == "" {
					t.Errorf("%s has no message", f.Field)
				}
				if !strings.Contains(e.Error, f.Message) {
					t.Errorf("the error %q does not say %q", e.Error, f.Message)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.fields, " ") {
				t.Errorf("fields %v, want %v: %s", got, tc.fields, ans.body)
			}
		})
	}
}

var h1RE = regexp.MustCompile(`<h1>([^<]*)</h1>`)

func heading(t *testing.T, body string) string {
	t.Helper()
	m := h1RE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the page has no heading:\n%s", body)
	}
	return htmlUnescape(m[1])
}

// TestHeadingsStayAfterARefusal: a refused form comes back under the
// heading it was opened under ("New virtual server" became "Virtual server
// new", "Real server web1 of www" became "Real server of www").
func TestHeadingsStayAfterARefusal(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	cfg := e.seed(t)
	vid := strconv.FormatInt(cfg.Virtuals[0].ID, 10)
	rid := strconv.FormatInt(cfg.Virtuals[0].Reals[0].ID, 10)
	bad := url.Values{"serial": {strconv.FormatInt(cfg.Serial, 10)}, "name": {"bad name"}, "port": {"x"}, "weight": {"x"},
		"keepalive": {"x"}, "primary": {"x"}, "check_failures": {"x"}, "password": {"short"}, "password2": {"other"}}
	for _, path := range []string{"/virtual/new", "/virtual/" + vid, "/virtual/" + vid + "/real/new",
		"/virtual/" + vid + "/real/" + rid, "/virtual/" + vid + "/scripts", "/global", "/redundancy", "/account", "/tokens"} {
		t.Run(path, func(t *testing.T) {
			want := heading(t, get(t, c, e.srv.URL+path).body)
			a := post(t, c, e.srv.URL+path, bad)
			if a.code < 400 {
				t.Fatalf("POST %s = %d, want a refusal", path, a.code)
			}
			if got := heading(t, a.body); got != want {
				t.Errorf("refused, the heading is %q; the form was opened as %q", got, want)
			}
		})
	}
}
