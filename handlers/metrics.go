package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lvsconsole/lvsconsole/lvs/cluster"
	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// metrics serves /metrics in Prometheus' text format. Like every route it
// needs a login (or, for scrapers, an API token): the table names the real
// servers and their load.
func (c *Console) metrics(w http.ResponseWriter, r *http.Request) {
	c.scrape.ServeHTTP(w, r)
}

// scrapeTimeout bounds one collection: Collect gets no context from
// client_golang, and the store must not hold a scrape forever.
const scrapeTimeout = 10 * time.Second

// newMetricsHandler returns the /metrics handler over a registry of the
// console's own: several consoles in one process (tests) do not share one.
func (c *Console) newMetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newLVSCollector(c),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: promLogger{c.log},
		// A metric that cannot be made (a label clash) must not hide all
		// the others.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             scrapeTimeout,
	})
}

// promLogger hands client_golang's errors to slog.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Error("serving /metrics", "err", fmt.Sprint(v...)) }

// lvsCollector reads the console's sources at each scrape, so the numbers
// are those of the moment and nothing is kept between scrapes. The
// kernel's counters are exported as counters (they only grow, and restart
// from zero when a service is recreated, which Prometheus handles as a
// reset).
type lvsCollector struct {
	c *Console

	// Per IPVS service; labels service, virtual.
	svcConns, svcPackets, svcBytes *prometheus.Desc
	svcCPS, svcPPS, svcBPS         *prometheus.Desc
	// Per destination; labels service, virtual, destination.
	dstConns, dstPackets, dstBytes     *prometheus.Desc
	dstCPS, dstPPS, dstBPS             *prometheus.Desc
	dstActive, dstInactive, dstPersist *prometheus.Desc
	dstWeight                          *prometheus.Desc
	// Per configured destination of a checked real server, beside
	// dstWeight with its labels: the configured weight, and the load
	// monitor's (issue 18).
	dstConfigured, dstLoadWeight *prometheus.Desc

	// Per configured real server; labels virtual, real, destination.
	realUp, realState, realLatency *prometheus.Desc

	// Engine.
	engineUp, ipvsAvailable, reconcileErrors, appliedSerial, lastReconcile, sampled *prometheus.Desc

	// Configuration and failover.
	configSerial, peerSerial                       *prometheus.Desc
	haPair, haRole, haPeerAlive, haPeerAge, haVIPs *prometheus.Desc
	haSent, haReceived, haRefused                  *prometheus.Desc

	// Cluster mode (issue 19): this director's BGP sessions, by peer;
	// what it announces; the other directors as last heard.
	bgpUp, bgpState, bgpPrefixes                      *prometheus.Desc
	clusterEnabled, clusterHealthy, clusterDraining   *prometheus.Desc
	clusterAnnounced                                  *prometheus.Desc
	dirReachable, dirSerial, dirHealthy, dirAnnounced *prometheus.Desc
}

