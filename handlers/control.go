package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/doctor"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// StatusSource tells what the engine is doing; *engine.Engine provides it.
// Handlers only read it: they never talk to the kernel.
type StatusSource interface {
	Status() engine.Status
}

// HealthSource tells the state of the health checks; *engine.Checks
// provides it.
type HealthSource interface {
	Of(vs *config.VirtualServer, rs *config.RealServer) (engine.ServerHealth, bool)
	Events(n int) []engine.Event
}

// HistorySource gives the rates of a virtual server ("" for all) over the
// last hour, and the busiest ones; *engine.Engine provides it.
type HistorySource interface {
	History(name string) []engine.Point
	Busiest(n int) []string
}

// Auto update of CONTROL/MONITORING: piranha's default period, and bounds.
const (
	defaultEvery = 10
	maxEvery     = 3600
	// streamLife ends an update stream now and then; the browser
	// reconnects, through the session check again.
	streamLife = 5 * time.Minute
	// chartPoints is how many points a chart of the last hour has.
	chartPoints = 120
	// busiest is how many virtual servers get a chart of their own.
	busiest = 6
	// dashboardServices is how many services of the routing table the
	// dashboard shows; the whole table has a page of its own, in pages.
	dashboardServices = 20
	// dashboardVirtuals is how many virtual servers needing attention the
	// dashboard lists; VIRTUAL SERVERS' search finds the others.
	dashboardVirtuals = 50
	// dashboardLines is how many of the engine's last changes and errors
	// the dashboard lists.
	dashboardLines = 100
)

// refresh reads the auto update switch, ?auto=1 or 0, and its period,
// ?every=N. It is on unless told otherwise; the switch's form sends
// auto=0, then auto=1 when ticked, and the last one counts.
func refresh(r *http.Request) (auto bool, every int) {
	q := r.URL.Query()
	every = defaultEvery
	if n, err := strconv.Atoi(q.Get("every")); err == nil {
		every = min(max(n, 1), maxEvery)
	}
	sw := q["auto"]
	return len(sw) == 0 || sw[len(sw)-1] == "1", every
}

// control is the CONTROL/MONITORING page: the engine's state, failover,
// the IPVS table (live, or the one it would program) with its counters,
// charts, the configured servers and their health, and recent events. It
// updates itself (see controlStream) while auto update is on.
func (c *Console) control(w http.ResponseWriter, r *http.Request) {
	v, err := c.controlView(r.Context())
	if err != nil {
		c.serverError(w, r, "reading the configuration", err)
		return
	}
	v.Auto, v.Every = refresh(r)
	v.Checks = c.directorChecks(r.Context())
	p := c.page(w, r, "Control / monitoring", web.TabControl, v.Serial)
	if v.Auto {
		p.Refresh = v.Every // without JavaScript: a plain reload
	}
	c.render(w, r, http.StatusOK, web.Control(p, v))
}

// controlStream sends the live part of CONTROL/MONITORING as server-sent
// events, one "update" every ?every= seconds, until the client goes or
// streamLife passes. The stream as a whole has no write deadline (the
// wall leaves it without); each event must be written within
// Timeouts.Event, so that a client that stops reading is let go.
func (c *Console) controlStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_, every := refresh(r)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	end := time.NewTimer(streamLife)
	defer end.Stop()
	tick := time.NewTicker(time.Duration(every) * time.Second)
	defer tick.Stop()
	for {
		c.deadline(rc.SetWriteDeadline, time.Now().Add(c.timeouts.Event))
		err := c.writeUpdate(ctx, w)
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("sending a dashboard update", "err", err)
			}
			return // the client went, or reads too slowly
		}
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-end.C:
			return
		case <-tick.C:
		}
	}
}

// writeUpdate writes one server-sent event carrying the live fragment.
func (c *Console) writeUpdate(ctx context.Context, w io.Writer) error {
	v, err := c.controlView(ctx)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, "event: update\ndata: "); err != nil {
		return err
	}
	ev := &eventData{w: w}
	if err := web.ControlLive(v).Render(ctx, ev); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n\n")
	return err
}

