// Package rwho listens for rwhod's status broadcasts, the source of
// ruptime's loads, which piranha's nanny read for `load_monitor = ruptime`.
//
// The packet is struct whod of protocols/rwhod.h (4.2BSD, netkit's rwhod,
// rwhod(8)): all fields big-endian, wd_vers 1, wd_type 1 (WHODTYPE_STATUS),
// two bytes of padding, wd_sendtime, wd_recvtime, wd_hostname[32]
// (NUL-padded), wd_loadav[3] (1, 5 and 15 minute loads in hundredths),
// wd_boottime, then up to 42 whoent entries of 24 bytes (a logged-in
// user: out_line[8], out_name[8], out_time, we_idle), all int32.
//
// ruptime reads the files /var/spool/rwho/whod.HOST that a local rwhod
// writes from the broadcasts it hears. The director listens to the
// broadcasts itself instead: it then needs no rwhod of its own, no files
// in a spool directory, and knows from which address each status came
// (the real server's, which the files do not keep).
package rwho

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

const (
	// Port is rwhod's (the "who" service); rwhod sends from it too.
	Port = 513

	headerLen = 60
	entryLen  = 24
	// MaxEntries is the size of wd_we: 1024 / sizeof(struct whoent).
	MaxEntries = 1024 / entryLen
	// MaxLen is the longest status packet.
	MaxLen = headerLen + MaxEntries*entryLen
)

// Status is one decoded status packet.
type Status struct {
	Hostname string
	SendTime time.Time  // the sender's clock when sending
	Boot     time.Time  // its boot time
	Load     [3]float64 // 1, 5 and 15 minute load averages
	Users    int        // whoent entries (logged-in terminals)
}

// Decode decodes a status packet, refusing any other length, version,
// type or a host name that is not printable ASCII (as rwhod does).
func Decode(b []byte) (Status, error) {
	switch {
	case len(b) < headerLen:
		return Status{}, fmt.Errorf("rwho: packet of %d bytes, shorter than the %d-byte header", len(b), headerLen)
	case len(b) > MaxLen:
		return Status{}, fmt.Errorf("rwho: packet of %d bytes, longer than %d", len(b), MaxLen)
	case (len(b)-headerLen)%entryLen != 0:
		return Status{}, fmt.Errorf("rwho: packet of %d bytes: the header then %d-byte entries, %d bytes left over",
			len(b), entryLen, (len(b)-headerLen)%entryLen)
	case b[0] != 1:
		return Status{}, fmt.Errorf("rwho: wd_vers %d, want 1", b[0])
	case b[1] != 1:
		return Status{}, fmt.Errorf("rwho: wd_type %d, want 1 (status)", b[1])
	}
	be := binary.BigEndian
	name := b[12:44]
	n := 0
	for n < len(name) && name[n] != 0 {
		if name[n] < 0x21 || name[n] > 0x7e {
			return Status{}, fmt.Errorf("rwho: wd_hostname has byte %#x at %d: printable ASCII only", name[n], n)
		}
		n++
	}
	if n == 0 {
		return Status{}, errors.New("rwho: wd_hostname is empty")
	}
	st := Status{
		Hostname: string(name[:n]),
		SendTime: unix(be.Uint32(b[4:])),
		Boot:     unix(be.Uint32(b[56:])),
		Users:    (len(b) - headerLen) / entryLen,
	}
	for i := range st.Load {
		st.Load[i] = float64(int32(be.Uint32(b[44+4*i:]))) / 100
	}
	return st, nil
}

func unix(s uint32) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(int64(int32(s)), 0)
}

// Host is the latest status heard from one address.
type Host struct {
	Status
	From     netip.Addr
	Received time.Time
}

// Options bound a Listener; zero fields take the defaults.
type Options struct {
	// MaxHosts bounds the table (1024): a new sender is dropped when the
	// table is full of hosts heard within MaxAge.
	MaxHosts int
	// MaxAge: a host not heard for longer is unknown (11 minutes, as
	// ruptime calls a host down after 11 minutes of silence: rwhod sends
	// every 3).
	MaxAge time.Duration
	// AnySourcePort accepts packets from any port; by default only from
	// port 513, as rwhod does.
	AnySourcePort bool
}

// Listener keeps the latest status of each sender.
type Listener struct {
	conn *net.UDPConn
	opts Options
	done chan struct{}

	mu      sync.Mutex // guards the fields below, and opts.MaxAge
	hosts   map[netip.Addr]Host
	dropped uint64 // packets refused (bad, or table full)
	lastErr error
}

// Listen binds addr (":513" on a director) and listens until Close or
// until ctx is done.
func Listen(ctx context.Context, addr string, opts Options) (*Listener, error) {
	if opts.MaxHosts <= 0 {
		opts.MaxHosts = 1024
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 11 * time.Minute
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("rwho: %w", err)
	}
	l := &Listener{conn: pc.(*net.UDPConn), opts: opts, done: make(chan struct{}), hosts: map[netip.Addr]Host{}}
	stop := context.AfterFunc(ctx, func() { l.conn.Close() })
	go func() {
		defer close(l.done)
		defer stop()
		l.serve()
	}()
	return l, nil
}

// Addr is the address bound.
func (l *Listener) Addr() net.Addr { return l.conn.LocalAddr() }

// Close stops listening and waits for the receiving goroutine.
func (l *Listener) Close() error {
	err := l.conn.Close()
	<-l.done
	return err
}

func (l *Listener) serve() {
	buf := make([]byte, MaxLen+1)
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // transient (ICMP errors surfacing on the socket)
		}
		now := time.Now()
		if !l.opts.AnySourcePort && from.Port() != Port {
			l.refuse(fmt.Errorf("rwho: packet from %s: source port not %d", from, Port))
			continue
		}
		st, err := Decode(buf[:n])
		if err != nil {
			l.refuse(fmt.Errorf("%w (from %s)", err, from))
			continue
		}
		l.store(Host{Status: st, From: from.Addr().Unmap(), Received: now})
	}
}

func (l *Listener) refuse(err error) {
	l.mu.Lock()
	l.dropped++
	l.lastErr = err
	l.mu.Unlock()
}

// store records h, making room by forgetting hosts older than MaxAge when
// the table is full; a flood of new senders cannot push out live hosts.
func (l *Listener) store(h Host) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.hosts[h.From]; !ok && len(l.hosts) >= l.opts.MaxHosts {
		for a, old := range l.hosts {
			if h.Received.Sub(old.Received) > l.opts.MaxAge {
				delete(l.hosts, a)
			}
		}
		if len(l.hosts) >= l.opts.MaxHosts {
			l.dropped++
			l.lastErr = fmt.Errorf("rwho: table full (%d hosts): %s dropped", l.opts.MaxHosts, h.From)
			return
		}
	}
	l.hosts[h.From] = h
}

// Load is the latest status from host, if heard within MaxAge.
func (l *Listener) Load(host netip.Addr) (Host, bool) {
	l.mu.Lock()
	h, ok := l.hosts[host.Unmap()]
	maxAge := l.opts.MaxAge
	l.mu.Unlock()
	if !ok || time.Since(h.Received) > maxAge {
		return Host{}, false
	}
	return h, true
}

// Dropped counts the packets refused and says why the last one was.
func (l *Listener) Dropped() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dropped, l.lastErr
}