func newLVSCollector(c *Console) *lvsCollector {
	svc := []string{"service", "virtual"}
	dst := []string{"service", "virtual", "destination"}
	dir := func(l []string) []string { return append(append([]string(nil), l...), "direction") }
	rsl := []string{"virtual", "real", "destination"}
	d := prometheus.NewDesc
	return &lvsCollector{
		c: c,

		svcConns:   d("lvs_service_connections_total", "Connections the IPVS service has scheduled (kernel counter).", svc, nil),
		svcPackets: d("lvs_service_packets_total", "Packets through the IPVS service, by direction (in: from clients, out: to clients).", dir(svc), nil),
		svcBytes:   d("lvs_service_bytes_total", "Bytes through the IPVS service, by direction.", dir(svc), nil),
		svcCPS:     d("lvs_service_connections_per_second", "New connections per second to the IPVS service (the kernel's estimator, about 2 s average).", svc, nil),
		svcPPS:     d("lvs_service_packets_per_second", "Packets per second through the IPVS service, by direction (kernel estimator).", dir(svc), nil),
		svcBPS:     d("lvs_service_bytes_per_second", "Bytes per second through the IPVS service, by direction (kernel estimator).", dir(svc), nil),

		dstConns:    d("lvs_destination_connections_total", "Connections IPVS has scheduled to the destination (kernel counter).", dst, nil),
		dstPackets:  d("lvs_destination_packets_total", "Packets to and from the destination, by direction.", dir(dst), nil),
		dstBytes:    d("lvs_destination_bytes_total", "Bytes to and from the destination, by direction.", dir(dst), nil),
		dstCPS:      d("lvs_destination_connections_per_second", "New connections per second to the destination (kernel estimator).", dst, nil),
		dstPPS:      d("lvs_destination_packets_per_second", "Packets per second to and from the destination, by direction (kernel estimator).", dir(dst), nil),
		dstBPS:      d("lvs_destination_bytes_per_second", "Bytes per second to and from the destination, by direction (kernel estimator).", dir(dst), nil),
		dstActive:   d("lvs_destination_active_connections", "Established connections to the destination (ipvsadm's ActiveConn).", dst, nil),
		dstInactive: d("lvs_destination_inactive_connections", "Other connections to the destination (ipvsadm's InActConn).", dst, nil),
		dstPersist:  d("lvs_destination_persistent_connections", "Persistence templates pointing at the destination.", dst, nil),
		dstWeight:   d("lvs_destination_weight", "The destination's weight in IPVS (0: no new connections).", dst, nil),

		dstConfigured: d("lvs_destination_configured_weight", "The real server's configured weight, which the checks and the load monitor start from.", dst, nil),
		dstLoadWeight: d("lvs_destination_load_weight", "The weight the virtual server's load monitor gives the real server (before a slow start and the checks); absent without a load monitor.", dst, nil),

		realUp:      d("lvs_real_server_up", "1 when the real server's health check passes, 0 when it fails or has not run yet.", rsl, nil),
		realState:   d("lvs_real_server_state", "The real server's health state: 1 for the current one of up, down, unknown.", append(rsl, "state"), nil),
		realLatency: d("lvs_real_server_check_latency_seconds", "How long the real server's last health check took.", rsl, nil),

		engineUp:        d("lvs_engine_up", "1 when the IPVS engine runs in this process.", nil, nil),
		ipvsAvailable:   d("lvs_ipvs_available", "1 when the engine can reach the kernel's IPVS.", nil, nil),
		reconcileErrors: d("lvs_reconcile_errors", "Changes that failed in the engine's last reconcile.", nil, nil),
		appliedSerial:   d("lvs_engine_applied_serial", "The configuration serial the engine last applied.", nil, nil),
		lastReconcile:   d("lvs_engine_last_reconcile_timestamp_seconds", "When the engine last reconciled, as a Unix time.", nil, nil),
		sampled:         d("lvs_ipvs_sampled_timestamp_seconds", "When the IPVS counters exported here were read from the kernel, as a Unix time.", nil, nil),

		configSerial: d("lvs_config_serial", "The serial of this director's accepted configuration.", nil, nil),
		peerSerial:   d("lvs_peer_config_serial", "The configuration serial the peer director last announced.", nil, nil),
		haPair:       d("lvs_ha_pair", "1 when a backup director is configured with heartbeats (a pair).", nil, nil),
		haRole:       d("lvs_ha_role", "This director's role: 1 for the current one of active, standby, starting, cluster.", []string{"role"}, nil),
		haPeerAlive:  d("lvs_ha_peer_alive", "1 while the peer's heartbeats arrive within the dead time.", nil, nil),
		haPeerAge:    d("lvs_ha_peer_heartbeat_age_seconds", "Time since the peer's last valid heartbeat.", nil, nil),
		haVIPs:       d("lvs_ha_virtual_addresses", "Virtual IP addresses this director has up.", nil, nil),
		haSent:       d("lvs_ha_heartbeats_sent_total", "Heartbeat datagrams sent (one per peer address per heartbeat).", nil, nil),
		haReceived:   d("lvs_ha_heartbeats_received_total", "Heartbeats accepted from the peer.", nil, nil),
		haRefused:    d("lvs_ha_heartbeats_refused_total", "Heartbeat datagrams dropped, by reason (duplicate is normal with two heartbeat paths).", []string{"reason"}, nil),

		bgpUp:            d("lvs_bgp_session_up", "1 while the BGP session with the router is established.", []string{"peer", "as"}, nil),
		bgpState:         d("lvs_bgp_session_state", "The BGP session's state: 1 for the current one of idle, connect, active, opensent, openconfirm, established.", []string{"peer", "state"}, nil),
		bgpPrefixes:      d("lvs_bgp_announced_prefixes", "Prefixes this director announces on the BGP session.", []string{"peer"}, nil),
		clusterEnabled:   d("lvs_cluster_enabled", "1 when the configuration is in cluster mode.", nil, nil),
		clusterHealthy:   d("lvs_cluster_healthy", "1 while this director may announce: its engine reconciled the last configuration.", nil, nil),
		clusterDraining:  d("lvs_cluster_draining", "1 while this director drains on a clean stop (GRACEFUL_SHUTDOWN sent).", nil, nil),
		clusterAnnounced: d("lvs_cluster_announced", "1 for a VIP's host route this director announces, 0 for one it withholds (a VIP of an active virtual server).", []string{"prefix"}, nil),
		dirReachable:     d("lvs_cluster_director_reachable", "1 when the director of the cluster answered this one's last status request (this director: 1).", []string{"director"}, nil),
		dirSerial:        d("lvs_cluster_director_serial", "The configuration serial of the director, as last heard.", []string{"director"}, nil),
		dirHealthy:       d("lvs_cluster_director_healthy", "1 when the director, as last heard, was healthy (its engine reconciled the last configuration).", []string{"director"}, nil),
		dirAnnounced:     d("lvs_cluster_director_announced_prefixes", "Host routes the director announces, as last heard.", []string{"director"}, nil),
	}
}