// eventData writes the data of a server-sent event: each line break of
// what it is given starts a new "data: " line, so that the fragment is
// streamed without being held whole in memory twice. A line break is CR,
// LF or CRLF, as for the browser's parser: a bare CR left in the data
// would end the line there and drop the rest of it. A CRLF may come split
// over two writes.
type eventData struct {
	w  io.Writer
	cr bool // the last write ended with a CR
}

func (e *eventData) Write(p []byte) (int, error) {
	n := len(p)
	if e.cr && len(p) > 0 && p[0] == '\n' {
		p = p[1:] // the rest of a CRLF
	}
	e.cr = false
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			if _, err := e.w.Write(p); err != nil {
				return 0, err
			}
			break
		}
		if _, err := e.w.Write(p[:i]); err != nil {
			return 0, err
		}
		if _, err := io.WriteString(e.w, "\ndata: "); err != nil {
			return 0, err
		}
		if p[i] == '\r' {
			if i+1 == len(p) {
				e.cr = true
			} else if p[i+1] == '\n' {
				i++
			}
		}
		p = p[i+1:]
	}
	return n, nil
}

// DirectorChecks runs the director's checks (lvs/doctor's, as lvsconsole
// doctor does). It is called on every load of CONTROL/MONITORING: the
// implementation bounds the work (one run at a time, its result kept a
// few seconds).
type DirectorChecks interface {
	Checks(ctx context.Context) []doctor.Result
}

// directorChecks are the checks' rows; none without DirectorChecks.
func (c *Console) directorChecks(ctx context.Context) []web.CheckRow {
	if c.checks == nil {
		return nil
	}
	rs := c.checks.Checks(ctx)
	rows := make([]web.CheckRow, len(rs))
	for i, r := range rs {
		rows[i] = web.CheckRow{Name: r.Name, Status: string(r.Status), Detail: r.Detail, Fix: r.Fix}
	}
	return rows
}

// controlView gathers what CONTROL/MONITORING shows.
func (c *Console) controlView(ctx context.Context) (web.ControlView, error) {
	cfg, err := c.store.SharedConfig(ctx) // read only
	if err != nil {
		return web.ControlView{}, err
	}
	v := web.ControlView{Serial: cfg.Serial, At: c.now()}
	c.engineView(&v)
	v.Failover = c.failoverView()
	v.Cluster = c.clusterView()
	c.hintSecret(ctx, cfg, &v)
	revs, err := c.store.Revisions(ctx, 0, 10)
	if err == nil && len(revs) > 0 {
		row := revisionRow(revs[0], cfg.Serial)
		v.Last = &row
	}
	t := &v.Totals
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		t.Virtuals++
		if vs.Active {
			t.VirtualsActive++
		}
		t.Reals += len(vs.Reals)
		// Only a virtual server that is listed gets its row made.
		listed := len(v.Virtuals) < dashboardVirtuals
		var cv web.ControlVirtual
		attention := false
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if rs.Active {
				t.RealsActive++
			}
			// What the counts need only: the whole row (its texts, a
			// drain's connections) is made for the rows listed.
			row := web.RealRow{Active: rs.Active, Weight: rs.Weight, Draining: rs.Draining && rs.Active}
			if c.health != nil {
				if h, ok := c.health.Of(vs, rs); ok {
					row.Health = h.State
					c.withLoad(&row, vs, rs, h)
				}
			}
			if row.Active {
				switch row.Health {
				case "up":
					t.Up++
				case "down":
					t.Down++
				case "unknown":
					t.Unknown++
				default:
					t.Unchecked++
				}
			}
			show := false
			switch {
			case row.Draining:
				t.Draining++
				show = true // with its connections left
			case row.Health == "up" && (row.Moved() || row.Load != nil && row.Load.Error != ""):
				// Up, at another weight than its own, or its load unread:
				// shown with why.
				t.Moved++
				cv.Up++
				show = true
			case row.Health == "up":
				// Healthy: counted, and in the routing table with its
				// weight and counters; listing it again would double the
				// page.
				cv.Up++
			case c.health != nil && !row.Active:
				// Deactivated on purpose: nothing to look at.
			default:
				show = true
			}
			if show {
				attention = true
				if listed {
					cv.Reals = append(cv.Reals, c.withHealth(realRow(cfg, vs, rs), vs, rs))
				}
			}
		}
		if vs.Active && cv.Up == 0 && c.health != nil {
			attention = true // it serves nothing
		}
		switch {
		case !attention:
		case listed:
			cv.VirtualRow, cv.Service = virtualRow(vs), vs.ServiceString()
			v.Virtuals = append(v.Virtuals, cv)
		default:
			v.VirtualsMore++
		}
	}
	v.Recent = c.recentEvents(revs)
	v.Charts = c.charts()
	return v, nil
}

