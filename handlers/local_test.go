package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
)

// TestLocalTableRoundTrip: a table survives JSON whole, so status prints
// through serve exactly what ipvsadm would (64-bit counters, flags, IPv6,
// firewall marks, every forwarding method).
func TestLocalTableRoundTrip(t *testing.T) {
	in := &engine.Table{
		Timeouts: ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second},
		Services: []*engine.Service{
			{
				Service: ipvs.Service{
					ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80},
					Scheduler:  "sh", Flags: ipvs.FlagPersistent | ipvs.FlagSched1, Timeout: 300, Netmask: 0xffffff00, PEName: "sip",
					Stats: ipvs.Stats{Conns: 1<<63 + 1, InPkts: 2, OutPkts: 3, InBytes: 4, OutBytes: 5, CPS: 6, InPPS: 7, OutPPS: 8, InBPS: 9, OutBPS: 10},
				},
				Virtual: "www",
				Dests: []ipvs.Destination{
					{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Family: ipvs.FamilyIPv4, Forward: ipvs.Masquerade, Weight: 1, UpperThreshold: 100, LowerThreshold: 10,
						ActiveConns: 1, InactiveConns: 2, PersistConns: 3, Stats: ipvs.Stats{Conns: 11, InBytes: 1 << 40}},
					{Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080, Family: ipvs.FamilyIPv4, Forward: ipvs.Tunnel, Weight: 0},
					{Addr: netip.MustParseAddr("10.0.0.3"), Port: 80, Family: ipvs.FamilyIPv4, Forward: ipvs.DirectRoute, Weight: 5},
					{Addr: netip.MustParseAddr("10.0.0.4"), Port: 80, Family: ipvs.FamilyIPv4, Forward: ipvs.LocalNode, Weight: 5},
					{Addr: netip.MustParseAddr("10.0.0.5"), Port: 80, Family: ipvs.FamilyIPv4, Forward: ipvs.Forward(9), Weight: 5},
				},
			},
			{Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6, FWMark: 5}, Scheduler: "rr", Netmask: 128}},
			{Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.FamilyIPv6, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53}, Scheduler: "wrr", Netmask: 128},
				Dests: []ipvs.Destination{{Addr: netip.MustParseAddr("2001:db8::2"), Port: 53, Family: ipvs.FamilyIPv6, Forward: ipvs.DirectRoute, Weight: 1}}},
		},
	}
	b, err := json.Marshal(LocalStatus{Engine: &engine.Status{Kernel: in}})
	if err != nil {
		t.Fatal(err)
	}
	var st LocalStatus
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	out := st.Engine.Kernel
	var want, got strings.Builder
	in.WriteText(&want, ipvs.Info{}, engine.TextStats)
	out.WriteText(&got, ipvs.Info{}, engine.TextStats)
	if !reflect.DeepEqual(in, out) {
		t.Errorf("the table changed through JSON:\n%s\nwas\n%s\n%s", got.String(), want.String(), b)
	}
	if st.Engine.Desired != nil {
		t.Error("a nil table did not stay nil")
	}
}

// TestLocalStatus: GET /status answers the engine's and failover's state
// in JSON, with the kernel's services named after their virtual servers
// and the peer's heartbeat age computed by the server; other methods and
// paths are refused.
func TestLocalStatus(t *testing.T) {
	e := newEnv(t, true)
	cfg := e.seed(t)
	now := time.Now()
	www := ipvs.ServiceKey{Family: ipvs.FamilyIPv4, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80}
	fo := failover.Status{Pair: true, Role: failover.Standby, Serial: cfg.Serial, VIPs: nil}
	fo.Pulse.Peer = pulse.PeerStatus{Addr: netip.MustParseAddr("192.0.2.2"), Role: pulse.Active, Serial: cfg.Serial, Heard: true, LastHeard: now.Add(-2 * time.Second)}
	h := NewLocal(LocalOptions{
		Store: e.store,
		Engine: fixedStatus(engine.Status{Running: true, Available: true, Serial: cfg.Serial,
			Desired: &engine.Table{Services: []*engine.Service{{Service: ipvs.Service{ServiceKey: www}, Virtual: "www"}}},
			Kernel:  &engine.Table{Services: []*engine.Service{{Service: ipvs.Service{ServiceKey: www, Scheduler: "wlc"}}}}}),
		Failover: fixedFailover(fo),
		Now:      func() time.Time { return now },
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := srv.Client()
	a := get(t, c, srv.URL+"/status")
	if a.code != http.StatusOK || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /status = %d %s", a.code, a.body)
	}
	var st LocalStatus
	if err := json.Unmarshal([]byte(a.body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Serial != cfg.Serial || st.Engine == nil || !st.Engine.Available || st.IPVS != nil {
		t.Errorf("status %+v", st)
	}
	if k := st.Engine.Kernel; k == nil || len(k.Services) != 1 || k.Services[0].Virtual != "www" || k.Services[0].ServiceKey != www {
		t.Errorf("kernel table %+v, want TCP 192.0.2.10:80 named www", st.Engine.Kernel)
	}
	f := st.Failover
	if f == nil || f.Role != failover.Standby || f.Pulse.Peer.Role != pulse.Active {
		t.Fatalf("failover %+v", f)
	}
	// The peer's heartbeat age, by serve's clock.
	if ago := st.Time.Sub(f.Pulse.Peer.LastHeard); ago != 2*time.Second {
		t.Errorf("the peer was heard %v before the answer, want 2s", ago)
	}
	if a := post(t, c, srv.URL+"/status", nil); a.code != http.StatusMethodNotAllowed {
		t.Errorf("POST /status = %d", a.code)
	}
	if a := get(t, c, srv.URL+"/control"); a.code != http.StatusNotFound {
		t.Errorf("GET /control on the local API = %d", a.code)
	}

	// Without engine and failover (a bare console), it still answers.
	srv2 := httptest.NewServer(NewLocal(LocalOptions{Store: e.store}))
	defer srv2.Close()
	a = get(t, srv2.Client(), srv2.URL+"/status")
	if a.code != http.StatusOK || strings.Contains(a.body, `"engine"`) || strings.Contains(a.body, `"failover"`) {
		t.Errorf("bare GET /status = %d %s", a.code, a.body)
	}
}
