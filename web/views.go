// Package web holds the console's pages as templ components. Handlers in
// package handlers fill the view models below and render the pages; the
// pages never reach the store or the kernel themselves.
package web

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Tabs of the console, as piranha named them.
const (
	TabControl    = "control"
	TabGlobal     = "global"
	TabRedundancy = "redundancy"
	TabVirtual    = "virtual"
	TabHistory    = "history"
	TabAudit      = "audit"
)

// Sub-tabs of a virtual server.
const (
	SubVirtual = "virtual"
	SubReal    = "real"
	SubScripts = "scripts"
)

// Page is what every page's frame needs.
type Page struct {
	Title  string
	Tab    string
	User   string   // "" on the login and setup pages
	Flash  string   // the outcome of the last action
	Errors []string // problems not tied to one field
	Serial int64    // the configuration serial the page shows
	// ErrorsHead heads Errors; "" is "Nothing was saved:", right for a
	// refused change, not for a refused login or a failed read.
	ErrorsHead string
	// Standby is set on the standby director of a pair: its configuration
	// is read-only, and ActiveURL (when known) is the active's console.
	Standby   bool
	ActiveURL string
	// Refresh, when set, reloads the page this many seconds later in a
	// browser without JavaScript (with it, the page updates itself).
	Refresh int
	// Warnings are what an accepted action should make the admin read,
	// such as an import's ("line 12, column 6: port: ...").
	Warnings []string
	// Pending is how many changes the user's draft makes, Draft its
	// version (0: none), which the page's buttons carry.
	Pending int
	Draft   int64
	// Confirm is an APPLY that rolls back unless confirmed, if any.
	Confirm *Confirm
	// Role is the user's role (viewer, operator, admin): the page offers
	// only what it allows. The routes refuse the rest anyway (pageRole).
	Role string
}

// Admin reports whether the user may change everything.
func (p Page) Admin() bool { return p.Role == "admin" }

// Operator reports whether the user may change real servers' state and
// weight, and apply their own pending changes.
func (p Page) Operator() bool { return p.Role == "operator" || p.Role == "admin" }

// Confirm is an APPLY that rolls back unless someone presses CONFIRM.
type Confirm struct {
	Serial, Previous int64
	Owner, Delay     string
	Deadline         time.Time
}

// Review is what REVIEW shows of the user's pending changes.
type Review struct {
	Empty     bool  // no pending changes
	Version   int64 // of the draft reviewed: APPLY applies that one
	Serial    int64 // of the running configuration
	Changes   []string
	Conflicts []string
	// Ipvsadm are the operations this director's kernel would be sent,
	// as ipvsadm commands; PlanNote says why there are none.
	Ipvsadm   []string
	Refused   []string
	PlanNote  string
	Addresses []string
	Checks    []string
	Programs  []string
	Standby   string
	Warnings  []string
	CanApply  bool
	Choices   []int  // rollback delays offered
	Unit      string // of Choices: "minutes"
}

// Form carries a form's values as the user typed them, and the message for
// each refused field, so that a refused form comes back as it was sent.
type Form struct {
	Values map[string]string
	Errs   map[string]string
	// Notes say something about an accepted field that the admin must
	// act on (not a refusal), shown beside it.
	Notes map[string]string
	// Serial is the configuration the form was filled from; an edit based on
	// an older one is refused rather than overwriting someone else's.
	Serial int64
	// Draft is the version of the user's pending changes it was filled
	// from (0: none), checked the same way.
	Draft int64
}

// NewForm returns an empty form.
func NewForm(serial int64) *Form {
	return &Form{Values: map[string]string{}, Errs: map[string]string{}, Serial: serial}
}

// Get returns the value of field name.
func (f *Form) Get(name string) string { return f.Values[name] }

// Err returns the message for field name, or "".
func (f *Form) Err(name string) string { return f.Errs[name] }

// Note returns the note on field name, or "".
func (f *Form) Note(name string) string { return f.Notes[name] }

// Checked reports whether checkbox name is on.
func (f *Form) Checked(name string) bool { return f.Values[name] == "1" }

// HasErrors reports whether any field was refused.
func (f *Form) HasErrors() bool { return len(f.Errs) > 0 }

// Option is one choice of a select field.
type Option struct {
	Value, Label string
}

