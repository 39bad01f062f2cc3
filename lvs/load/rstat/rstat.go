// Package rstat asks a host's rpc.rstatd for its load averages, as
// piranha's nanny did for `load_monitor = rup`.
//
// It speaks ONC RPC version 2 (RFC 5531) over UDP with AUTH_NONE, its
// arguments and results in XDR (RFC 4506): first PMAPPROC_GETPORT of the
// portmapper (program 100000 version 2, RFC 1833) on port 111 for the port
// of RSTATPROG (100001), then RSTATPROC_STATS on that port, in version 3
// (statstime), else 2 (statsswtch), else 4 (statsvar), the structures of
// rstat.x (glibc's rpcsvc/rstat.x, which Debian's rstatd implements). Of
// the results it reads the load averages (avenrun, fixed point with FSCALE
// 256) and the boot and current times; the CPU, disk and interface
// counters are skipped.
//
// Every call is one datagram each way: retransmitted with a growing
// interval until the context's deadline, replies matched by XID, at most
// 8 KiB read.
package rstat

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Programs, versions and procedures (RFC 1833, rstat.x).
const (
	pmapProg    = 100000
	pmapVers    = 2
	pmapGetPort = 3
	protoUDP    = 17

	rstatProg  = 100001
	rstatStats = 1

	// FScale is the fixed point of avenrun: 1.0 is 256.
	FScale = 256

	// MaxReply bounds a reply: one datagram, larger ones are refused.
	MaxReply = 8192

	// DefaultTimeout is the time a call has when its context has no
	// deadline.
	DefaultTimeout = 5 * time.Second
)

// versions are tried in this order (rup's): statstime, statsswtch,
// statsvar.
var versions = [...]uint32{3, 2, 4}

// Stats is what a host's rstatd says.
type Stats struct {
	Version uint32     // RSTATVERS the host answered
	Load    [3]float64 // 1, 5 and 15 minute load averages
	Boot    time.Time  // the host's boot time
	Now     time.Time  // the host's clock (zero in version 2)
}

// ErrNotRegistered: the portmapper knows no rstatd (no version of
// RSTATPROG on UDP).
var ErrNotRegistered = errors.New("portmapper: program 100001 (rstatd) not registered on udp")

// Error says at which step a call failed.
type Error struct {
	Step string // "portmapper", "rstat v3", ...
	Err  error
}

func (e *Error) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// MismatchError: the server has the program but not the version asked
// for, or not the RPC version; it serves Low to High.
type MismatchError struct {
	What      string // "program version" or "RPC version"
	Low, High uint32
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s mismatch: server supports %d to %d", e.What, e.Low, e.High)
}

// Client is a load monitor's settings; its zero value is ready and asks
// port 111.
type Client struct {
	// PortmapPort is the portmapper's port, 111 when 0 (tests set another).
	PortmapPort uint16
	// Retransmit is the first retransmission interval, doubled after each
	// (at most 2 s); 250 ms when 0.
	Retransmit time.Duration
}

// Load asks host's rstatd for its load with the zero Client.
func Load(ctx context.Context, host netip.Addr) (Stats, error) {
	var c Client
	return c.Load(ctx, host)
}

// Load asks host's portmapper for rstatd's port, then rstatd for its
// statistics.
func (c *Client) Load(ctx context.Context, host netip.Addr) (Stats, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	host = host.Unmap()
	pmPort := c.PortmapPort
	if pmPort == 0 {
		pmPort = 111
	}
	var mismatch error
	var lastPort uint16
	for _, vers := range versions {
		port, err := c.getPort(ctx, netip.AddrPortFrom(host, pmPort), vers)
		if err != nil {
			return Stats{}, &Error{"portmapper", err}
		}
		if port == 0 {
			continue // rpcbind answers 0 only when no version is registered
		}
		lastPort = port
		res, err := c.call(ctx, netip.AddrPortFrom(host, port), rstatProg, vers, rstatStats, nil)
		var m *MismatchError
		if errors.As(err, &m) && m.What == "program version" {
			mismatch = err
			continue
		}
		step := "rstat v" + strconv.Itoa(int(vers)) + " on port " + strconv.Itoa(int(port))
		if err != nil {
			return Stats{}, &Error{step, err}
		}
		st, err := decodeStats(vers, res)
		if err != nil {
			return Stats{}, &Error{step, err}
		}
		return st, nil
	}
	if mismatch != nil {
		return Stats{}, &Error{"rstat on port " + strconv.Itoa(int(lastPort)), fmt.Errorf("none of versions 3, 2, 4: %w", mismatch)}
	}
	return Stats{}, &Error{"portmapper", ErrNotRegistered}
}

