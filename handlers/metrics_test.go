package handlers

import (
	"math"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
)

// scrape fetches /metrics with c and parses it as Prometheus would.
func scrape(t *testing.T, e *testEnv, c *http.Client) map[string]*dto.MetricFamily {
	t.Helper()
	a := get(t, c, e.srv.URL+"/metrics")
	if a.code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", a.code, a.body)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(a.body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, a.body)
	}
	return fams
}

// sample returns the value of the sample of family name whose labels
// include want, and whether there is one.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, dto.MetricType, bool) {
	f := fams[name]
	if f == nil {
		return 0, 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), f.GetType(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), f.GetType(), true
		}
		return m.GetUntyped().GetValue(), f.GetType(), true
	}
	return 0, f.GetType(), false
}

type lbl = map[string]string

// latencyHealth is a HealthSource that knows check latencies, as
// *engine.Checks would: web1 is up, any other down.
type latencyHealth struct{}

func (latencyHealth) Of(vs *config.VirtualServer, rs *config.RealServer) (engine.ServerHealth, bool) {
	if rs.Name == "web1" {
		return engine.ServerHealth{State: "up", Since: time.Now()}, true
	}
	return engine.ServerHealth{State: "down", Reason: "connect refused", Since: time.Now()}, true
}

func (latencyHealth) Events(int) []engine.Event { return nil }

func (latencyHealth) Latency(vs *config.VirtualServer, rs *config.RealServer) (time.Duration, bool) {
	return 1500 * time.Microsecond, true
}

