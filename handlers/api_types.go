package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// The API's resources. They are not config's types marshalled: their keys
// are lvs.cf's, addresses and netmasks are text as lvs.cf writes them, and
// durations decimal seconds, so that a field has one spelling in the file,
// the form, the API and the refusal's "field". Converting in (model) reads
// text with config's Parse helpers, as the forms do, so a value of the wrong
// kind gets the form's message.

// flexNumber is a JSON number or string, kept as text for config's Parse
// helpers: a port may be "http", a duration "0.5" or "200ms", and what is
// neither gets the message a form or lvs.cf gets.
type flexNumber string

func (n flexNumber) MarshalJSON() ([]byte, error) {
	s := string(n)
	if s == "" {
		return []byte("0"), nil
	}
	if json.Valid([]byte(s)) && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return []byte(s), nil
	}
	return json.Marshal(s)
}

func (n *flexNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return nil // as for every field: null leaves the value as it is
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = flexNumber(s)
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		*n = flexNumber(b)
	default:
		kind := "object"
		switch {
		case len(b) > 0 && b[0] == '[':
			kind = "array"
		case string(b) == "true" || string(b) == "false":
			kind = "bool"
		}
		return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[flexNumber]()}
	}
	return nil
}

func secondsOf(d time.Duration) flexNumber { return flexNumber(config.FormatSeconds(d)) }
func portOf(p int) flexNumber              { return flexNumber(strconv.Itoa(p)) }

// converter reads the text of one entry's values into the model, collecting
// a field error for each value that is not of the right kind, placed as
// config.Validate places its own.
type converter struct {
	at   config.FieldError // section, indexes and names of the entry
	errs []*config.FieldError
}

func newConverter(section string, vi, ri int, vname, rname string) *converter {
	return &converter{at: config.FieldError{Section: section, Virtual: vi, Real: ri, VirtualName: vname, RealName: rname}}
}

func (cv *converter) fail(field string, err error) {
	fe := cv.at
	fe.Field, fe.Msg = field, err.Error()
	cv.errs = append(cv.errs, &fe)
}

func (cv *converter) addr(field, s string) netip.Addr {
	a, err := config.ParseAddr(s)
	if err != nil {
		cv.fail(field, err)
	}
	return a
}

func (cv *converter) mask(field, s string) config.Netmask {
	m, err := config.ParseNetmask(s)
	if err != nil {
		cv.fail(field, err)
	}
	return m
}

func (cv *converter) port(field string, n flexNumber) int {
	p, err := config.ParsePort(string(n))
	if err != nil {
		cv.fail(field, err)
	}
	return p
}

func (cv *converter) seconds(field string, n flexNumber) time.Duration {
	d, err := config.ParseSeconds(string(n))
	if err != nil {
		cv.fail(field, err)
	}
	return d
}

// err returns the values refused, as config.Validate would: a
// *config.ValidationError, or nil.
func (cv *converter) err() error {
	if len(cv.errs) == 0 {
		return nil
	}
	return &config.ValidationError{Fields: cv.errs}
}

// apiGlobal is GLOBAL SETTINGS.
type apiGlobal struct {
	Serial          int64  `json:"serial,omitempty"`
	Primary         string `json:"primary"`
	PrimaryPrivate  string `json:"primary_private"`
	Network         string `json:"network"`
	NATRouter       string `json:"nat_router"`
	NATRouterDevice string `json:"nat_router_device"`
	NATNetmask      string `json:"nat_nmask"`
	TCPTimeout      int64  `json:"tcp_timeout"`
	TCPFinTimeout   int64  `json:"tcpfin_timeout"`
	UDPTimeout      int64  `json:"udp_timeout"`
	ActiveCmd       string `json:"active_cmd"`
	InactiveCmd     string `json:"inactive_cmd"`
	Service         string `json:"service"`
	HardShutdown    bool   `json:"hard_shutdown"`
	RshCommand      string `json:"rsh_command"`
	DebugLevel      string `json:"debug_level"`
}