// Describe sends every descriptor, so the registry checks what Collect
// sends against them.
func (m *lvsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		m.svcConns, m.svcPackets, m.svcBytes, m.svcCPS, m.svcPPS, m.svcBPS,
		m.dstConns, m.dstPackets, m.dstBytes, m.dstCPS, m.dstPPS, m.dstBPS,
		m.dstActive, m.dstInactive, m.dstPersist, m.dstWeight, m.dstConfigured, m.dstLoadWeight,
		m.realUp, m.realState, m.realLatency,
		m.engineUp, m.ipvsAvailable, m.reconcileErrors, m.appliedSerial, m.lastReconcile, m.sampled,
		m.configSerial, m.peerSerial, m.haPair, m.haRole, m.haPeerAlive, m.haPeerAge, m.haVIPs,
		m.haSent, m.haReceived, m.haRefused,
		m.bgpUp, m.bgpState, m.bgpPrefixes, m.clusterEnabled, m.clusterHealthy, m.clusterDraining, m.clusterAnnounced,
		m.dirReachable, m.dirSerial, m.dirHealthy, m.dirAnnounced,
	} {
		ch <- d
	}
}

func (m *lvsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	m.collectEngine(ch)
	m.collectHealth(ctx, ch)
	m.collectFailover(ctx, ch)
	m.collectCluster(ch)
}

// emit sends a metric; NewConstMetric fails only on a label count that
// does not match its Desc, a bug that the registry then reports.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	metric, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		metric = prometheus.NewInvalidMetric(d, err)
	}
	ch <- metric
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (m *lvsCollector) collectEngine(ch chan<- prometheus.Metric) {
	if m.c.engine == nil {
		emit(ch, m.engineUp, prometheus.GaugeValue, 0)
		return
	}
	st := m.c.engine.Status()
	emit(ch, m.engineUp, prometheus.GaugeValue, b2f(st.Running))
	emit(ch, m.ipvsAvailable, prometheus.GaugeValue, b2f(st.Available))
	emit(ch, m.reconcileErrors, prometheus.GaugeValue, float64(len(st.Errors)))
	emit(ch, m.appliedSerial, prometheus.GaugeValue, float64(st.Serial))
	if !st.LastRun.IsZero() {
		emit(ch, m.lastReconcile, prometheus.GaugeValue, unixSeconds(st.LastRun))
	}
	// Only the kernel's table has counters; the desired one would export
	// zeros that look like a reset.
	if !st.Available || st.Kernel == nil {
		return
	}
	if !st.Sampled.IsZero() {
		emit(ch, m.sampled, prometheus.GaugeValue, unixSeconds(st.Sampled))
	}
	names := virtualNames(st)
	for _, s := range st.Kernel.Services {
		svc := s.ServiceKey.String()
		virtual := names[s.ServiceKey]
		if virtual == "" {
			virtual = s.Virtual
		}
		m.collectStats(ch, &s.Stats, m.svcConns, m.svcPackets, m.svcBytes, m.svcCPS, m.svcPPS, m.svcBPS, svc, virtual)
		for i := range s.Dests {
			d := &s.Dests[i]
			dest := engine.AddrPort(d.Addr, d.Port)
			m.collectStats(ch, &d.Stats, m.dstConns, m.dstPackets, m.dstBytes, m.dstCPS, m.dstPPS, m.dstBPS, svc, virtual, dest)
			emit(ch, m.dstActive, prometheus.GaugeValue, float64(d.ActiveConns), svc, virtual, dest)
			emit(ch, m.dstInactive, prometheus.GaugeValue, float64(d.InactiveConns), svc, virtual, dest)
			emit(ch, m.dstPersist, prometheus.GaugeValue, float64(d.PersistConns), svc, virtual, dest)
			emit(ch, m.dstWeight, prometheus.GaugeValue, float64(d.Weight), svc, virtual, dest)
		}
	}
}