// VirtualRow is one line of the VIRTUAL SERVERS list.
type VirtualRow struct {
	ID        int64
	Name      string
	Active    bool
	Address   string // VIP, or "—" while a placeholder
	Netmask   string
	Port      string // "80", or "fwmark 3"
	Protocol  string
	Device    string
	Scheduler string
	Reals     int // real servers configured
	Live      int // of which active
	// NetmaskDefault says Netmask is not set but the one the address
	// goes up with: the whole address (/32, /128).
	NetmaskDefault bool
}

// RealRow is one line of the REAL SERVER list.
type RealRow struct {
	ID      int64
	Name    string
	Active  bool
	Address string
	Port    string
	Weight  int64
	Forward string
	// The health check's verdict: "up", "down", "unknown", or "" when the
	// server is not checked (inactive).
	Health       string
	HealthReason string
	HealthSince  time.Time
	// DRAIN: weight 0 until its connections end (since DrainSince, zero
	// while the drain is pending), with the connections IPVS counts
	// ("" when unknown).
	Draining   bool
	DrainSince time.Time
	Conns      string
	// Checked: Current is the weight IPVS has now (the health check's
	// and load monitor's), and Why says why it is not Weight.
	Checked bool
	Current int64
	Why     string
	Load    *LoadView // nil without a load monitor
}

// Moved says the weight in IPVS is not the configured one, or why it is.
func (r RealRow) Moved() bool { return r.Checked && (r.Current != r.Weight || r.Why != "") }

// LoadView is a real server's load monitor's latest.
type LoadView struct {
	Monitor string    // rup, ruptime, uptime, agent, feedback
	Reading string    // "load 3.20"; "" before the first
	Error   string    // why the latest reading failed (the weight stays)
	At      time.Time // of the latest reading that succeeded
	Weight  int64     // the weight the monitor gives
	// The uptime monitor's SSH server (host:port) and the host key
	// pinned for it ("" when none is yet).
	SSHHost string
	HostKey string
}

// LoadKey is the director's own SSH public key, as the line a real
// server's authorized_keys needs for the uptime monitor; Err says why it
// is not available.
type LoadKey struct {
	Line string
	Err  string
}

// VirtualHead names the virtual server a sub-tab belongs to.
type VirtualHead struct {
	ID      int64
	Name    string
	Active  bool
	Service string // "TCP 192.0.2.1:80"
	Sub     string // which sub-tab is shown
	New     bool   // the ADD form, before the first ACCEPT
}

// ControlView is the CONTROL/MONITORING page.
type ControlView struct {
	Engine   string // what drives IPVS, in words
	EngineOK bool
	Serial   int64 // of the configuration
	Applied  int64 // the serial the engine last applied
	Last     *RevisionRow
	// Virtuals are the virtual servers that need attention (a real
	// server down, draining, being checked, or none up), at most a few;
	// VirtualsMore is how many more need it. Totals count everything.
	Virtuals     []ControlVirtual
	VirtualsMore int
	Totals       ControlTotals

	// The IPVS table: the kernel's when IPVS is available, else the one
	// the engine would program.
	Live  bool
	Table []IPVSService
	// TableAll counts the whole table, of which Table is the start; the
	// whole table is on its own page, in pages.
	TableAll              IPVSTotals
	Changes               []string // what the engine last changed (the first ChangesAll)
	Errors                []string // what failed in its last run (the first ErrorsAll)
	ChangesAll, ErrorsAll int
	Recent                []Event // recent events of every kind, newest first

	Failover *FailoverView // nil when no failover runs in this process
	Cluster  *ClusterView  // nil unless in cluster mode (issue 19)
	Charts   []Chart       // rates over the last hour: all, then the busiest

	// Checks are the director's checks (lvsconsole doctor's), made at the
	// page's load; empty when the console has none.
	Checks []CheckRow

	// The page's own state: when it was made, and the auto update switch.
	At    time.Time
	Auto  bool
	Every int // seconds
}

// CheckRow is one director check: its name, pass, warn or fail, what it
// found and what to do.
type CheckRow struct {
	Name, Status, Detail, Fix string
}

// Event is one thing that happened: a health change, a failover, a
// configuration change.
type Event struct {
	When    time.Time
	Kind    string // health, failover, config
	Subject string // the real server, the director, the user
	State   string // health: the new state
	Text    string
}

// Chart is one virtual server's (or all's) rates over the last hour.
type Chart struct {
	Name     string
	CPS, BPS ChartLine
}

// ChartLine is a line of a chart: an SVG path in a ChartWidth x
// ChartHeight box, and the figures to print beside it.
type ChartLine struct {
	Path      string
	Last, Max float64
}

// Chart dimensions, in SVG user units.
const (
	ChartWidth  = 240
	ChartHeight = 40
)

