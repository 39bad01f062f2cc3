package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/static"
	"github.com/lvsconsole/lvsconsole/web"
)

// fixedCluster is a ClusterSource with a fixed status.
type fixedCluster cluster.Status

func (f fixedCluster) Status() cluster.Status { return cluster.Status(f) }

// threeDirectors is the status of director 192.0.2.1 in a cluster of
// three: 192.0.2.2 a serial behind and draining, 192.0.2.3 unreachable.
func threeDirectors(at time.Time) cluster.Status {
	a := netip.MustParseAddr
	vip := netip.MustParsePrefix("192.0.2.10/32")
	vip2 := netip.MustParsePrefix("192.0.2.11/32")
	up := cluster.Session{Peer: a("192.0.2.254"), AS: 65000, State: "established", Since: at.Add(-time.Hour), HoldTime: 9 * time.Second, Announced: 1}
	self := cluster.Director{Addr: a("192.0.2.1"), Self: true, Reachable: true, Heard: at, Serial: 7, Healthy: true,
		Announced: []netip.Prefix{vip}, Sessions: []cluster.Session{up},
		Traffic: cluster.Traffic{ActiveConns: 1200, ConnsPerSec: 345, InBytesPerSec: 2.5e7, OutBytesPerSec: 2e4}}
	behind := cluster.Director{Addr: a("192.0.2.2"), Reachable: true, Heard: at.Add(-time.Second), Serial: 6, Healthy: true, Draining: true,
		Announced: []netip.Prefix{vip, vip2},
		Sessions:  []cluster.Session{{Peer: a("192.0.2.254"), AS: 65000, State: "active", Announced: 0}}}
	gone := cluster.Director{Addr: a("192.0.2.3"), Err: "connection refused"}
	return cluster.Status{
		Enabled: true, Self: a("192.0.2.1"), RouterID: a("192.0.2.1"), Serial: 7, Healthy: true,
		Announced: []netip.Prefix{vip},
		Withheld:  []cluster.Withheld{{Prefix: vip2, Why: "no real server up"}},
		Sessions:  []cluster.Session{up},
		Traffic:   self.Traffic,
		Directors: []cluster.Director{self, behind, gone},
		At:        at,
	}
}