// TestMetrics: /metrics exports the kernel's table with its 64-bit
// counters as counters, the rates and connections as gauges, named after
// their virtual servers; each real server's health; the engine's state;
// and the pair's state from failover, all with the values the sources
// hold at the scrape.
func TestMetrics(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	www := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}
	fwm := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, FWMark: 5}
	const big = 1<<40 + 7 // beyond 32 bits: the kernel's counters are 64-bit
	kernel := &engine.Table{Services: []*engine.Service{
		{
			Service: ipvs.Service{ServiceKey: www, Scheduler: "wlc",
				Stats: ipvs.Stats{Conns: 1234, InPkts: 10, OutPkts: 20, InBytes: big, OutBytes: 4000, CPS: 3, InPPS: 4, OutPPS: 5, InBPS: 600, OutBPS: 700}},
			Dests: []ipvs.Destination{{
				Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Forward: ipvs.DirectRoute, Weight: 2,
				ActiveConns: 7, InactiveConns: 8, PersistConns: 1,
				Stats: ipvs.Stats{Conns: 1000, InPkts: 9, OutPkts: 19, InBytes: 99, OutBytes: 199, CPS: 2, InBPS: 50, OutBPS: 60},
			}},
		},
		{Service: ipvs.Service{ServiceKey: fwm, Scheduler: "rr"}, Virtual: "mail"},
	}}
	lastRun := time.Unix(1_800_000_000, 0)
	e.console.engine = fixedStatus(engine.Status{
		Running: true, Available: true, Serial: cfg.Serial, LastRun: lastRun,
		Errors:  []string{"virtual server www: exists in IPVS but was not created by lvsconsole"},
		Desired: &engine.Table{Services: []*engine.Service{{Service: ipvs.Service{ServiceKey: www}, Virtual: "www"}}},
		Kernel:  kernel,
	})
	e.console.health = latencyHealth{}
	now := time.Now()
	fo := failover.Status{Pair: true, Role: failover.Active, Since: now.Add(-time.Minute), Serial: cfg.Serial,
		VIPs: []string{"192.0.2.10/24 on eth0 label eth0:1"}}
	fo.Pulse.Peer = pulse.PeerStatus{Addr: netip.MustParseAddr("192.0.2.2"), Role: pulse.Standby, Serial: 41, Heard: true, LastHeard: now.Add(-1500 * time.Millisecond)}
	fo.Pulse.Counters = pulse.Counters{Sent: 100, Received: 98, Malformed: 4, BadAuth: 3, Replayed: 2, UnknownSource: 1, Duplicate: 50}
	e.console.failover = fixedFailover(fo)

	fams := scrape(t, e, e.login(t))
	svc := lbl{"service": "TCP 192.0.2.10:80", "virtual": "www"}
	dst := lbl{"service": "TCP 192.0.2.10:80", "virtual": "www", "destination": "10.0.0.1:80"}
	with := func(l lbl, k, v string) lbl {
		out := lbl{k: v}
		for a, b := range l {
			out[a] = b
		}
		return out
	}
	for _, c := range []struct {
		name   string
		labels lbl
		typ    dto.MetricType
		want   float64
	}{
		{"lvs_service_connections_total", svc, dto.MetricType_COUNTER, 1234},
		{"lvs_service_packets_total", with(svc, "direction", "in"), dto.MetricType_COUNTER, 10},
		{"lvs_service_packets_total", with(svc, "direction", "out"), dto.MetricType_COUNTER, 20},
		{"lvs_service_bytes_total", with(svc, "direction", "in"), dto.MetricType_COUNTER, big},
		{"lvs_service_bytes_total", with(svc, "direction", "out"), dto.MetricType_COUNTER, 4000},
		{"lvs_service_connections_per_second", svc, dto.MetricType_GAUGE, 3},
		{"lvs_service_packets_per_second", with(svc, "direction", "out"), dto.MetricType_GAUGE, 5},
		{"lvs_service_bytes_per_second", with(svc, "direction", "in"), dto.MetricType_GAUGE, 600},
		{"lvs_service_bytes_per_second", with(svc, "direction", "out"), dto.MetricType_GAUGE, 700},
		{"lvs_service_connections_total", lbl{"service": "FWM 5", "virtual": "mail"}, dto.MetricType_COUNTER, 0},

		{"lvs_destination_connections_total", dst, dto.MetricType_COUNTER, 1000},
		{"lvs_destination_bytes_total", with(dst, "direction", "out"), dto.MetricType_COUNTER, 199},
		{"lvs_destination_packets_total", with(dst, "direction", "in"), dto.MetricType_COUNTER, 9},
		{"lvs_destination_connections_per_second", dst, dto.MetricType_GAUGE, 2},
		{"lvs_destination_bytes_per_second", with(dst, "direction", "in"), dto.MetricType_GAUGE, 50},
		{"lvs_destination_active_connections", dst, dto.MetricType_GAUGE, 7},
		{"lvs_destination_inactive_connections", dst, dto.MetricType_GAUGE, 8},
		{"lvs_destination_persistent_connections", dst, dto.MetricType_GAUGE, 1},
		{"lvs_destination_weight", dst, dto.MetricType_GAUGE, 2},

		{"lvs_real_server_up", lbl{"virtual": "www", "real": "web1", "destination": "10.0.0.1:80"}, dto.MetricType_GAUGE, 1},
		{"lvs_real_server_state", lbl{"virtual": "www", "real": "web1", "state": "up"}, dto.MetricType_GAUGE, 1},
		{"lvs_real_server_state", lbl{"virtual": "www", "real": "web1", "state": "down"}, dto.MetricType_GAUGE, 0},
		{"lvs_real_server_state", lbl{"virtual": "www", "real": "web1", "state": "unknown"}, dto.MetricType_GAUGE, 0},
		{"lvs_real_server_check_latency_seconds", lbl{"real": "web1"}, dto.MetricType_GAUGE, 0.0015},

		{"lvs_engine_up", nil, dto.MetricType_GAUGE, 1},
		{"lvs_ipvs_available", nil, dto.MetricType_GAUGE, 1},
		{"lvs_reconcile_errors", nil, dto.MetricType_GAUGE, 1},
		{"lvs_engine_applied_serial", nil, dto.MetricType_GAUGE, float64(cfg.Serial)},
		{"lvs_engine_last_reconcile_timestamp_seconds", nil, dto.MetricType_GAUGE, 1_800_000_000},

		{"lvs_config_serial", nil, dto.MetricType_GAUGE, float64(cfg.Serial)},
		{"lvs_peer_config_serial", nil, dto.MetricType_GAUGE, 41},
		{"lvs_ha_pair", nil, dto.MetricType_GAUGE, 1},
		{"lvs_ha_role", lbl{"role": "active"}, dto.MetricType_GAUGE, 1},
		{"lvs_ha_role", lbl{"role": "standby"}, dto.MetricType_GAUGE, 0},
		{"lvs_ha_role", lbl{"role": "starting"}, dto.MetricType_GAUGE, 0},
		{"lvs_ha_role", lbl{"role": "cluster"}, dto.MetricType_GAUGE, 0},
		{"lvs_ha_peer_alive", nil, dto.MetricType_GAUGE, 1},
		{"lvs_ha_virtual_addresses", nil, dto.MetricType_GAUGE, 1},
		{"lvs_ha_heartbeats_sent_total", nil, dto.MetricType_COUNTER, 100},
		{"lvs_ha_heartbeats_received_total", nil, dto.MetricType_COUNTER, 98},
		{"lvs_ha_heartbeats_refused_total", lbl{"reason": "bad_auth"}, dto.MetricType_COUNTER, 3},
		{"lvs_ha_heartbeats_refused_total", lbl{"reason": "replayed"}, dto.MetricType_COUNTER, 2},
		{"lvs_ha_heartbeats_refused_total", lbl{"reason": "unknown_source"}, dto.MetricType_COUNTER, 1},
		{"lvs_ha_heartbeats_refused_total", lbl{"reason": "malformed"}, dto.MetricType_COUNTER, 4},
		{"lvs_ha_heartbeats_refused_total", lbl{"reason": "duplicate"}, dto.MetricType_COUNTER, 50},
	} {
		got, typ, ok := sample(fams, c.name, c.labels)
		if !ok {
			t.Errorf("no %s%v", c.name, c.labels)
			continue
		}
		if typ != c.typ {
			t.Errorf("%s is a %v, want a %v", c.name, typ, c.typ)
		}
		if math.Abs(got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The age is the time since the heartbeat at the scrape.
	if age, _, ok := sample(fams, "lvs_ha_peer_heartbeat_age_seconds", nil); !ok || age < 1.5 || age > 60 {
		t.Errorf("lvs_ha_peer_heartbeat_age_seconds = %v (%v), want 1.5 s and a little", age, ok)
	}
	// The metrics follow the sources from one scrape to the next.
	fo.Role = failover.Standby
	e.console.failover = fixedFailover(fo)
	fams = scrape(t, e, e.login(t))
	if v, _, _ := sample(fams, "lvs_ha_role", lbl{"role": "standby"}); v != 1 {
		t.Errorf("after the move to standby, lvs_ha_role{role=standby} = %v", v)
	}
	if v, _, _ := sample(fams, "lvs_ha_role", lbl{"role": "active"}); v != 0 {
		t.Errorf("after the move to standby, lvs_ha_role{role=active} = %v", v)
	}
	if fams["go_goroutines"] == nil || fams["process_start_time_seconds"] == nil {
		t.Error("the Go and process metrics are missing")
	}
}

// TestMetricsWithoutSources: a console without engine, checks or failover
// (lvsconsole serve -failover=false on a kernel without IPVS, or a test)
// still answers, says the engine is not up, and exports nothing it does
// not know, rather than zeros that look like data.
func TestMetricsWithoutSources(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	fams := scrape(t, e, e.login(t))
	if v, _, ok := sample(fams, "lvs_engine_up", nil); !ok || v != 0 {
		t.Errorf("lvs_engine_up = %v (%v), want 0", v, ok)
	}
	if v, _, ok := sample(fams, "lvs_config_serial", nil); !ok || v != float64(cfg.Serial) {
		t.Errorf("lvs_config_serial = %v (%v), want %d", v, ok, cfg.Serial)
	}
	for name := range fams {
		if strings.HasPrefix(name, "lvs_") && name != "lvs_engine_up" && name != "lvs_config_serial" {
			t.Errorf("%s exported without a source", name)
		}
	}

	// An engine without IPVS: its state, but no table counters.
	e.console.engine = fixedStatus(engine.Status{Running: true, Reason: "IPVS is not available in this kernel",
		Desired: engine.Desired(cfg, engine.Configured{})})
	fams = scrape(t, e, e.login(t))
	if v, _, ok := sample(fams, "lvs_ipvs_available", nil); !ok || v != 0 {
		t.Errorf("lvs_ipvs_available = %v (%v), want 0", v, ok)
	}
	if fams["lvs_service_connections_total"] != nil || fams["lvs_destination_weight"] != nil {
		t.Error("the table it would program is exported as if it were the kernel's")
	}
}

// TestMetricsNeedLogin: /metrics is not served without a session: the
// table names the real servers and their load.
func TestMetricsNeedLogin(t *testing.T) {
	e := newEnv(t, true)
	e.seed(t)
	a := get(t, e.client(t), e.srv.URL+"/metrics")
	switch {
	case a.code == http.StatusSeeOther && strings.HasPrefix(a.location, "/login"):
	case a.code == http.StatusUnauthorized:
	default:
		t.Errorf("GET /metrics without a session = %d %q, want 303 to /login or 401", a.code, a.location)
	}
	if strings.Contains(a.body, "lvs_") {
		t.Error("metrics served without a session")
	}
}