// virtualNames maps the services the configuration asks for to their
// virtual servers' names: the kernel's table does not know them.
func virtualNames(st engine.Status) map[ipvs.ServiceKey]string {
	names := map[ipvs.ServiceKey]string{}
	if st.Desired != nil {
		for _, s := range st.Desired.Services {
			names[s.ServiceKey] = s.Virtual
		}
	}
	return names
}

func (m *lvsCollector) collectStats(ch chan<- prometheus.Metric, st *ipvs.Stats, conns, packets, bytes, cps, pps, bps *prometheus.Desc, labels ...string) {
	in := append(append([]string(nil), labels...), "in")
	out := append(append([]string(nil), labels...), "out")
	emit(ch, conns, prometheus.CounterValue, float64(st.Conns), labels...)
	emit(ch, packets, prometheus.CounterValue, float64(st.InPkts), in...)
	emit(ch, packets, prometheus.CounterValue, float64(st.OutPkts), out...)
	emit(ch, bytes, prometheus.CounterValue, float64(st.InBytes), in...)
	emit(ch, bytes, prometheus.CounterValue, float64(st.OutBytes), out...)
	emit(ch, cps, prometheus.GaugeValue, float64(st.CPS), labels...)
	emit(ch, pps, prometheus.GaugeValue, float64(st.InPPS), in...)
	emit(ch, pps, prometheus.GaugeValue, float64(st.OutPPS), out...)
	emit(ch, bps, prometheus.GaugeValue, float64(st.InBPS), in...)
	emit(ch, bps, prometheus.GaugeValue, float64(st.OutBPS), out...)
}

// checkLatency is a HealthSource that also knows how long each real
// server's last check took.
type checkLatency interface {
	Latency(vs *config.VirtualServer, rs *config.RealServer) (time.Duration, bool)
}

// healthStates are the values of lvs_real_server_state's state label.
var healthStates = [...]string{"up", "down", "unknown"}

func (m *lvsCollector) collectHealth(ctx context.Context, ch chan<- prometheus.Metric) {
	if m.c.health == nil {
		return
	}
	cfg, err := m.c.store.SharedConfig(ctx) // read only
	if err != nil {
		m.c.log.Error("metrics: reading the configuration", "err", err)
		ch <- prometheus.NewInvalidMetric(m.realUp, fmt.Errorf("reading the configuration: %w", err))
		return
	}
	lat, _ := m.c.health.(checkLatency)
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			h, ok := m.c.health.Of(vs, rs)
			if !ok {
				continue // not checked: inactive
			}
			labels := []string{vs.Name, rs.Name, engine.AddrPort(rs.Address, uint16(rs.EffectivePort(vs)))}
			emit(ch, m.realUp, prometheus.GaugeValue, b2f(h.State == "up"), labels...)
			for _, s := range healthStates {
				emit(ch, m.realState, prometheus.GaugeValue, b2f(h.State == s), append(labels, s)...)
			}
			// Labelled as lvs_destination_weight, to compare with it.
			sk, dk := engine.Where(vs, rs)
			dst := []string{sk.String(), vs.Name, engine.AddrPort(dk.Addr, dk.Port)}
			emit(ch, m.dstConfigured, prometheus.GaugeValue, float64(rs.Weight), dst...)
			if h.Load != nil {
				emit(ch, m.dstLoadWeight, prometheus.GaugeValue, float64(h.Load.Weight), dst...)
			}
			if lat != nil {
				if d, ok := lat.Latency(vs, rs); ok {
					emit(ch, m.realLatency, prometheus.GaugeValue, d.Seconds(), labels...)
				}
			}
		}
	}
}

// haRoles are the values of lvs_ha_role's role label.
var haRoles = [...]failover.Role{failover.Active, failover.Standby, failover.Starting, failover.Cluster}

