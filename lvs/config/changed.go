package config

import (
	"net/netip"
	"time"
)

// What an edit changed, found without reflection or maps, so that an edit
// of one entry in 10,000 virtual servers costs what the entry costs: the
// store's save, Diff and the revision's delta ask ChangedVirtuals
// (issue 20).

// virtualHead is a VirtualServer without its real servers: comparable
// with ==. TestVirtualHead fails when a field of VirtualServer is missing.
type virtualHead struct {
	ID                 int64
	Name               string
	Active             bool
	Address            netip.Addr
	Device             string
	Netmask            Netmask
	Protocol           Protocol
	Port               int
	FWMark             int64
	Scheduler          string
	SchedFallback      bool
	SchedPort          bool
	OnePacket          bool
	Persistence        int64
	PersistenceNetmask Netmask
	SorryServer        netip.Addr
	Announce           bool
	Quorum             int64
	Hysteresis         int64
	QuorumUp           string
	QuorumDown         string
	CheckTimeout       time.Duration
	Reentry            time.Duration
	Quiesce            bool
	LoadMonitor        string
	Send               string
	Expect             string
	UseRegex           bool
	SendProgram        string
	CheckKind          string
	CheckInterval      time.Duration
	CheckFailures      int
	HTTPPath           string
	HTTPHost           string
	HTTPStatus         string
	HTTPBody           string
	TLSVerify          bool
	HTTPDigest         string
	SMTPHelo           string
	DNSType            string
	DNSName            string
	ProgramWeight      bool
	DrainTimeout       time.Duration
	LoadPort           int
	LoadSend           string
	LoadHTTPPath       string
	LoadInterval       time.Duration
	LoadSSHUser        string
	LoadSSHKey         string
}

func (vs *VirtualServer) head() virtualHead {
	return virtualHead{
		ID:                 vs.ID,
		Name:               vs.Name,
		Active:             vs.Active,
		Address:            vs.Address,
		Device:             vs.Device,
		Netmask:            vs.Netmask,
		Protocol:           vs.Protocol,
		Port:               vs.Port,
		FWMark:             vs.FWMark,
		Scheduler:          vs.Scheduler,
		SchedFallback:      vs.SchedFallback,
		SchedPort:          vs.SchedPort,
		OnePacket:          vs.OnePacket,
		Persistence:        vs.Persistence,
		PersistenceNetmask: vs.PersistenceNetmask,
		SorryServer:        vs.SorryServer,
		Announce:           vs.Announce,
		Quorum:             vs.Quorum,
		Hysteresis:         vs.Hysteresis,
		QuorumUp:           vs.QuorumUp,
		QuorumDown:         vs.QuorumDown,
		CheckTimeout:       vs.CheckTimeout,
		Reentry:            vs.Reentry,
		Quiesce:            vs.Quiesce,
		LoadMonitor:        vs.LoadMonitor,
		Send:               vs.Send,
		Expect:             vs.Expect,
		UseRegex:           vs.UseRegex,
		SendProgram:        vs.SendProgram,
		CheckKind:          vs.CheckKind,
		CheckInterval:      vs.CheckInterval,
		CheckFailures:      vs.CheckFailures,
		HTTPPath:           vs.HTTPPath,
		HTTPHost:           vs.HTTPHost,
		HTTPStatus:         vs.HTTPStatus,
		HTTPBody:           vs.HTTPBody,
		TLSVerify:          vs.TLSVerify,
		HTTPDigest:         vs.HTTPDigest,
		SMTPHelo:           vs.SMTPHelo,
		DNSType:            vs.DNSType,
		DNSName:            vs.DNSName,
		ProgramWeight:      vs.ProgramWeight,
		DrainTimeout:       vs.DrainTimeout,
		LoadPort:           vs.LoadPort,
		LoadSend:           vs.LoadSend,
		LoadHTTPPath:       vs.LoadHTTPPath,
		LoadInterval:       vs.LoadInterval,
		LoadSSHUser:        vs.LoadSSHUser,
		LoadSSHKey:         vs.LoadSSHKey,
	}
}

// SameHead reports whether a and b are equal but for their real servers.
func SameHead(a, b *VirtualServer) bool { return a.head() == b.head() }

// SameVirtual reports whether a and b are equal, real servers included.
func SameVirtual(a, b *VirtualServer) bool {
	if len(a.Reals) != len(b.Reals) || !SameHead(a, b) {
		return false
	}
	for j := range a.Reals {
		if a.Reals[j] != b.Reals[j] {
			return false
		}
	}
	return true
}

// ChangedVirtuals returns the indexes of b's virtual servers that differ
// from a's at the same index, when a and b hold the same virtual servers
// (by id, or by name for an entry without one) in the same order; same is
// false otherwise (one added, deleted or moved), and the caller compares
// the whole.
func ChangedVirtuals(a, b *Config) (changed []int, same bool) {
	if len(a.Virtuals) != len(b.Virtuals) {
		return nil, false
	}
	for i := range b.Virtuals {
		x, y := &a.Virtuals[i], &b.Virtuals[i]
		if entryKey(x.ID, x.Name) != entryKey(y.ID, y.Name) {
			return nil, false
		}
		if !SameVirtual(x, y) {
			changed = append(changed, i)
		}
	}
	return changed, true
}