// recentEvents merges health changes, role changes and configuration
// changes, newest first.
func (c *Console) recentEvents(revs []store.Revision) []web.Event {
	const n = 30
	var evs []web.Event
	if c.health != nil {
		for _, ev := range c.health.Events(n) {
			evs = append(evs, web.Event{When: ev.Time, Kind: "health", Subject: ev.Server, State: ev.To,
				Text: fmt.Sprintf("%s -> %s: %s", ev.From, ev.To, ev.Reason)})
		}
	}
	if c.failover != nil {
		for _, ev := range c.failover.Events(n) {
			evs = append(evs, web.Event{When: ev.When, Kind: "failover", Subject: "this director",
				Text: fmt.Sprintf("%s -> %s: %s", ev.From, ev.To, ev.Reason)})
		}
	}
	for _, rev := range revs {
		evs = append(evs, web.Event{When: rev.Created, Kind: "config", Subject: rev.By(),
			Text: fmt.Sprintf("serial %d: %s", rev.Serial, rev.Summary)})
	}
	slices.SortStableFunc(evs, func(a, b web.Event) int { return b.When.Compare(a.When) })
	return evs[:min(len(evs), n)]
}

// charts draws the last hour of all virtual servers together, then of the
// busiest few.
func (c *Console) charts() []web.Chart {
	hs := c.traffic
	if hs == nil {
		return nil
	}
	all, ok := chartOf(hs, "", "all virtual servers")
	if !ok {
		return nil
	}
	out := []web.Chart{all}
	for _, name := range hs.Busiest(busiest) {
		if ch, ok := chartOf(hs, name, name); ok {
			out = append(out, ch)
		}
	}
	return out
}

// chartOf is the chart of virtual server name (for its REAL SERVER tab),
// or nil before the engine has sampled it.
func (c *Console) chartOf(name string) *web.Chart {
	if c.traffic == nil {
		return nil
	}
	ch, ok := chartOf(c.traffic, name, "last hour")
	if !ok {
		return nil
	}
	return &ch
}

func chartOf(hs HistorySource, name, title string) (web.Chart, bool) {
	pts := hs.History(name)
	if len(pts) == 0 {
		return web.Chart{}, false
	}
	cps, bps := make([]float64, len(pts)), make([]float64, len(pts))
	for i, p := range pts {
		cps[i], bps[i] = p.CPS, p.BPS
	}
	return web.Chart{Name: title, CPS: web.Line(downsample(cps, chartPoints)), BPS: web.Line(downsample(bps, chartPoints))}, true
}

// downsample averages vs into at most n buckets, keeping the newest value
// in the last one.
func downsample(vs []float64, n int) []float64 {
	if len(vs) <= n {
		return vs
	}
	out := make([]float64, n)
	for i := range n {
		lo, hi := i*len(vs)/n, (i+1)*len(vs)/n
		sum := 0.0
		for _, v := range vs[lo:hi] {
			sum += v
		}
		out[i] = sum / float64(hi-lo)
	}
	return out
}

func (c *Console) engineView(v *web.ControlView) {
	if c.engine == nil {
		v.Engine = "the engine is not running in this process"
		return
	}
	st := c.engine.Status()
	v.Applied, v.Changes, v.Errors = st.Serial, st.Changes, st.Errors
	// A first programming of 10,000 services is 110,000 changes: the
	// dashboard shows the first few of each.
	v.ChangesAll, v.ErrorsAll = len(v.Changes), len(v.Errors)
	v.Changes, v.Errors = v.Changes[:min(len(v.Changes), dashboardLines)], v.Errors[:min(len(v.Errors), dashboardLines)]
	switch {
	case !st.Running:
		v.Engine = "the engine has stopped"
	case !st.Available:
		v.Engine = st.Reason
	default:
		v.EngineOK, v.Engine = true, "programming IPVS"
	}
	table := st.Desired
	if st.Available && st.Kernel != nil {
		v.Live, table = true, st.Kernel
	}
	if table == nil {
		return
	}
	v.TableAll = ipvsTotals(table)
	v.Table = make([]web.IPVSService, 0, min(len(table.Services), dashboardServices))
	for _, s := range table.Services[:min(len(table.Services), dashboardServices)] {
		v.Table = append(v.Table, ipvsRow(st.Desired, s))
	}
}