func globalOf(g *config.Global) apiGlobal {
	return apiGlobal{
		Primary: config.FormatAddr(g.Primary), PrimaryPrivate: config.FormatAddr(g.PrimaryPrivate),
		Network: string(g.Network), NATRouter: config.FormatAddr(g.NATRouter), NATRouterDevice: g.NATRouterDevice,
		NATNetmask: g.NATNetmask.Format(g.NATRouter.Is6()), TCPTimeout: g.TCPTimeout, TCPFinTimeout: g.TCPFinTimeout,
		UDPTimeout: g.UDPTimeout, ActiveCmd: g.ActiveCmd, InactiveCmd: g.InactiveCmd, Service: g.Service,
		HardShutdown: g.HardShutdown, RshCommand: g.RshCommand, DebugLevel: g.DebugLevel,
	}
}

func (a *apiGlobal) model() (config.Global, error) {
	cv := newConverter("global", -1, -1, "", "")
	g := config.Global{
		Primary:         cv.addr("primary", a.Primary),
		PrimaryPrivate:  cv.addr("primary_private", a.PrimaryPrivate),
		Network:         config.Forward(a.Network),
		NATRouter:       cv.addr("nat_router", a.NATRouter),
		NATRouterDevice: a.NATRouterDevice,
		NATNetmask:      cv.mask("nat_nmask", a.NATNetmask),
		TCPTimeout:      a.TCPTimeout,
		TCPFinTimeout:   a.TCPFinTimeout,
		UDPTimeout:      a.UDPTimeout,
		ActiveCmd:       a.ActiveCmd,
		InactiveCmd:     a.InactiveCmd,
		Service:         a.Service,
		HardShutdown:    a.HardShutdown,
		RshCommand:      a.RshCommand,
		DebugLevel:      a.DebugLevel,
	}
	return g, cv.err()
}

// apiRedundancy is REDUNDANCY.
type apiRedundancy struct {
	Serial        int64      `json:"serial,omitempty"`
	BackupActive  bool       `json:"backup_active"`
	Backup        string     `json:"backup"`
	BackupPrivate string     `json:"backup_private"`
	Heartbeat     bool       `json:"heartbeat"`
	HeartbeatPort flexNumber `json:"heartbeat_port"`
	Keepalive     flexNumber `json:"keepalive"`
	Deadtime      flexNumber `json:"deadtime"`
	MonitorLinks  bool       `json:"monitor_links"`
	Preempt       bool       `json:"preempt"`
	PreemptDelay  flexNumber `json:"preempt_delay"`
	SyncDaemon    bool       `json:"syncdaemon"`
	SyncIface     string     `json:"syncd_iface"`
	SyncID        int        `json:"syncd_id"`
}

func redundancyOf(r *config.Redundancy) apiRedundancy {
	return apiRedundancy{
		BackupActive: r.BackupActive, Backup: config.FormatAddr(r.Backup), BackupPrivate: config.FormatAddr(r.BackupPrivate),
		Heartbeat: r.Heartbeat, HeartbeatPort: portOf(r.HeartbeatPort), Keepalive: secondsOf(r.Keepalive),
		Deadtime: secondsOf(r.Deadtime), MonitorLinks: r.MonitorLinks, Preempt: r.Preempt,
		PreemptDelay: secondsOf(r.PreemptDelay), SyncDaemon: r.SyncDaemon, SyncIface: r.SyncIface, SyncID: r.SyncID,
	}
}

func (a *apiRedundancy) model() (config.Redundancy, error) {
	cv := newConverter("redundancy", -1, -1, "", "")
	r := config.Redundancy{
		BackupActive:  a.BackupActive,
		Backup:        cv.addr("backup", a.Backup),
		BackupPrivate: cv.addr("backup_private", a.BackupPrivate),
		Heartbeat:     a.Heartbeat,
		HeartbeatPort: cv.port("heartbeat_port", a.HeartbeatPort),
		Keepalive:     cv.seconds("keepalive", a.Keepalive),
		Deadtime:      cv.seconds("deadtime", a.Deadtime),
		MonitorLinks:  a.MonitorLinks,
		Preempt:       a.Preempt,
		PreemptDelay:  cv.seconds("preempt_delay", a.PreemptDelay),
		SyncDaemon:    a.SyncDaemon,
		SyncIface:     a.SyncIface,
		SyncID:        a.SyncID,
	}
	return r, cv.err()
}