// TestPeerCluster: /peer/v2/cluster answers this director's cluster status
// (without its view of the others) to a request signed with the peer
// secret, sealed for it, which cluster.FetchCluster opens; it refuses,
// with the same 401, a request unsigned, signed with another secret, stale,
// replayed or with a changed MAC; without a ClusterSource a genuine request
// gets 404 and a stranger still 401.
func TestPeerCluster(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	u := e.srv.URL + cluster.Path
	anon := &http.Client{}
	key := withSecret(t, e)
	if _, err := cluster.FetchCluster(ctx, anon, e.srv.URL, key, time.Now()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("without a ClusterSource: %v, want a 404", err)
	}
	if a := get(t, anon, u); a.code != http.StatusUnauthorized {
		t.Errorf("without a ClusterSource, unsigned: %d, want 401", a.code)
	}

	want := threeDirectors(time.Now().UTC().Truncate(time.Second))
	e.console.cluster = fixedCluster(want)
	var rec recorder
	got, err := cluster.FetchCluster(ctx, rec.client(), e.srv.URL, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Enabled || got.Self != want.Self || got.Serial != 7 || len(got.Announced) != 1 || got.Announced[0] != want.Announced[0] ||
		len(got.Sessions) != 1 || got.Sessions[0].State != "established" || !got.Sessions[0].Since.Equal(want.Sessions[0].Since) ||
		got.Sessions[0].HoldTime != 9*time.Second || len(got.Withheld) != 1 || got.Traffic != want.Traffic || !got.At.Equal(want.At) {
		t.Errorf("fetched %+v, want %+v", got, want)
	}
	if got.Directors != nil {
		t.Errorf("the answer carries the director's view of the others: %+v", got.Directors)
	}
	for _, clear := range []string{"192.0.2.10", "established", "no real server up"} {
		if strings.Contains(rec.got.String(), clear) {
			t.Errorf("%q is in the clear on the wire", clear)
		}
	}

	forged := func(r *http.Request) {
		failover.SignRequest(r, key, time.Now())
		h := r.Header.Get("Authorization")
		last := h[len(h)-1]
		r.Header.Set("Authorization", h[:len(h)-1]+map[bool]string{true: "1", false: "0"}[last == '0'])
	}
	for name, sign := range map[string]func(*http.Request){
		"unsigned":        func(*http.Request) {},
		"another secret":  func(r *http.Request) { failover.SignRequest(r, NewSecret(), time.Now()) },
		"a stale request": func(r *http.Request) { failover.SignRequest(r, key, time.Now().Add(-time.Hour)) },
		"a changed MAC":   forged,
	} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		sign(req)
		if a := do(t, anon, req); a.code != http.StatusUnauthorized || a.body != "unauthorized\n" {
			t.Errorf("%s: %d %q, want 401", name, a.code, a.body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	failover.SignRequest(req, key, time.Now())
	if a := do(t, anon, req); a.code != http.StatusOK {
		t.Fatalf("the genuine request: %d %s", a.code, a.body)
	}
	again, _ := http.NewRequest(http.MethodGet, u, nil)
	again.Header = req.Header.Clone()
	if a := do(t, anon, again); a.code != http.StatusUnauthorized {
		t.Errorf("the same request replayed: %d, want 401", a.code)
	}
	// An answer to the configuration's path does not open as the
	// cluster's.
	creq, _ := http.NewRequest(http.MethodGet, e.srv.URL+failover.ConfigPath, nil)
	q := failover.SignRequest(creq, key, time.Now())
	a := do(t, anon, creq)
	if a.code != http.StatusOK {
		t.Fatalf("the configuration: %d", a.code)
	}
	if _, err := failover.OpenAnswer(key, failover.Request{Method: q.Method, Path: cluster.Path, Time: q.Time, Nonce: q.Nonce}, []byte(a.body)); err == nil {
		t.Error("the configuration's answer opens as the cluster status")
	}
}

// TestFetchClusterBound: FetchCluster reads at most cluster.MaxStatus
// bytes of status (and the seal): a director answering more, genuinely
// signed and sealed, is refused without the rest being read; one just
// under the bound is taken.
func TestFetchClusterBound(t *testing.T) {
	key := NewSecret()
	v := failover.NewVerifier()
	var size int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := v.Verify(r, key, time.Now())
		if err != nil || r.URL.Path != cluster.Path {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		// A valid status, padded with spaces (JSON allows them) to size.
		body := []byte(`{"enabled":true,"serial":3}`)
		body = append(body, []byte(strings.Repeat(" ", size-len(body)))...)
		w.Write(failover.SealAnswer(key, q, body))
	}))
	defer srv.Close()
	ctx := context.Background()
	size = cluster.MaxStatus
	if st, err := cluster.FetchCluster(ctx, srv.Client(), srv.URL, key, time.Now()); err != nil || st.Serial != 3 {
		t.Errorf("a status of MaxStatus bytes: %+v, %v", st, err)
	}
	size = cluster.MaxStatus + 1
	if _, err := cluster.FetchCluster(ctx, srv.Client(), srv.URL, key, time.Now()); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("a status of MaxStatus+1 bytes: %v, want refused as too large", err)
	}
}

// directorRows returns the text of each row of the cluster view's table,
// by director address.
func directorRows(t *testing.T, page string) map[string]string {
	t.Helper()
	tags := regexp.MustCompile(`<[^>]*>`)
	space := regexp.MustCompile(`\s+`)
	rows := map[string]string{}
	for _, m := range regexp.MustCompile(`(?s)<tr data-director="([^"]+)"[^>]*>(.*?)</tr>`).FindAllStringSubmatch(page, -1) {
		rows[m[1]] = strings.TrimSpace(space.ReplaceAllString(html.UnescapeString(tags.ReplaceAllString(m[2], " ")), " "))
	}
	return rows
}