// ipvsTotals counts table's services and destinations, and sums their
// connections and rates.
func ipvsTotals(table *engine.Table) web.IPVSTotals {
	t := web.IPVSTotals{Services: len(table.Services)}
	for _, s := range table.Services {
		t.Dests += len(s.Dests)
		t.CPS += float64(s.Stats.CPS)
		t.BPS += float64(s.Stats.InBPS + s.Stats.OutBPS)
		for _, d := range s.Dests {
			t.Active += uint64(d.ActiveConns)
			t.Inactive += uint64(d.InactiveConns)
		}
	}
	return t
}

// ipvsRow is service s of a routing table with its destinations, named
// after the virtual server desired gives it (none for a service
// lvsconsole does not manage).
func ipvsRow(desired *engine.Table, s *engine.Service) web.IPVSService {
	key := engine.ServiceText(s.ServiceKey)
	row := web.IPVSService{Service: key, Scheduler: s.Scheduler, Flags: engine.FlagsText(&s.Service),
		Stats: statCells(s.Stats), Dests: make([]web.IPVSDest, 0, len(s.Dests))}
	if desired != nil {
		if d := desired.Lookup(s.ServiceKey); d != nil {
			row.Virtual = d.Virtual
		}
	}
	for _, d := range s.Dests {
		row.Dests = append(row.Dests, web.IPVSDest{
			Addr: engine.AddrPort(d.Addr, d.Port), Forward: d.Forward.String(), Weight: d.Weight,
			Active: d.ActiveConns, Inactive: d.InactiveConns, Stats: statCells(d.Stats),
		})
	}
	return row
}

func statCells(st ipvs.Stats) web.StatCells {
	return web.StatCells{Conns: st.Conns, Packets: st.InPkts + st.OutPkts, Bytes: st.InBytes + st.OutBytes,
		CPS: float64(st.CPS), BPS: float64(st.InBPS + st.OutBPS)}
}

// ipvsPage is the whole routing table (the kernel's, or the one the engine
// would program), a page of services at a time: ?q= finds words in the
// service, its virtual server's name and its destinations.
func (c *Console) ipvsPage(w http.ResponseWriter, r *http.Request) {
	p := c.page(w, r, "LVS routing table", web.TabControl, 0)
	pg := web.Pager{Base: "/control/ipvs", Query: listQuery(r, nil)}
	var st engine.Status
	if c.engine != nil {
		st = c.engine.Status()
	}
	table, live := st.Desired, false
	if st.Available && st.Kernel != nil {
		table, live = st.Kernel, true
	}
	var found []*engine.Service
	if table != nil {
		pg.Total = len(table.Services)
		found = table.Services
		if m := newMatcher(pg.Query.Q); len(m) > 0 {
			found = matchServices(table.Services, st.Desired, m)
		}
	}
	lo, hi := pg.Paginate(len(found))
	rows := make([]web.IPVSService, 0, hi-lo)
	for _, s := range found[lo:hi] {
		rows = append(rows, ipvsRow(st.Desired, s))
	}
	c.render(w, r, http.StatusOK, web.IPVSPage(p, live, rows, pg))
}

// matchServices are the services of table in which m finds its words: in
// the service, its virtual server's name (as desired names it), or one of
// its destinations.
func matchServices(services []*engine.Service, desired *engine.Table, m matcher) []*engine.Service {
	names := map[ipvs.ServiceKey]string{}
	if desired != nil {
		for _, s := range desired.Services {
			names[s.ServiceKey] = s.Virtual
		}
	}
	var out []*engine.Service
	var texts []string
	for _, s := range services {
		texts = append(texts[:0], engine.ServiceText(s.ServiceKey), names[s.ServiceKey])
		for _, d := range s.Dests {
			texts = append(texts, engine.AddrPort(d.Addr, d.Port))
		}
		if m.match(texts...) {
			out = append(out, s)
		}
	}
	return out
}
