package config_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// warningOf returns the one warning of c, failing unless there is exactly
// one, at the coordinates given.
func warningOf(t *testing.T, c *config.Config, section string, vi, ri int, field string) *config.FieldError {
	t.Helper()
	ws := c.Warnings()
	if len(ws) != 1 {
		t.Fatalf("%d warnings, want 1 (%s %s): %v", len(ws), section, field, ws)
	}
	w := ws[0]
	if w.Section != section || w.Virtual != vi || w.Real != ri || w.Field != field {
		t.Fatalf("warning %v: section=%q virtual=%d real=%d field=%q; want %q %d %d %q",
			w, w.Section, w.Virtual, w.Real, w.Field, section, vi, ri, field)
	}
	return w
}

// Inactive entries are drafts, as in piranha, whose daemons skip them
// (lvsd.c startVirtualServer returns at once for !vserver->isActive, and
// parseVirtualServer in lvsconfig.c requires no address at all): what an
// active entry must have is only a warning on an inactive one, and the very
// same message refuses it once someone activates it. An entry is in effect
// when it and its virtual server are active.
func TestValidateDrafts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		draft    func(c *config.Config) // an accepted draft
		activate func(c *config.Config) // what ACTIVATE changes
		section  string
		vi, ri   int
		field    string
		want     string
	}{
		{"virtual server without an address",
			func(c *config.Config) { web(c).Active, web(c).Address, web(c).Device = false, netip.Addr{}, "" },
			func(c *config.Config) { web(c).Active = true },
			virt, vWeb, -1, "address", "is required: the virtual IP address"},
		{"real servers of a firewall-mark service without a port",
			func(c *config.Config) { marked(c).Active, marked(c).Port, m1(c).Port = false, 0, 0 },
			func(c *config.Config) { marked(c).Active = true },
			srv, vMarked, 0, "port", "the firewall-mark virtual server has no port to inherit"},
		{"active real server without an address in an inactive virtual server",
			func(c *config.Config) { web(c).Active, web1(c).Address = false, netip.Addr{} },
			func(c *config.Config) { web(c).Active = true },
			srv, vWeb, 0, "address", "is required: the real server's IP address"},
		{"inactive real server without an address",
			func(c *config.Config) { web1(c).Active, web1(c).Address = false, netip.Addr{} },
			func(c *config.Config) { web1(c).Active = true },
			srv, vWeb, 0, "address", "is required: the real server's IP address"},
		// pulse.c send_heartbeat returns at once while !config->backupActive:
		// without a backup no heartbeat runs, so its timing cannot be wrong.
		{"deadtime not longer than keepalive without a backup",
			func(c *config.Config) {
				c.Redundancy.BackupActive = false
				c.Redundancy.Keepalive, c.Redundancy.Deadtime = 6*time.Second, 6*time.Second
			},
			func(c *config.Config) { c.Redundancy.BackupActive = true },
			red, -1, -1, "deadtime", "must be longer than keepalive"},
		{"keepalive 0 without a backup",
			func(c *config.Config) {
				c.Redundancy.BackupActive = false
				c.Redundancy.Keepalive = 0
			},
			func(c *config.Config) { c.Redundancy.BackupActive = true },
			red, -1, -1, "keepalive", "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.draft(c)
			if err := c.Validate(); err != nil {
				t.Fatalf("the draft is refused: %v", err)
			}
			w := warningOf(t, c, tc.section, tc.vi, tc.ri, tc.field)
			if !strings.Contains(w.Msg, tc.want) {
				t.Errorf("warning %q does not say %q", w.Msg, tc.want)
			}
			tc.activate(c)
			checkOne(t, c.Validate(), tc.section, tc.vi, tc.ri, tc.field, w.Msg)
			if ws := c.Warnings(); len(ws) != 0 {
				t.Errorf("once refused it is still a warning too: %v", ws)
			}
		})
	}
}

// A complete configuration has no warnings, and Validate's verdicts on
// active entries are not warnings.
func TestWarningsOfValid(t *testing.T) {
	c := valid()
	if ws := c.Warnings(); len(ws) != 0 {
		t.Errorf("valid() has warnings: %v", ws)
	}
	web(c).Address = netip.Addr{}
	if ws := c.Warnings(); len(ws) != 0 {
		t.Errorf("an active virtual server without an address is a warning: %v", ws)
	}
}

// What lvs.cf cannot carry the way piranha reads it stays refused, drafts
// or not: a mask of 0 bits, which piranha reads as "not given" (pulse.c
// sendArps brings the address up without a netmask when vip_nmask.s_addr
// is 0, lvsd.c startVirtualServer passes no -M when pmask.s_addr is 0), and
// a device without the address it would carry (lvsconfig.c
// parseVirtualServer reads "address = IP dev" as one key).
func TestValidateRefusesWhatPiranhaReadsOtherwise(t *testing.T) {
	for _, tc := range []refusal{
		{"vip_nmask /0", func(c *config.Config) { web(c).Netmask = config.MaskBits(0) }, virt, vWeb, -1, "vip_nmask", "not given"},
		{"pmask /0 on IPv4", func(c *config.Config) { web(c).PersistenceNetmask = config.MaskBits(0) }, virt, vWeb, -1, "pmask", "not given"},
		{"nat_nmask /0", func(c *config.Config) { c.Global.NATNetmask = config.MaskBits(0) }, glob, -1, -1, "nat_nmask", "not given"},
		{"vip_nmask /0 on an inactive draft", func(c *config.Config) {
			web(c).Active, web(c).Netmask = false, config.MaskBits(0)
		}, virt, vWeb, -1, "vip_nmask", "not given"},
		{"device without an address on an inactive draft", func(c *config.Config) {
			web(c).Active, web(c).Address = false, netip.Addr{}
		}, virt, vWeb, -1, "address", `required with a device ("eth0:1")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mut(c)
			checkOne(t, c.Validate(), tc.section, tc.vi, tc.ri, tc.field, tc.want)
		})
	}
}

// Check gives what Validate and Warnings give, in one pass.
func TestCheckIsValidateAndWarnings(t *testing.T) {
	c := valid()
	web(c).Active, web(c).Address, web(c).Device = false, netip.Addr{}, ""
	web6(c).Scheduler = "bogus"
	ws, err := c.Check()
	if err == nil || err.Error() != c.Validate().Error() || len(ws) != 1 || ws[0].Error() != c.Warnings()[0].Error() {
		t.Errorf("Check = %v, %v; Validate %v, Warnings %v", ws, err, c.Validate(), c.Warnings())
	}
}