// apiVirtual is a virtual server: the VIRTUAL SERVER and MONITORING
// SCRIPTS tabs. Its real servers are resources of their own.
type apiVirtual struct {
	Serial        int64      `json:"serial,omitempty"`
	ID            int64      `json:"id,omitempty"` // read only
	Name          string     `json:"name"`
	Active        bool       `json:"active"`
	Address       string     `json:"address"`
	Device        string     `json:"device"`
	Netmask       string     `json:"vip_nmask"`
	Protocol      string     `json:"protocol"`
	Port          flexNumber `json:"port"`
	FWMark        int64      `json:"fwmark"`
	Scheduler     string     `json:"scheduler"`
	SchedFlags    string     `json:"sched_flags"`
	OnePacket     bool       `json:"ops"`
	Persistent    int64      `json:"persistent"`
	PMask         string     `json:"pmask"`
	SorryServer   string     `json:"sorry_server"`
	Timeout       flexNumber `json:"timeout"`
	Reentry       flexNumber `json:"reentry"`
	Quiesce       bool       `json:"quiesce_server"`
	LoadMonitor   string     `json:"load_monitor"`
	Send          string     `json:"send"`
	Expect        string     `json:"expect"`
	UseRegex      bool       `json:"use_regex"`
	SendProgram   string     `json:"send_program"`
	Check         string     `json:"check"`
	CheckInterval flexNumber `json:"check_interval"`
	CheckFailures int        `json:"check_failures"`
	HTTPPath      string     `json:"http_path"`
	HTTPHost      string     `json:"http_host"`
	HTTPStatus    string     `json:"http_status"`
	HTTPBody      string     `json:"http_body"`
	TLSVerify     bool       `json:"tls_verify"`
}

func virtualOf(vs *config.VirtualServer) apiVirtual {
	six := vs.Address.Is6()
	return apiVirtual{
		ID: vs.ID, Name: vs.Name, Active: vs.Active, Address: config.FormatAddr(vs.Address), Device: vs.Device,
		Netmask: vs.Netmask.Format(six), Protocol: string(vs.Protocol), Port: portOf(vs.Port), FWMark: vs.FWMark,
		Scheduler: vs.Scheduler, SchedFlags: schedFlagsText(vs), OnePacket: vs.OnePacket, Persistent: vs.Persistence,
		PMask: vs.PersistenceNetmask.Format(six), SorryServer: config.FormatAddr(vs.SorryServer),
		Timeout: secondsOf(vs.CheckTimeout), Reentry: secondsOf(vs.Reentry), Quiesce: vs.Quiesce, LoadMonitor: vs.LoadMonitor,
		Send: vs.Send, Expect: vs.Expect, UseRegex: vs.UseRegex, SendProgram: vs.SendProgram,
		Check: vs.CheckKind, CheckInterval: secondsOf(vs.CheckInterval), CheckFailures: vs.CheckFailures,
		HTTPPath: vs.HTTPPath, HTTPHost: vs.HTTPHost, HTTPStatus: vs.HTTPStatus, HTTPBody: vs.HTTPBody, TLSVerify: vs.TLSVerify,
	}
}

// model returns base (which keeps the id and the real servers) with a's
// values; idx is the virtual server's index, for the refusals.
func (a *apiVirtual) model(base config.VirtualServer, idx int) (config.VirtualServer, error) {
	cv := newConverter("virtual", idx, -1, a.Name, "")
	vs := base
	vs.Name, vs.Active = a.Name, a.Active
	vs.Address = cv.addr("address", a.Address)
	vs.Device = a.Device
	vs.Netmask = cv.mask("vip_nmask", a.Netmask)
	vs.Protocol = config.Protocol(a.Protocol)
	vs.Port = cv.port("port", a.Port)
	vs.FWMark = a.FWMark
	vs.Scheduler = a.Scheduler
	var err error
	if vs.SchedFallback, vs.SchedPort, err = parseSchedFlags(a.SchedFlags); err != nil {
		cv.fail("sched_flags", err)
	}
	vs.OnePacket = a.OnePacket
	vs.Persistence = a.Persistent
	vs.PersistenceNetmask = cv.mask("pmask", a.PMask)
	vs.SorryServer = cv.addr("sorry_server", a.SorryServer)
	vs.CheckTimeout = cv.seconds("timeout", a.Timeout)
	vs.Reentry = cv.seconds("reentry", a.Reentry)
	vs.Quiesce, vs.LoadMonitor = a.Quiesce, a.LoadMonitor
	vs.Send, vs.Expect, vs.UseRegex, vs.SendProgram = a.Send, a.Expect, a.UseRegex, a.SendProgram
	vs.CheckKind = a.Check
	vs.CheckInterval = cv.seconds("check_interval", a.CheckInterval)
	vs.CheckFailures = a.CheckFailures
	vs.HTTPPath, vs.HTTPHost, vs.HTTPStatus, vs.HTTPBody, vs.TLSVerify = a.HTTPPath, a.HTTPHost, a.HTTPStatus, a.HTTPBody, a.TLSVerify
	return vs, cv.err()
}