// getPort asks the portmapper at pm for the UDP port of rstatd vers.
func (c *Client) getPort(ctx context.Context, pm netip.AddrPort, vers uint32) (uint16, error) {
	args := binary.BigEndian.AppendUint32(nil, rstatProg)
	args = binary.BigEndian.AppendUint32(args, vers)
	args = binary.BigEndian.AppendUint32(args, protoUDP)
	args = binary.BigEndian.AppendUint32(args, 0)
	res, err := c.call(ctx, pm, pmapProg, pmapVers, pmapGetPort, args)
	if err != nil {
		return 0, err
	}
	d := decoder{b: res}
	port := d.uint32()
	if d.err != nil {
		return 0, fmt.Errorf("GETPORT reply: %w", d.err)
	}
	if port > 65535 {
		return 0, fmt.Errorf("GETPORT reply: port %d out of range", port)
	}
	return uint16(port), nil
}

// call sends one RPC to addr and returns the results of its accepted,
// successful reply.
func (c *Client) call(ctx context.Context, addr netip.AddrPort, prog, vers, proc uint32, args []byte) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// A cancelled context ends the read at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	xid := rand.Uint32()
	msg := encodeCall(xid, prog, vers, proc, args)
	deadline, _ := ctx.Deadline()
	interval := c.Retransmit
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	buf := make([]byte, MaxReply+1)
	for {
		if _, err := conn.Write(msg); err != nil {
			return nil, fmt.Errorf("sending to %s: %w", addr, err)
		}
		next := time.Now().Add(interval)
		interval = min(2*interval, 2*time.Second)
		if next.After(deadline) {
			next = deadline
		}
		conn.SetReadDeadline(next)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, fmt.Errorf("no reply from %s: %w", addr, ctx.Err())
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					if !time.Now().Before(deadline) {
						return nil, fmt.Errorf("no reply from %s: %w", addr, context.DeadlineExceeded)
					}
					break // retransmit
				}
				return nil, fmt.Errorf("reading from %s: %w", addr, err)
			}
			if n > MaxReply {
				return nil, fmt.Errorf("reply from %s larger than %d bytes", addr, MaxReply)
			}
			res, err := decodeReply(xid, buf[:n])
			if errors.Is(err, errOtherXID) {
				continue // a late reply to an earlier call
			}
			return res, err
		}
	}
}

// encodeCall is an RPC call message (RFC 5531 section 9) with AUTH_NONE
// credentials and verifier.
func encodeCall(xid, prog, vers, proc uint32, args []byte) []byte {
	b := make([]byte, 0, 40+len(args))
	for _, v := range []uint32{xid, 0 /* CALL */, 2 /* RPC version */, prog, vers, proc, 0, 0, 0, 0} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return append(b, args...)
}

var errOtherXID = errors.New("reply to another call")

// Reply states (RFC 5531).
var acceptStats = [...]string{
	1: "program unavailable",
	3: "procedure unavailable",
	4: "server could not decode the arguments",
	5: "system error on the server",
}

var authStats = [...]string{
	1: "bad credential", 2: "credential rejected", 3: "bad verifier", 4: "verifier rejected", 5: "credential too weak",
	6: "bogus verifier in reply", 7: "unknown failure",
}

