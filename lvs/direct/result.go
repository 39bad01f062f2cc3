package direct

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Target is what drcheck asks: does the real server Real accept a TCP SYN
// for VIP:Port sent to its MAC address, as the director forwards it?
type Target struct {
	VIP  netip.Addr
	Port uint16
	Real netip.Addr
}

func (t Target) String() string {
	return fmt.Sprintf("%s for %s", t.Real, netip.AddrPortFrom(t.VIP, t.Port))
}

// Outcome is what came back.
type Outcome int

const (
	Failed   Outcome = iota // the check could not run (no route, no MAC, no permission)
	Accepted                // a SYN-ACK from the VIP: it is configured and the port open
	Refused                 // a RST from the VIP: it is configured, the port is closed
	Silent                  // nothing within the timeout
	ICMP                    // an ICMP error about the SYN
)

// Result is one check's answer.
type Result struct {
	Target
	Outcome Outcome
	RTT     time.Duration // from the SYN to the answer; Silent: the time waited
	// Detail is the ICMP message ("port unreachable from 192.0.2.7"), or
	// why the check failed.
	Detail string
	At     time.Time // when it was sent
}

// AcceptsVIP reports whether the real server answered from the VIP, open
// port or not: the VIP is configured on it.
func (r Result) AcceptsVIP() bool { return r.Outcome == Accepted || r.Outcome == Refused }

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', -1, 64) + " ms"
}

// String says what the result means for the admin.
func (r Result) String() string {
	vip := r.VIP.Unmap().String()
	switch r.Outcome {
	case Accepted:
		return fmt.Sprintf("accepts traffic for VIP %s (SYN-ACK from port %d in %s)", vip, r.Port, ms(r.RTT))
	case Refused:
		return fmt.Sprintf("accepts traffic for VIP %s, but port %d/tcp is closed (RST in %s): is the service running and listening on the VIP or on all addresses?", vip, r.Port, ms(r.RTT))
	case Silent:
		return fmt.Sprintf("did not answer a SYN for VIP %s port %d within %s: add the VIP on lo (see the snippet), and check its ARP settings and firewall", vip, r.Port, r.RTT)
	case ICMP:
		return fmt.Sprintf("answered a SYN for VIP %s port %d with ICMP %s in %s: it does not take the VIP as its own (add the VIP on lo, see the snippet), or a firewall refuses it", vip, r.Port, r.Detail, ms(r.RTT))
	}
	return "could not check: " + r.Detail
}
