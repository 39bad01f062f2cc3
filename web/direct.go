package web

import (
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/direct"
)

// DirectRouting is the REAL SERVER tab's "Direct routing" panel: what each
// real server forwarded by direct routing needs, and whether it accepts
// traffic for the VIP.
type DirectRouting struct {
	// Checkable: this director runs the check (CHECK buttons).
	Checkable bool
	// Port is the port checked, "" when the service has none (a
	// firewall-mark service on port 0): no check then.
	Port    string
	Servers []DirectServer
}

// DirectServer is one real server's snippet and its latest check.
type DirectServer struct {
	RealID  int64  // the first real server of the virtual server at Address
	Names   string // "web1, web1-tls"
	Snippet direct.Snippet
	// Check is the latest check's result, nil when none ran.
	Check *direct.Result
}

// Checked says when a check ran, for people.
func (s DirectServer) Checked() string {
	if s.Check == nil {
		return ""
	}
	return "checked " + Ago(s.Check.At) + " (" + s.Check.At.UTC().Format(time.TimeOnly) + " UTC)"
}
