package handlers

// What the console shows of the load monitors (issue 18): each real
// server's configured and current weight and why they differ, the
// monitor's latest reading, the uptime monitor's pinned SSH host key
// (FORGET, for admins), and the director's own public key to install on
// the real servers.

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/load"
	"github.com/lvsconsole/lvsconsole/lvs/load/sshload"
	"github.com/lvsconsole/lvsconsole/store"
	"github.com/lvsconsole/lvsconsole/web"
)

// sshPort is the uptime monitor's port when neither the real server nor
// its virtual server sets one.
const sshPort = 22

// uptimeAddr is the address the uptime monitor connects to, and its host
// key pin's key: the real server's address and its load port, else the
// virtual server's, else ssh's.
func uptimeAddr(vs *config.VirtualServer, rs *config.RealServer) string {
	port := rs.LoadPort
	if port == 0 {
		port = vs.LoadPort
	}
	if port == 0 {
		port = sshPort
	}
	return netip.AddrPortFrom(rs.Address, uint16(port)).String()
}

// withLoad adds what the checks say of the weight: the weight in IPVS,
// why it is not the configured one, and the load monitor's latest.
func (c *Console) withLoad(row *web.RealRow, vs *config.VirtualServer, rs *config.RealServer, h engine.ServerHealth) {
	row.Checked, row.Current, row.Why = true, int64(h.Weight), h.Why
	if h.Load == nil && load.Kind(vs.LoadMonitor) != load.Uptime {
		return
	}
	lv := &web.LoadView{Monitor: vs.LoadMonitor}
	if h.Load != nil {
		lv.Monitor, lv.Reading, lv.Error, lv.At, lv.Weight, lv.HostKey = h.Load.Monitor, h.Load.Reading, h.Load.Error, h.Load.At, h.Load.Weight, h.Load.HostKey
	}
	row.Load = lv
}

// withPin shows, on a real server's page, the uptime monitor's host key
// as the store has it now: the pin FORGET removes (the monitor's status
// has it as of its latest reading). Lists leave it out, and so cost no
// query per server.
func (c *Console) withPin(row *web.RealRow, vs *config.VirtualServer, rs *config.RealServer) {
	if row.Load == nil || load.Kind(vs.LoadMonitor) != load.Uptime || !rs.Address.IsValid() {
		return
	}
	row.Load.SSHHost = uptimeAddr(vs, rs)
	row.Load.HostKey, _ = c.store.Pinned(row.Load.SSHHost)
}

// forgetHostKey is FORGET on a real server's pinned SSH host key (after
// the server was reinstalled, say): the next reading of the uptime monitor
// pins the key it is offered then. The pins are each director's own, so
// the standby forgets too.
func (c *Console) forgetHostKey(w http.ResponseWriter, r *http.Request) {
	_, _, vs, ok := c.loadVirtual(w, r)
	if !ok {
		return
	}
	_, rs := realByID(vs, idParam(r, "rid"))
	if rs == nil || !rs.Address.IsValid() {
		c.notFound(w, r)
		return
	}
	host := uptimeAddr(vs, rs)
	back := fmt.Sprintf("/virtual/%d/real/%d#load", vs.ID, rs.ID)
	switch err := c.store.ForgetHostKey(r.Context(), host); {
	case errors.Is(err, store.ErrNoHostKey):
		setFlash(w, r, fmt.Sprintf("No SSH host key is pinned for %s: nothing to forget.", host))
	case err != nil:
		c.serverError(w, r, "forgetting the host key", err)
		return
	default:
		c.log.Info("SSH host key forgotten", "host", host, "user", userOf(r))
		setFlash(w, r, fmt.Sprintf("The SSH host key of %s is forgotten: the next reading pins the key the server offers then.", host))
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// loadKeyView is the director's own public key as the line to put in a
// real server's authorized_keys: it may only read the load.
func (c *Console) loadKeyView() web.LoadKey {
	if c.loadKey == nil {
		return web.LoadKey{Err: "not available: this console runs no load monitors"}
	}
	key, err := c.loadKey.PublicKey()
	if err != nil {
		return web.LoadKey{Err: "not available: " + err.Error()}
	}
	return web.LoadKey{Line: sshload.AuthorizedLine(key)}
}