// StatCells are a service's or destination's counters and rates.
type StatCells struct {
	Conns, Packets, Bytes uint64
	CPS, BPS              float64
}

// SecretView is the peer secret's part of the REDUNDANCY tab.
type SecretView struct {
	Form  *Form     // the paste field
	Shown string    // a secret just generated, shown this once
	SetAt time.Time // zero: none set
}

// FailoverView is the failover part of CONTROL/MONITORING.
type FailoverView struct {
	Pair        bool
	Role        string
	Since       time.Time
	Reason      string
	Primary     bool
	Self        string
	Peer        string // its address
	PeerRole    string
	PeerHeard   bool
	PeerAge     string // since its last valid heartbeat
	PeerConsole string
	Serial      int64
	PeerSerial  int64
	InSync      bool
	VIPs        []string
	Warnings    []string
	Counters    []Counter // heartbeats sent, received, refused by reason
}

// ClusterView is the cluster part of CONTROL/MONITORING: every director
// of the cluster as this one last heard it, and the VIPs this one
// withholds.
type ClusterView struct {
	Self      string // this director's address; "" when none of the list is this host's
	RouterID  string
	Healthy   bool
	Draining  bool
	MaxSerial int64 // the highest serial heard
	Directors []ClusterDirector
	Withheld  []ClusterWithheld
	Warnings  []string
}

// ClusterDirector is one director of the cluster.
type ClusterDirector struct {
	Addr      string
	Self      bool
	Reachable bool
	Err       string // why it was not heard
	Heard     time.Time
	Serial    int64
	Behind    bool // its serial is below the highest heard
	Healthy   bool
	Draining  bool
	Announced []string
	Sessions  []ClusterSession
	Conns     uint64 // active connections
	CPS       float64
	InBPS     float64
	OutBPS    float64
}

// ClusterSession is a director's BGP session with a router.
type ClusterSession struct {
	Peer        string
	AS          uint32
	State       string
	Established bool
	Since       time.Time
	Announced   int
}

// ClusterWithheld is a VIP this director does not announce, and why.
type ClusterWithheld struct{ Prefix, Why string }

// Counter is a named count.
type Counter struct {
	Name  string
	Value uint64
}

// IPVSService is a service of the IPVS table, as ipvsadm -Ln shows it.
type IPVSService struct {
	Service   string // "TCP 192.0.2.1:80"
	Scheduler string
	Flags     string // "persistent 300 mask 255.255.255.0"
	Virtual   string // the virtual server's name, "" for a service lvsconsole does not manage
	Dests     []IPVSDest
	Stats     StatCells
}

// IPVSTotals counts a routing table: services, destinations, and their
// connections and rates summed.
type IPVSTotals struct {
	Services, Dests int
	Active          uint64
	Inactive        uint64
	CPS, BPS        float64
}

// ControlTotals counts the configured virtual and real servers, and the
// real servers' states.
type ControlTotals struct {
	Virtuals, VirtualsActive int
	Reals, RealsActive       int
	Up, Down, Unknown        int // health of the active ones
	Unchecked                int // active, with no verdict (no checks in this process)
	Draining                 int
	Moved                    int // up, at another weight than their own
}

// IPVSDest is a destination of the IPVS table.
type IPVSDest struct {
	Addr     string
	Forward  string
	Weight   int32
	Active   uint32
	Inactive uint32
	Stats    StatCells
}

// ControlVirtual is one service of the configured table.
type ControlVirtual struct {
	VirtualRow
	Service string
	// Reals are the real servers shown: with health checks, only those
	// that need attention; the healthy ones are counted in Up.
	Reals []RealRow
	Up    int
}

// RevisionRow is one revision of the history.
type RevisionRow struct {
	Serial  int64
	When    time.Time
	Author  string
	Summary string
	Current bool
}

// Ago writes how long ago t was, for people.
func Ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// Stamp writes a time as every page shows it: in the director's zone,
// which it names (CEST, UTC; a numeric offset where the zone has no
// abbreviation).
func Stamp(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }

// errorsHead is what heads the page's problems.
func (p Page) errorsHead() string {
	if p.ErrorsHead == "" {
		return "Nothing was saved:"
	}
	return p.ErrorsHead
}

// SerialText is the serial as the hidden field carries it.
func (f *Form) SerialText() string { return fmt.Sprint(f.Serial) }

// DraftText is the draft's version as the hidden field carries it.
func (f *Form) DraftText() string { return fmt.Sprint(f.Draft) }