// TestControlShowsCluster: in cluster mode CONTROL/MONITORING (and its
// live updates) lists every director: this one marked, a reachable one
// with its state, serial (marked when behind the highest), the VIPs it
// announces, its BGP sessions with their state and since when, its
// traffic; an unreachable one with why; then the VIPs this director
// withholds and why. Without cluster mode (no source, or a source not
// enabled: the pair) there is no cluster card.
func TestControlShowsCluster(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	if page := get(t, c, e.srv.URL+"/control").body; strings.Contains(page, `id="cluster"`) {
		t.Error("a cluster card without a ClusterSource")
	}
	e.console.cluster = fixedCluster(cluster.Status{Serial: 3})
	if page := get(t, c, e.srv.URL+"/control").body; strings.Contains(page, `id="cluster"`) {
		t.Error("a cluster card with cluster mode off")
	}

	at := time.Now()
	st := threeDirectors(at)
	st.Warnings = []string{"virtual server www uses rr: flows do not survive a director leaving"}
	e.console.cluster = fixedCluster(st)
	for name, page := range map[string]string{
		"page":   get(t, c, e.srv.URL+"/control").body,
		"stream": firstEvent(t, c, e.srv.URL+"/control/stream?every=1"),
	} {
		if !strings.Contains(page, `id="cluster"`) {
			t.Fatalf("%s: no cluster card", name)
		}
		rows := directorRows(t, page)
		if len(rows) != 3 {
			t.Fatalf("%s: director rows %v, want 3", name, rows)
		}
		since := html.UnescapeString(web.Stamp(at.Add(-time.Hour)))
		for addr, wants := range map[string][]string{
			"192.0.2.1": {"this director", "healthy", "7", "192.0.2.10/32", "192.0.2.254 AS65000 established since " + since, "1 prefixes",
				"1200", "345", "25.0M", "20.0k"},
			"192.0.2.2": {"draining", "6 behind 7", "192.0.2.10/32, 192.0.2.11/32", "192.0.2.254 AS65000 active"},
			"192.0.2.3": {"unreachable connection refused"},
		} {
			for _, want := range wants {
				if !strings.Contains(rows[addr], want) {
					t.Errorf("%s: the row of %s %q lacks %q", name, addr, rows[addr], want)
				}
			}
		}
		if strings.Contains(rows["192.0.2.1"], "behind") || strings.Contains(rows["192.0.2.3"], "behind") {
			t.Errorf("%s: a director marked behind that is not: %v", name, rows)
		}
		if strings.Contains(rows["192.0.2.2"], "this director") || strings.Contains(rows["192.0.2.2"], "prefixes") {
			t.Errorf("%s: 192.0.2.2's row %q: marked as this director, or prefixes on a session not established", name, rows["192.0.2.2"])
		}
		for _, want := range []string{`id="cluster-withheld"`, "192.0.2.11/32: no real server up", "BGP router id 192.0.2.1", "flows do not survive"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the cluster card lacks %q", name, want)
			}
		}
	}

	// Before the other directors are polled, this director is listed from
	// its own status.
	st.Directors = nil
	e.console.cluster = fixedCluster(st)
	rows := directorRows(t, get(t, c, e.srv.URL+"/control").body)
	if len(rows) != 1 || !strings.Contains(rows["192.0.2.1"], "this director") || !strings.Contains(rows["192.0.2.1"], "established") {
		t.Errorf("without the others polled: %v", rows)
	}
}

// firstEvent is the data of the first event of the stream at u.
func firstEvent(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ev, err := (&sseReader{r: bufio.NewReader(resp.Body)}).next()
	if err != nil {
		t.Fatal(err)
	}
	return ev.data
}

