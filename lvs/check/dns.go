package check

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// dnsTypeCodes are the codes of config.DNSTypes (RFC 1035, RFC 3596).
var dnsTypeCodes = map[string]uint16{"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}

// dnsRcodes names the response codes a server may answer with.
var dnsRcodes = []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}

const dnsHeaderLen = 12

func (p *Probe) prepareDNS() error {
	s := &p.spec
	code, ok := dnsTypeCodes[s.DNSType]
	if !ok {
		return fieldErr("dns_type", "%q is not a query type: use %s", s.DNSType, strings.Join(config.DNSTypes, ", "))
	}
	if err := config.CheckDNSName(s.DNSName); err != nil {
		return fieldErr("dns_name", "%v", err)
	}
	p.query = dnsQuery(s.DNSName, code)
	return nil
}

// dnsQuery is a query of name and type in class IN, recursion desired,
// as keepalived sends; its id, the first two bytes, is zero.
func dnsQuery(name string, qtype uint16) []byte {
	q := make([]byte, dnsHeaderLen, dnsHeaderLen+len(name)+6)
	binary.BigEndian.PutUint16(q[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(q[4:], 1)      // QDCOUNT
	if name = strings.TrimSuffix(name, "."); name != "" {
		for l := range strings.SplitSeq(name, ".") {
			q = append(q, byte(len(l)))
			q = append(q, l...)
		}
	}
	q = append(q, 0)
	q = binary.BigEndian.AppendUint16(q, qtype)
	return binary.BigEndian.AppendUint16(q, 1) // IN
}

// runDNS is keepalived's DNS_CHECK: one query over UDP to the real
// server's port; up when a response with the query's id says no error.
// Datagrams of other ids, and queries, are ignored until the timeout.
func (p *Probe) runDNS(a *attempt, t Target) Result {
	conn, err := p.dialer.DialContext(a.ctx, "udp", t.String())
	if err != nil {
		return down(a.reason("connect", err))
	}
	defer conn.Close()
	stop := bindDeadline(a.ctx, conn)
	defer stop()

	q := slices.Clone(p.query)
	id := uint16(rand.Uint32())
	binary.BigEndian.PutUint16(q, id)
	if _, err := conn.Write(q); err != nil {
		return down(a.udpReason("send", err))
	}
	buf := make([]byte, maxReply)
	ignored := 0
	for {
		n, err := conn.Read(buf)
		if err != nil {
			r := a.udpReason("read", err)
			if ignored > 0 {
				r += " (" + strconv.Itoa(ignored) + " datagrams of another id ignored)"
			}
			return down(r)
		}
		m := buf[:n]
		if n < dnsHeaderLen || binary.BigEndian.Uint16(m) != id || m[2]&0x80 == 0 {
			ignored++
			continue
		}
		rcode := int(m[3] & 0x0f)
		if rcode != 0 {
			name := "rcode " + strconv.Itoa(rcode)
			if rcode < len(dnsRcodes) {
				name = dnsRcodes[rcode]
			}
			return down("answer " + name + " to " + p.spec.DNSType + " " + p.spec.DNSName)
		}
		return up("answer to " + p.spec.DNSType + " " + p.spec.DNSName + ": " + strconv.Itoa(int(binary.BigEndian.Uint16(m[6:]))) + " records")
	}
}