// The registry's fields of each form, by form name; a name that is none
// is a mistake of a page, which the tests that render every page find.
func globalField(name string) config.Meta     { return meta(config.GlobalFields.Form(name), name) }
func redundancyField(name string) config.Meta { return meta(config.RedundancyFields.Form(name), name) }
func virtualField(name string) config.Meta    { return meta(config.VirtualFields.Form(name), name) }
func realField(name string) config.Meta       { return meta(config.RealFields.Form(name), name) }

func meta[T any](f *config.Field[T], name string) config.Meta {
	if f == nil {
		panic("web: no registered field of form name " + name)
	}
	return f.Meta
}

// fieldLabel is a field's label on a form, with the unit of seconds.
func fieldLabel(m config.Meta) string {
	if m.Kind == config.KindSeconds {
		return m.Label + " (seconds)"
	}
	return m.Label
}

// choices are an enum's choices as a select's options.
func choices(cs []config.Choice) []Option {
	opts := make([]Option, len(cs))
	for i, c := range cs {
		opts[i] = Option{c.Value, c.Label}
	}
	return opts
}

// hasMark reports whether a virtual server's form has a firewall mark:
// then one-packet scheduling applies whatever the protocol.
func hasMark(f *Form) bool {
	m := strings.TrimSpace(f.Get("fwmark"))
	return m != "" && strings.Trim(m, "0") != ""
}

// wideChoice is the length of a choice's words beyond which a list takes
// a row of its grid (a grid cell shows about 28 characters).
const wideChoice = 26

// wideClass is "wide" for a list with a long choice.
func wideClass(opts []Option) string {
	for _, o := range opts {
		if utf8.RuneCountInString(o.Label) > wideChoice {
			return "wide"
		}
	}
	return ""
}

func hasOption(opts []Option, v string) bool {
	for _, o := range opts {
		if o.Value == v {
			return true
		}
	}
	return false
}

// userOptions lists the users for a choice of one.
func userOptions(rows []UserRow) []Option {
	opts := make([]Option, len(rows))
	for i, u := range rows {
		opts[i] = Option{u.Name, u.Name}
	}
	return opts
}

// ListQuery is what a long list shows: a search of names and addresses,
// a state, and a page of Size entries (Page from 1).
type ListQuery struct {
	Q     string
	State string
	Page  int
	Size  int
}

// Values is the query's URL parameters, without those at their default.
func (q ListQuery) Values() url.Values {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.Size != 0 && q.Size != DefaultPageSize {
		v.Set("size", strconv.Itoa(q.Size))
	}
	return v
}

// Keep is "?..." to add to a link or a form's action so that the answer
// comes back to the same list, search and page; "" for the plain list.
func (q ListQuery) Keep() string {
	if e := q.Values().Encode(); e != "" {
		return "?" + e
	}
	return ""
}

// DefaultPageSize is how many entries a page of a long list shows; a page
// shows MaxPageSize at most.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Pager is the page of a long list being shown: which entries of how
// many, and the links to the others, which keep the search.
type Pager struct {
	Base   string // the list's path
	Query  ListQuery
	States []Option // the state filter
	Total  int      // entries in the list
	Match  int      // of which match the search and the state
	From   int      // the first entry shown, from 1 (0: none)
	To     int      // the last entry shown
	Pages  int
}

// Filtered says the list is narrowed by a search or a state.
func (p Pager) Filtered() bool { return p.Query.Q != "" || p.Query.State != "" }

// Action is u with the list's query, for the forms of its rows.
func (p Pager) Action(u templ.SafeURL) templ.SafeURL {
	return templ.SafeURL(string(u) + p.Query.Keep())
}

// PageURL is the link to page n of the same search.
func (p Pager) PageURL(n int) templ.SafeURL {
	q := p.Query
	q.Page = n
	return templ.SafeURL(p.Base + q.Keep())
}

// Paginate works out the page of q among n matching entries: the index
// range [lo, hi) of the matches to show. A page past the last shows the
// last.
func (p *Pager) Paginate(n int) (lo, hi int) {
	size := p.Query.Size
	if size <= 0 {
		size = DefaultPageSize
	}
	p.Match = n
	p.Pages = max(1, (n+size-1)/size)
	p.Query.Page = min(max(p.Query.Page, 1), p.Pages)
	lo = (p.Query.Page - 1) * size
	hi = min(lo+size, n)
	if lo < hi {
		p.From, p.To = lo+1, hi
	}
	return lo, hi
}