// schedFlagsText writes the sh and mh flags as lvs.cf's sched_flags.
func schedFlagsText(vs *config.VirtualServer) string {
	var f []string
	if vs.SchedFallback {
		f = append(f, "fallback")
	}
	if vs.SchedPort {
		f = append(f, "port")
	}
	return strings.Join(f, ",")
}

// parseSchedFlags reads sched_flags as lvs.cf does, with its message.
func parseSchedFlags(v string) (fallback, port bool, err error) {
	if strings.Trim(v, " \t") == "" {
		return false, false, nil
	}
	for _, f := range strings.Split(v, ",") {
		switch strings.Trim(f, " \t") {
		case "fallback":
			fallback = true
		case "port":
			port = true
		default:
			return false, false, fmt.Errorf("%q is not a scheduler flag: use fallback, port or fallback,port", strings.Trim(f, " \t"))
		}
	}
	return fallback, port, nil
}

// apiReal is a real server.
type apiReal struct {
	Serial     int64      `json:"serial,omitempty"`
	ID         int64      `json:"id,omitempty"` // read only
	Name       string     `json:"name"`
	Active     bool       `json:"active"`
	Address    string     `json:"address"`
	Port       flexNumber `json:"port"` // 0: the virtual server's
	Weight     int64      `json:"weight"`
	Forward    string     `json:"fwd"` // "": the global network setting
	UThreshold int64      `json:"uthreshold"`
	LThreshold int64      `json:"lthreshold"`
}

func realOf(rs *config.RealServer) apiReal {
	return apiReal{
		ID: rs.ID, Name: rs.Name, Active: rs.Active, Address: config.FormatAddr(rs.Address), Port: portOf(rs.Port),
		Weight: rs.Weight, Forward: string(rs.Forward), UThreshold: rs.UpperThreshold, LThreshold: rs.LowerThreshold,
	}
}

// model returns base (which keeps the id) with a's values; vi and ri place
// the refusals.
func (a *apiReal) model(base config.RealServer, vi, ri int, vname string) (config.RealServer, error) {
	cv := newConverter("server", vi, ri, vname, a.Name)
	rs := base
	rs.Name, rs.Active = a.Name, a.Active
	rs.Address = cv.addr("address", a.Address)
	rs.Port = cv.port("port", a.Port)
	rs.Weight = a.Weight
	rs.Forward = config.Forward(a.Forward)
	rs.UpperThreshold, rs.LowerThreshold = a.UThreshold, a.LThreshold
	return rs, cv.err()
}

// apiConfig is the whole configuration, with each virtual server's real
// servers.
type apiConfig struct {
	Serial     int64               `json:"serial"`
	Global     apiGlobal           `json:"global"`
	Redundancy apiRedundancy       `json:"redundancy"`
	Virtuals   []apiVirtualAndReal `json:"virtuals"`
}

type apiVirtualAndReal struct {
	apiVirtual
	Reals []apiReal `json:"reals"`
}

func configOf(cfg *config.Config) apiConfig {
	out := apiConfig{Serial: cfg.Serial, Global: globalOf(&cfg.Global), Redundancy: redundancyOf(&cfg.Redundancy),
		Virtuals: make([]apiVirtualAndReal, len(cfg.Virtuals))}
	for i := range cfg.Virtuals {
		vs := &cfg.Virtuals[i]
		v := apiVirtualAndReal{apiVirtual: virtualOf(vs), Reals: make([]apiReal, len(vs.Reals))}
		for j := range vs.Reals {
			v.Reals[j] = realOf(&vs.Reals[j])
		}
		out.Virtuals[i] = v
	}
	return out
}

// apiRevision is one revision of the history.
type apiRevision struct {
	Serial  int64     `json:"serial"`
	Created time.Time `json:"created"`
	Author  string    `json:"author"`
	Summary string    `json:"summary"`
	Current bool      `json:"current"`
}

func apiRevisionOf(r store.Revision, current int64) apiRevision {
	return apiRevision{Serial: r.Serial, Created: r.Created.UTC(), Author: r.Author, Summary: r.Summary, Current: r.Serial == current}
}
