package load

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/crypto/ssh"

	"github.com/lvsconsole/lvsconsole/lvs/load/agent"
	"github.com/lvsconsole/lvsconsole/lvs/load/feedback"
	"github.com/lvsconsole/lvsconsole/lvs/load/rwho"
	"github.com/lvsconsole/lvsconsole/lvs/load/sshload"
)

// DefaultSSHUser is whom uptime logs in as when no user is set: root, as
// piranha's nanny ran ssh.
const DefaultSSHUser = "root"

// DefaultSSHPort is uptime's port when none is set.
const DefaultSSHPort = 22

// read is the default reader: t's protocol's client.
func (m *Monitors) read(ctx context.Context, t Target) (Reading, error) {
	switch t.Kind {
	case Rup:
		st, err := m.o.Rstat.Load(ctx, t.Addr)
		if err != nil {
			return Reading{}, fmt.Errorf("rup %s: %w", t.Addr, err)
		}
		return Reading{Load: st.Load[0]}, nil
	case Ruptime:
		l, err := m.listener()
		if err != nil {
			return Reading{}, err
		}
		h, ok := l.Load(t.Addr)
		if !ok {
			return Reading{}, fmt.Errorf("ruptime: no rwhod broadcast from %s heard on %s recently (rwhod sends every 3 minutes)", t.Addr, l.Addr())
		}
		return Reading{Load: h.Load[0], At: h.Received}, nil
	case Uptime:
		signer, err := m.signer(t)
		if err != nil {
			return Reading{}, fmt.Errorf("uptime %s: %w", t.Addr, err)
		}
		user := t.User
		if user == "" {
			user = DefaultSSHUser
		}
		loads, err := sshload.Load(ctx, sshload.Config{Addr: sshAddr(t), User: user, Signer: signer, Keys: m.o.HostKeys})
		if err != nil {
			return Reading{}, err
		}
		return Reading{Load: loads[0]}, nil
	case Agent:
		if t.Port == 0 {
			return Reading{}, fmt.Errorf("agent %s: no port: set the virtual server's or the real server's load_port", t.Addr)
		}
		a, err := agent.Query(ctx, netip.AddrPortFrom(t.Addr, t.Port).String(), t.Send)
		if err != nil {
			return Reading{}, err
		}
		return Reading{Answer: a}, nil
	case Feedback:
		port := t.Port
		if port == 0 {
			port = feedback.DefaultPort
		}
		ap := netip.AddrPortFrom(t.Addr, port).String()
		var idle int
		var err error
		if t.HTTPPath != "" {
			idle, err = feedback.IdleHTTP(ctx, "http://"+ap+t.HTTPPath)
		} else {
			idle, err = feedback.Idle(ctx, ap)
		}
		if err != nil {
			return Reading{}, err
		}
		return Reading{Answer: agent.Answer{Percent: idle, Weight: -1, MaxConn: -1}}, nil
	}
	return Reading{}, fmt.Errorf("load monitor %q: unknown", t.Kind)
}

// sshAddr is uptime's address of t, host:port, as its host key is pinned.
func sshAddr(t Target) string {
	port := t.Port
	if port == 0 {
		port = DefaultSSHPort
	}
	return netip.AddrPortFrom(t.Addr, port).String()
}

// signer is uptime's key for t: its own file (read at each reading, so
// that a replaced key is taken), else the director's.
func (m *Monitors) signer(t Target) (ssh.Signer, error) {
	if t.KeyFile != "" {
		return sshload.ReadKey(t.KeyFile)
	}
	if m.o.DirectorKey == nil {
		return nil, errors.New("no SSH key: set the virtual server's load_ssh_key (the director's own key is not available here)")
	}
	return m.o.DirectorKey()
}

// listener is the rwho listener, opened on first use while Run runs.
func (m *Monitors) listener() (*rwho.Listener, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.listenLocked()
}

// listenLocked opens the rwho listener if it is not open; m.mu is held.
// Set opens it as soon as a target is ruptime's, so that the broadcasts
// (every 3 minutes) are heard before the first reading; a reading tries
// again when that failed.
func (m *Monitors) listenLocked() (*rwho.Listener, error) {
	if m.rwho != nil {
		return m.rwho, nil
	}
	if m.o.RwhoListen == "" {
		return nil, errors.New("ruptime: rwhod's broadcasts are not listened for (serve's -rwho-listen is empty)")
	}
	if m.ctx == nil {
		return nil, errors.New("ruptime: the monitors are not running")
	}
	l, err := rwho.Listen(m.ctx, m.o.RwhoListen, m.o.Rwho)
	if err != nil {
		err = fmt.Errorf("ruptime: listening for rwhod's broadcasts on %s: %w", m.o.RwhoListen, err)
		if msg := err.Error(); msg != m.rwhoErr {
			m.rwhoErr = msg
			m.o.Log.Error("load monitor", "err", err)
		}
		return nil, err
	}
	m.rwho, m.rwhoErr = l, ""
	m.o.Log.Info("ruptime: listening for rwhod's broadcasts", "addr", l.Addr().String())
	return l, nil
}