// TestMetricsCluster: /metrics exports, in cluster mode, each BGP
// session's state (up, and one of the FSM states) and prefixes announced
// on it, this director's announced and withheld VIPs, and each director's
// reachability, serial, health and announced prefixes (only reachability
// for one not heard); nothing of it without cluster mode but
// lvs_cluster_enabled 0, and nothing at all without a source.
func TestMetricsCluster(t *testing.T) {
	e := newEnv(t, true)
	c := e.login(t)
	type lbl = map[string]string
	cluster0 := func(fams map[string]*dto.MetricFamily) []string {
		var names []string
		for name := range fams {
			if strings.HasPrefix(name, "lvs_cluster_") || strings.HasPrefix(name, "lvs_bgp_") {
				names = append(names, name)
			}
		}
		return names
	}
	if names := cluster0(scrape(t, e, c)); len(names) != 0 {
		t.Errorf("without a ClusterSource: %v exported", names)
	}
	e.console.cluster = fixedCluster(cluster.Status{Serial: 3})
	fams := scrape(t, e, c)
	if names := cluster0(fams); len(names) != 1 || names[0] != "lvs_cluster_enabled" {
		t.Errorf("cluster mode off: %v exported, want lvs_cluster_enabled only", names)
	}
	if v, _, ok := sample(fams, "lvs_cluster_enabled", nil); !ok || v != 0 {
		t.Errorf("cluster mode off: lvs_cluster_enabled = %v (%v)", v, ok)
	}

	st := threeDirectors(time.Now())
	// A second session, not established.
	st.Sessions = append(st.Sessions, cluster.Session{Peer: netip.MustParseAddr("2001:db8::fe"), AS: 4200000001, State: "opensent"})
	e.console.cluster = fixedCluster(st)
	fams = scrape(t, e, c)
	for _, m := range []struct {
		name   string
		labels lbl
		want   float64
	}{
		{"lvs_cluster_enabled", nil, 1},
		{"lvs_cluster_healthy", nil, 1},
		{"lvs_cluster_draining", nil, 0},
		{"lvs_bgp_session_up", lbl{"peer": "192.0.2.254", "as": "65000"}, 1},
		{"lvs_bgp_session_up", lbl{"peer": "2001:db8::fe", "as": "4200000001"}, 0},
		{"lvs_bgp_session_state", lbl{"peer": "192.0.2.254", "state": "established"}, 1},
		{"lvs_bgp_session_state", lbl{"peer": "192.0.2.254", "state": "idle"}, 0},
		{"lvs_bgp_session_state", lbl{"peer": "2001:db8::fe", "state": "opensent"}, 1},
		{"lvs_bgp_session_state", lbl{"peer": "2001:db8::fe", "state": "established"}, 0},
		{"lvs_bgp_announced_prefixes", lbl{"peer": "192.0.2.254"}, 1},
		{"lvs_bgp_announced_prefixes", lbl{"peer": "2001:db8::fe"}, 0},
		{"lvs_cluster_announced", lbl{"prefix": "192.0.2.10/32"}, 1},
		{"lvs_cluster_announced", lbl{"prefix": "192.0.2.11/32"}, 0},
		{"lvs_cluster_director_reachable", lbl{"director": "192.0.2.1"}, 1},
		{"lvs_cluster_director_reachable", lbl{"director": "192.0.2.2"}, 1},
		{"lvs_cluster_director_reachable", lbl{"director": "192.0.2.3"}, 0},
		{"lvs_cluster_director_serial", lbl{"director": "192.0.2.1"}, 7},
		{"lvs_cluster_director_serial", lbl{"director": "192.0.2.2"}, 6},
		{"lvs_cluster_director_healthy", lbl{"director": "192.0.2.2"}, 1},
		{"lvs_cluster_director_announced_prefixes", lbl{"director": "192.0.2.1"}, 1},
		{"lvs_cluster_director_announced_prefixes", lbl{"director": "192.0.2.2"}, 2},
	} {
		got, typ, ok := sample(fams, m.name, m.labels)
		if !ok || typ != dto.MetricType_GAUGE || got != m.want {
			t.Errorf("%s%v = %v (%v, %v), want the gauge at %v", m.name, m.labels, got, ok, typ, m.want)
		}
	}
	if _, _, ok := sample(fams, "lvs_cluster_director_serial", lbl{"director": "192.0.2.3"}); ok {
		t.Error("a serial is exported for a director not heard")
	}
	if n := len(fams["lvs_bgp_session_state"].GetMetric()); n != 12 {
		t.Errorf("lvs_bgp_session_state has %d series, want 6 states of 2 sessions", n)
	}
}