func (m *lvsCollector) collectFailover(ctx context.Context, ch chan<- prometheus.Metric) {
	if serial, err := m.c.store.Serial(ctx); err != nil {
		m.c.log.Error("metrics: reading the configuration serial", "err", err)
		ch <- prometheus.NewInvalidMetric(m.configSerial, fmt.Errorf("reading the configuration serial: %w", err))
	} else {
		emit(ch, m.configSerial, prometheus.GaugeValue, float64(serial))
	}
	if m.c.failover == nil {
		return
	}
	st := m.c.failover.Status()
	emit(ch, m.haPair, prometheus.GaugeValue, b2f(st.Pair))
	for _, r := range haRoles {
		emit(ch, m.haRole, prometheus.GaugeValue, b2f(st.Role == r), string(r))
	}
	emit(ch, m.haVIPs, prometheus.GaugeValue, float64(len(st.VIPs)))
	if !st.Pair {
		return
	}
	peer := st.Pulse.Peer
	emit(ch, m.haPeerAlive, prometheus.GaugeValue, b2f(peer.Heard))
	if !peer.LastHeard.IsZero() {
		emit(ch, m.haPeerAge, prometheus.GaugeValue, m.c.now().Sub(peer.LastHeard).Seconds())
		emit(ch, m.peerSerial, prometheus.GaugeValue, float64(peer.Serial))
	}
	k := st.Pulse.Counters
	emit(ch, m.haSent, prometheus.CounterValue, float64(k.Sent))
	emit(ch, m.haReceived, prometheus.CounterValue, float64(k.Received))
	for _, r := range []struct {
		reason string
		n      uint64
	}{
		{"malformed", k.Malformed}, {"unknown_source", k.UnknownSource}, {"bad_auth", k.BadAuth},
		{"replayed", k.Replayed}, {"stale", k.Stale}, {"duplicate", k.Duplicate},
	} {
		emit(ch, m.haRefused, prometheus.CounterValue, float64(r.n), r.reason)
	}
}

// bgpStates are the values of lvs_bgp_session_state's state label.
var bgpStates = [...]string{"idle", "connect", "active", "opensent", "openconfirm", "established"}

func (m *lvsCollector) collectCluster(ch chan<- prometheus.Metric) {
	if m.c.cluster == nil {
		return
	}
	st := m.c.cluster.Status()
	emit(ch, m.clusterEnabled, prometheus.GaugeValue, b2f(st.Enabled))
	if !st.Enabled {
		return
	}
	emit(ch, m.clusterHealthy, prometheus.GaugeValue, b2f(st.Healthy))
	emit(ch, m.clusterDraining, prometheus.GaugeValue, b2f(st.Draining))
	// One series per label set: a registry refuses duplicates, which a
	// status listing a prefix or a peer twice would make.
	seen := map[string]bool{}
	once := func(k string) bool {
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	for _, p := range st.Announced {
		if once("a" + p.String()) {
			emit(ch, m.clusterAnnounced, prometheus.GaugeValue, 1, p.String())
		}
	}
	for _, w := range st.Withheld {
		if once("a" + w.Prefix.String()) {
			emit(ch, m.clusterAnnounced, prometheus.GaugeValue, 0, w.Prefix.String())
		}
	}
	for _, s := range st.Sessions {
		peer := addrString(s.Peer)
		if !once("s" + peer) {
			continue
		}
		emit(ch, m.bgpUp, prometheus.GaugeValue, b2f(s.State == "established"), peer, strconv.FormatUint(uint64(s.AS), 10))
		for _, state := range bgpStates {
			emit(ch, m.bgpState, prometheus.GaugeValue, b2f(s.State == state), peer, state)
		}
		emit(ch, m.bgpPrefixes, prometheus.GaugeValue, float64(s.Announced), peer)
	}
	ds := st.Directors
	if !slices.ContainsFunc(ds, func(d cluster.Director) bool { return d.Self }) {
		ds = append([]cluster.Director{selfDirector(st)}, ds...)
	}
	for _, d := range ds {
		addr := addrString(d.Addr)
		if addr == "" || !once("d"+addr) {
			continue // this host is none of the list: nothing to name it by
		}
		reachable := d.Reachable || d.Self
		emit(ch, m.dirReachable, prometheus.GaugeValue, b2f(reachable), addr)
		if !reachable {
			continue // what it last said may be long gone
		}
		emit(ch, m.dirSerial, prometheus.GaugeValue, float64(d.Serial), addr)
		emit(ch, m.dirHealthy, prometheus.GaugeValue, b2f(d.Healthy), addr)
		emit(ch, m.dirAnnounced, prometheus.GaugeValue, float64(len(d.Announced)), addr)
	}
}