// decodeReply checks a reply message for xid and returns its results.
func decodeReply(xid uint32, b []byte) ([]byte, error) {
	d := decoder{b: b}
	if got := d.uint32(); d.err == nil && got != xid {
		return nil, errOtherXID
	}
	if mt := d.uint32(); d.err == nil && mt != 1 {
		return nil, fmt.Errorf("message type %d, want 1 (reply)", mt)
	}
	switch stat := d.uint32(); {
	case d.err != nil:
	case stat == 1: // MSG_DENIED
		switch rs := d.uint32(); {
		case d.err != nil:
		case rs == 0:
			low, high := d.uint32(), d.uint32()
			if d.err == nil {
				return nil, fmt.Errorf("RPC denied: %w", &MismatchError{"RPC version", low, high})
			}
		case rs == 1:
			as := d.uint32()
			if d.err == nil {
				why := "auth_stat " + strconv.Itoa(int(as))
				if int(as) < len(authStats) && authStats[as] != "" {
					why = authStats[as]
				}
				return nil, fmt.Errorf("RPC denied: authentication error: %s", why)
			}
		default:
			return nil, fmt.Errorf("RPC denied: reject_stat %d", rs)
		}
	case stat == 0: // MSG_ACCEPTED
		d.uint32()    // verifier flavour
		d.opaque(400) // verifier body
		as := d.uint32()
		switch {
		case d.err != nil:
		case as == 0:
			return d.b[d.off:], nil
		case as == 2:
			low, high := d.uint32(), d.uint32()
			if d.err == nil {
				return nil, &MismatchError{"program version", low, high}
			}
		case int(as) < len(acceptStats) && acceptStats[as] != "":
			return nil, errors.New(acceptStats[as])
		default:
			return nil, fmt.Errorf("accept_stat %d", as)
		}
	default:
		return nil, fmt.Errorf("reply_stat %d", stat)
	}
	return nil, fmt.Errorf("reply: %w", d.err)
}

// decodeStats reads the results of RSTATPROC_STATS in version vers.
func decodeStats(vers uint32, b []byte) (Stats, error) {
	d := decoder{b: b}
	if vers == 4 {
		d.array(64)   // cp_time<>
		d.array(1024) // dk_xfer<>
	} else {
		d.skip(8) // cp_time[4], dk_xfer[4]
	}
	// v_pgpgin, v_pgpgout, v_pswpin, v_pswpout, v_intr, then the interface
	// counters (four in versions 2 and 3, whose if_opackets comes last;
	// five in version 4), then v_swtch.
	if vers == 4 {
		d.skip(5 + 5 + 1)
	} else {
		d.skip(5 + 4 + 1)
	}
	st := Stats{Version: vers}
	for i := range st.Load {
		st.Load[i] = float64(int32(d.uint32())) / FScale
	}
	st.Boot = d.timeval()
	if vers != 2 {
		st.Now = d.timeval()
	}
	if d.err != nil {
		return Stats{}, fmt.Errorf("statistics (version %d, %d bytes): %w", vers, len(b), d.err)
	}
	return st, nil
}

// decoder reads XDR; its first error sticks.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) uint32() uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 4 {
		d.err = fmt.Errorf("truncated at byte %d", d.off)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

// skip skips n 32-bit words.
func (d *decoder) skip(n int) {
	for range n {
		d.uint32()
	}
}

// array skips a variable-length array of at most max 32-bit words.
func (d *decoder) array(max uint32) {
	n := d.uint32()
	if d.err == nil && n > max {
		d.err = fmt.Errorf("array of %d elements at byte %d, at most %d", n, d.off-4, max)
		return
	}
	d.skip(int(n))
}

// opaque skips variable-length opaque data of at most max bytes.
func (d *decoder) opaque(max uint32) {
	n := d.uint32()
	if d.err != nil {
		return
	}
	padded := (int(n) + 3) &^ 3
	if n > max || len(d.b)-d.off < padded {
		d.err = fmt.Errorf("opaque of %d bytes at byte %d (at most %d)", n, d.off-4, max)
		return
	}
	d.off += padded
}

func (d *decoder) timeval() time.Time {
	sec, usec := d.uint32(), d.uint32()
	if d.err != nil || sec == 0 {
		return time.Time{}
	}
	return time.Unix(int64(sec), int64(usec%1e6)*1e3)
}