// TestAPIStatusCluster: GET /api/v1/status has a "cluster" object in
// cluster mode only: this director's announcements, withheld VIPs and
// sessions (hold times in seconds), and every director; openapi.yaml
// describes exactly its keys.
func TestAPIStatusCluster(t *testing.T) {
	e := newEnv(t, true)
	api := e.api(t, nil, e.token(t, "admin"))
	if s := obj(t, api.expect(http.StatusOK, "GET", "/status", nil)); s["cluster"] != nil {
		t.Errorf("without a ClusterSource: cluster = %v", s["cluster"])
	}
	e.console.cluster = fixedCluster(cluster.Status{Serial: 2})
	if s := obj(t, api.expect(http.StatusOK, "GET", "/status", nil)); s["cluster"] != nil {
		t.Errorf("cluster mode off: cluster = %v", s["cluster"])
	}
	at := time.Now().UTC().Truncate(time.Second)
	e.console.cluster = fixedCluster(threeDirectors(at))
	var got struct {
		Cluster *apiCluster `json:"cluster"`
	}
	if err := json.Unmarshal([]byte(api.expect(http.StatusOK, "GET", "/status", nil).body), &got); err != nil {
		t.Fatal(err)
	}
	cl := got.Cluster
	if cl == nil || !cl.Enabled || cl.Self != "192.0.2.1" || cl.Serial != 7 || !slices.Equal(cl.Announced, []string{"192.0.2.10/32"}) ||
		len(cl.Withheld) != 1 || cl.Withheld[0] != (apiClusterWithheld{"192.0.2.11/32", "no real server up"}) ||
		len(cl.Sessions) != 1 || cl.Sessions[0].HoldTime != 9 || cl.Sessions[0].State != "established" || !cl.At.Equal(at) {
		t.Fatalf("cluster = %+v", cl)
	}
	if len(cl.Directors) != 3 || cl.Directors[1].Address != "192.0.2.2" || cl.Directors[1].Serial != 6 || !cl.Directors[1].Draining ||
		len(cl.Directors[1].Announced) != 2 || cl.Directors[2].Reachable || cl.Directors[2].Err != "connection refused" ||
		cl.Directors[0].Traffic.ActiveConns != 1200 {
		t.Errorf("directors = %+v", cl.Directors)
	}

	spec, err := static.FS.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	schemas := openAPIProperties(t, spec)
	for name, v := range map[string]any{"BGPSession": apiBGPSession{}, "ClusterTraffic": cluster.Traffic{}} {
		if keys, want := slices.Sorted(maps.Keys(schemas[name])), jsonKeysOf(v); !slices.Equal(keys, want) {
			t.Errorf("openapi.yaml's %s has %v, the API %v", name, keys, want)
		}
	}
	lines := strings.Split(string(spec), "\n")
	// props is the keys of the properties of the object whose line is the
	// first one after from equal to at (indent spaces, key, colon).
	props := func(from, indent int, key string) (int, []string) {
		t.Helper()
		at := slices.Index(lines[from:], strings.Repeat(" ", indent)+key+":")
		if at < 0 {
			t.Fatalf("openapi.yaml has no %s: at indent %d after line %d", key, indent, from)
		}
		at += from
		pad := strings.Repeat(" ", indent+4)
		var keys []string
		for _, l := range lines[at+1:] {
			if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, strings.Repeat(" ", indent+1)) {
				break
			}
			if strings.HasPrefix(l, pad) && len(l) > len(pad) && l[len(pad)] != ' ' {
				k, _, _ := strings.Cut(strings.TrimPrefix(l, pad), ":")
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		return at, keys
	}
	status, _ := props(0, 4, "Status")
	at0, keys := props(status, 8, "cluster")
	if want := jsonKeysOf(apiCluster{}); !slices.Equal(keys, want) {
		t.Errorf("openapi.yaml's status cluster has %v, the API %v", keys, want)
	}
	w, _ := props(at0, 12, "withheld")
	_, keys = props(w, 14, "items")
	if want := jsonKeysOf(apiClusterWithheld{}); !slices.Equal(keys, want) {
		t.Errorf("openapi.yaml's status cluster withheld has %v, the API %v", keys, want)
	}
	d, _ := props(at0, 12, "directors")
	_, keys = props(d, 14, "items")
	if want := jsonKeysOf(apiClusterDirector{}); !slices.Equal(keys, want) {
		t.Errorf("openapi.yaml's status cluster directors has %v, the API %v", keys, want)
	}
}

// jsonKeysOf is the JSON keys of struct v's fields, sorted.
func jsonKeysOf(v any) []string {
	var keys []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		k, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
