package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// ErrConflict is returned by Update when the configuration changed since the
// serial the caller based its edit on: two tabs, or two admins, editing at
// once. The caller reloads and tries again; nothing is overwritten silently.
var ErrConflict = errors.New("the configuration was changed by someone else since it was loaded")

// ConflictError says which revision got in first.
type ConflictError struct {
	Base    int64 // the serial the edit was based on
	Current Revision
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: you edited serial %d, but %s saved serial %d at %s (%s)",
		ErrConflict, e.Base, e.Current.Author, e.Current.Serial,
		e.Current.Created.Format(time.RFC3339), e.Current.Summary)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// ErrNoChange is returned by Update when fn left the configuration as it was:
// no revision is written for nothing.
var ErrNoChange = errors.New("nothing changed")

// Change describes who makes a change and on which serial it is based.
type Change struct {
	Author string // user name, "import", "peer", ...
	// Base is the serial the edit was made on; 0 skips the conflict check
	// (imports and command-line tools that replace the whole configuration).
	Base int64
	// Note goes before the computed summary of what changed, e.g.
	// "import of lvs.cf" or "restored revision 12".
	Note string
	// Elevated says the author proved who they are for this change: a
	// console user who re-entered their password in this request, or
	// root at the command line. Only then may a change add or alter a
	// program the directors run as root (ErrNeedsPassword); an API token
	// never is.
	Elevated bool
}

// Config returns the current configuration.
func (s *Store) Config(ctx context.Context) (*config.Config, error) {
	tx, err := s.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	defer tx.Rollback()
	c, err := s.current(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	return c, nil
}

// current returns a copy of the configuration q sees, from the cache when
// the serial says it is still the one stored. Every writer, in this process
// or another, bumps the serial, so the check is enough.
func (s *Store) current(ctx context.Context, q querier) (*config.Config, error) {
	var serial int64
	if err := q.QueryRowContext(ctx, `SELECT serial FROM settings WHERE id = 1`).Scan(&serial); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	s.mu.Lock()
	cached := s.cached
	s.mu.Unlock()
	if cached != nil && cached.Serial == serial {
		return cached.Clone(), nil
	}
	c, err := loadConfig(ctx, q)
	if err != nil {
		return nil, err
	}
	s.remember(c)
	return c, nil
}

// remember caches a copy of c as the configuration at c.Serial.
func (s *Store) remember(c *config.Config) {
	c = c.Clone()
	s.mu.Lock()
	if s.cached == nil || c.Serial >= s.cached.Serial {
		s.cached = c
	}
	s.mu.Unlock()
}

// Update applies fn to a copy of the current configuration and, when the
// result is valid, saves it as a new revision in one transaction. It returns
// the saved configuration with its new serial and the ids of new entries. An
// error from fn, a *config.ValidationError, ErrNoChange, a *ConflictError or
// a *ProgramError (ErrNeedsPassword: see Change.Elevated) leave the
// database untouched. A program the change adds or alters must also be a
// file only root can change, or is refused as a field error.
func (s *Store) Update(ctx context.Context, ch Change, fn func(*config.Config) error) (*config.Config, error) {
	return s.save(ctx, ch, fn, 0)
}

// ErrStale is returned by Adopt for a configuration whose serial is not
// above the current one.
var ErrStale = errors.New("the configuration is not newer than this one")

// Adopt saves cfg, received from the peer director, whole and at its own
// serial, so that both directors number the same configuration alike. Its
// serial must be above the current one (else ErrStale); it is validated like
// every change, and saved even when only the serial differs.
func (s *Store) Adopt(ctx context.Context, ch Change, cfg *config.Config) (*config.Config, error) {
	if cfg.Serial <= 0 {
		return nil, fmt.Errorf("adopting a configuration without a serial: %w", ErrStale)
	}
	return s.save(ctx, ch, func(c *config.Config) error {
		next := cfg.Clone()
		stripIDs(next) // the peer's ids mean nothing here
		adoptIDs(c, next)
		next.Serial = c.Serial
		*c = *next
		return nil
	}, cfg.Serial)
}

func stripIDs(c *config.Config) {
	for i := range c.Virtuals {
		c.Virtuals[i].ID = 0
		for j := range c.Virtuals[i].Reals {
			c.Virtuals[i].Reals[j].ID = 0
		}
	}
}

// save is Update, or with at > 0 Adopt's save at serial at.
func (s *Store) save(ctx context.Context, ch Change, fn func(*config.Config) error, at int64) (*config.Config, error) {
	if ch.Author == "" {
		return nil, errors.New("a change needs an author")
	}
	var saved *config.Config
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := s.current(ctx, tx)
		if err != nil {
			return fmt.Errorf("reading the configuration: %w", err)
		}
		if ch.Base != 0 && ch.Base != old.Serial {
			rev, err := revisionMeta(ctx, tx, old.Serial)
			if err != nil {
				return err
			}
			return &ConflictError{Base: ch.Base, Current: rev}
		}
		next := old.Clone()
		if err := fn(next); err != nil {
			return err
		}
		if err := next.Validate(); err != nil {
			return err
		}
		// Adopt is exempt: the peer secret authenticates the active
		// director, and the standby checks each program when it runs it.
		if at == 0 {
			if err := checkPrograms(old, next, ch.Elevated); err != nil {
				return err
			}
		}
		if at != 0 && at <= old.Serial {
			return fmt.Errorf("serial %d, this director is at %d: %w", at, old.Serial, ErrStale)
		}
		changes := config.Diff(old, next)
		if len(changes) == 0 && at == 0 {
			return ErrNoChange
		}
		summary := summarize(changes)
		if len(changes) == 0 {
			summary = "no change but the serial"
		}
		if ch.Note != "" {
			summary = ch.Note + ": " + summary
		}
		// Never backwards: an import (Replace) keeps a file's serial
		// that is ahead.
		next.Serial = max(old.Serial+1, next.Serial)
		if at != 0 {
			next.Serial = at
		}
		if err := writeConfig(ctx, tx, old, next); err != nil {
			return fmt.Errorf("saving the configuration: %w", err)
		}
		if err := insertRevision(ctx, tx, next, ch.Author, summary, s.now()); err != nil {
			return err
		}
		saved = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.remember(saved)
	s.notify()
	return saved, nil
}

// Replace saves cfg whole as the next revision (an import, or a
// configuration received from the peer). Virtual and real servers without an
// id take the id of the current entry of the same name, so that their
// history and health state carry over. The serial is cfg's when that is
// ahead of the current one (an imported file's serial_no, which must not go
// backwards), else the next one.
func (s *Store) Replace(ctx context.Context, ch Change, cfg *config.Config) (*config.Config, error) {
	return s.Update(ctx, ch, func(c *config.Config) error {
		next := cfg.Clone()
		adoptIDs(c, next)
		next.Serial = max(c.Serial, cfg.Serial)
		*c = *next
		return nil
	})
}

func adoptIDs(old, next *config.Config) {
	for i := range next.Virtuals {
		vs := &next.Virtuals[i]
		prev := old.Virtual(vs.Name)
		if prev == nil {
			continue
		}
		if vs.ID == 0 {
			vs.ID = prev.ID
		}
		if vs.ID != prev.ID {
			continue
		}
		for j := range vs.Reals {
			if rs := &vs.Reals[j]; rs.ID == 0 {
				if p := prev.Real(rs.Name); p != nil {
					rs.ID = p.ID
				}
			}
		}
	}
}

// summarize keeps a revision's summary readable when an import changes
// everything.
func summarize(changes []string) string {
	const max = 20
	if len(changes) <= max {
		return strings.Join(changes, "; ")
	}
	return strings.Join(changes[:max], "; ") + fmt.Sprintf("; and %d more changes", len(changes)-max)
}

// seed writes the default configuration as revision 1 into a new database.
func (s *Store) seed(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM settings`).Scan(&n); err != nil {
			return fmt.Errorf("reading settings: %w", err)
		}
		if n > 0 {
			return nil
		}
		c := config.Default()
		c.Serial = 1
		if err := writeSettings(ctx, tx, c); err != nil {
			return fmt.Errorf("seeding the default configuration: %w", err)
		}
		return insertRevision(ctx, tx, c, "lvsconsole", "initial configuration", s.now())
	})
}

// querier is what both *sql.Tx and *sql.DB offer for reading.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func loadConfig(ctx context.Context, q querier) (*config.Config, error) {
	c := &config.Config{}
	g, r := &c.Global, &c.Redundancy
	var (
		primary, primaryPrivate, natRouter, natMask, backup, backupPrivate text
		keepalive, deadtime, preemptDelay                                  millis
	)
	err := q.QueryRowContext(ctx, `SELECT serial,
		primary_addr, primary_private, network, nat_router, nat_router_device, nat_nmask,
		tcp_timeout, tcpfin_timeout, udp_timeout, active_cmd, inactive_cmd,
		service, hard_shutdown, rsh_command, debug_level,
		backup_active, backup, backup_private, heartbeat, keepalive_ms, deadtime_ms,
		heartbeat_port, monitor_links, syncdaemon, syncd_iface, syncd_id,
		preempt, preempt_delay_ms
		FROM settings WHERE id = 1`).Scan(&c.Serial,
		&primary, &primaryPrivate, &g.Network, &natRouter, &g.NATRouterDevice, &natMask,
		&g.TCPTimeout, &g.TCPFinTimeout, &g.UDPTimeout, &g.ActiveCmd, &g.InactiveCmd,
		&g.Service, &g.HardShutdown, &g.RshCommand, &g.DebugLevel,
		&r.BackupActive, &backup, &backupPrivate, &r.Heartbeat, &keepalive, &deadtime,
		&r.HeartbeatPort, &r.MonitorLinks, &r.SyncDaemon, &r.SyncIface, &r.SyncID,
		&r.Preempt, &preemptDelay)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	var errs []error
	g.Primary = primary.addr(&errs)
	g.PrimaryPrivate = primaryPrivate.addr(&errs)
	g.NATRouter = natRouter.addr(&errs)
	g.NATNetmask = natMask.mask(&errs)
	r.Backup = backup.addr(&errs)
	r.BackupPrivate = backupPrivate.addr(&errs)
	r.Keepalive, r.Deadtime = time.Duration(keepalive)*time.Millisecond, time.Duration(deadtime)*time.Millisecond
	r.PreemptDelay = time.Duration(preemptDelay) * time.Millisecond

	rows, err := q.QueryContext(ctx, `SELECT id, name, active, address, device, netmask,
		protocol, port, fwmark, scheduler, sched_fallback, sched_port, one_packet,
		persistence, pmask, sorry_server, check_timeout_ms, reentry_ms, quiesce,
		load_monitor, send, expect, use_regex, send_program,
		check_kind, check_interval_ms, check_failures, http_path, http_host, http_status, http_body, tls_verify
		FROM virtual_servers ORDER BY position, id`)
	if err != nil {
		return nil, fmt.Errorf("virtual servers: %w", err)
	}
	index := map[int64]int{}
	for rows.Next() {
		var (
			vs                                   config.VirtualServer
			addr, mask, pmask, sorry             text
			checkTimeout, reentry, checkInterval millis
		)
		if err := rows.Scan(&vs.ID, &vs.Name, &vs.Active, &addr, &vs.Device, &mask,
			&vs.Protocol, &vs.Port, &vs.FWMark, &vs.Scheduler, &vs.SchedFallback, &vs.SchedPort, &vs.OnePacket,
			&vs.Persistence, &pmask, &sorry, &checkTimeout, &reentry, &vs.Quiesce,
			&vs.LoadMonitor, &vs.Send, &vs.Expect, &vs.UseRegex, &vs.SendProgram,
			&vs.CheckKind, &checkInterval, &vs.CheckFailures, &vs.HTTPPath, &vs.HTTPHost, &vs.HTTPStatus, &vs.HTTPBody, &vs.TLSVerify); err != nil {
			rows.Close()
			return nil, fmt.Errorf("virtual servers: %w", err)
		}
		vs.Address, vs.SorryServer = addr.addr(&errs), sorry.addr(&errs)
		vs.Netmask, vs.PersistenceNetmask = mask.mask(&errs), pmask.mask(&errs)
		vs.CheckTimeout, vs.Reentry = time.Duration(checkTimeout)*time.Millisecond, time.Duration(reentry)*time.Millisecond
		vs.CheckInterval = time.Duration(checkInterval) * time.Millisecond
		index[vs.ID] = len(c.Virtuals)
		c.Virtuals = append(c.Virtuals, vs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("virtual servers: %w", err)
	}

	rows, err = q.QueryContext(ctx, `SELECT id, virtual_id, name, active, address, port, weight,
		forward, uthreshold, lthreshold FROM real_servers ORDER BY virtual_id, position, id`)
	if err != nil {
		return nil, fmt.Errorf("real servers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rs   config.RealServer
			vid  int64
			addr text
		)
		if err := rows.Scan(&rs.ID, &vid, &rs.Name, &rs.Active, &addr, &rs.Port, &rs.Weight,
			&rs.Forward, &rs.UpperThreshold, &rs.LowerThreshold); err != nil {
			return nil, fmt.Errorf("real servers: %w", err)
		}
		rs.Address = addr.addr(&errs)
		i, ok := index[vid]
		if !ok {
			return nil, fmt.Errorf("real server %d belongs to missing virtual server %d", rs.ID, vid)
		}
		c.Virtuals[i].Reals = append(c.Virtuals[i].Reals, rs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("real servers: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the database holds a value this program cannot read: %w", err)
	}
	return c, nil
}

// text and millis name the column encodings: addresses and netmasks as
// text ("" = not set), durations as milliseconds.
type (
	text   string
	millis int64
)

func (t text) addr(errs *[]error) netip.Addr {
	a, err := config.ParseAddr(string(t))
	if err != nil {
		*errs = append(*errs, err)
	}
	return a
}

func (t text) mask(errs *[]error) config.Netmask {
	m, err := config.ParseNetmask(string(t))
	if err != nil {
		*errs = append(*errs, err)
	}
	return m
}

// writeConfig writes the rows of next that differ from old: an edit of one
// real server writes one row, not the whole table.
func writeConfig(ctx context.Context, tx *sql.Tx, old, next *config.Config) error {
	if old.Global != next.Global || old.Redundancy != next.Redundancy {
		if err := writeSettings(ctx, tx, next); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE settings SET serial = ? WHERE id = 1`, next.Serial); err != nil {
		return err
	}

	if err := checkIDs(next); err != nil {
		return err
	}
	// Where each old entry was: a row is rewritten when its content or its
	// place changed.
	type place struct {
		vid int64
		pos int
	}
	oldVS := map[int64]*config.VirtualServer{}
	oldVSPos := map[int64]int{}
	oldRS := map[int64]*config.RealServer{}
	oldRSPos := map[int64]place{}
	for i := range old.Virtuals {
		vs := &old.Virtuals[i]
		oldVS[vs.ID], oldVSPos[vs.ID] = vs, i
		for j := range vs.Reals {
			oldRS[vs.Reals[j].ID], oldRSPos[vs.Reals[j].ID] = &vs.Reals[j], place{vs.ID, j}
		}
	}
	keepVS, keepRS := map[int64]bool{}, map[int64]bool{}
	for i := range next.Virtuals {
		vs := &next.Virtuals[i]
		if prev := oldVS[vs.ID]; prev == nil || oldVSPos[vs.ID] != i || !sameVirtual(prev, vs) {
			if err := upsertVirtual(ctx, tx, vs, i); err != nil {
				return fmt.Errorf("virtual server %s: %w", vs.Name, err)
			}
		}
		keepVS[vs.ID] = true
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			prev := oldRS[rs.ID]
			if prev == nil || oldRSPos[rs.ID] != (place{vs.ID, j}) || *prev != *rs {
				if err := upsertReal(ctx, tx, vs.ID, rs, j); err != nil {
					return fmt.Errorf("real server %s of %s: %w", rs.Name, vs.Name, err)
				}
			}
			keepRS[rs.ID] = true
		}
	}
	for id := range oldRS {
		if !keepRS[id] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM real_servers WHERE id = ?`, id); err != nil {
				return err
			}
		}
	}
	for id := range oldVS {
		if !keepVS[id] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM virtual_servers WHERE id = ?`, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkIDs refuses a configuration in which two entries claim one id: the
// second would overwrite the first's row.
func checkIDs(c *config.Config) error {
	vids, rids := map[int64]bool{}, map[int64]bool{}
	for _, vs := range c.Virtuals {
		if vs.ID != 0 && vids[vs.ID] {
			return fmt.Errorf("virtual server %s: id %d is used twice", vs.Name, vs.ID)
		}
		vids[vs.ID] = true
		for _, rs := range vs.Reals {
			if rs.ID != 0 && rids[rs.ID] {
				return fmt.Errorf("real server %s of %s: id %d is used twice", rs.Name, vs.Name, rs.ID)
			}
			rids[rs.ID] = true
		}
	}
	return nil
}

// sameVirtual compares two virtual servers' own fields, not their reals.
func sameVirtual(a, b *config.VirtualServer) bool {
	x, y := *a, *b
	x.Reals, y.Reals = nil, nil
	return reflect.DeepEqual(x, y)
}

func writeSettings(ctx context.Context, tx *sql.Tx, c *config.Config) error {
	g, r := &c.Global, &c.Redundancy
	_, err := tx.ExecContext(ctx, `INSERT INTO settings (id, serial,
		primary_addr, primary_private, network, nat_router, nat_router_device, nat_nmask,
		tcp_timeout, tcpfin_timeout, udp_timeout, active_cmd, inactive_cmd,
		service, hard_shutdown, rsh_command, debug_level,
		backup_active, backup, backup_private, heartbeat, keepalive_ms, deadtime_ms,
		heartbeat_port, monitor_links, syncdaemon, syncd_iface, syncd_id, preempt, preempt_delay_ms)
		VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET serial = excluded.serial,
		primary_addr = excluded.primary_addr, primary_private = excluded.primary_private,
		network = excluded.network, nat_router = excluded.nat_router,
		nat_router_device = excluded.nat_router_device, nat_nmask = excluded.nat_nmask,
		tcp_timeout = excluded.tcp_timeout, tcpfin_timeout = excluded.tcpfin_timeout,
		udp_timeout = excluded.udp_timeout, active_cmd = excluded.active_cmd,
		inactive_cmd = excluded.inactive_cmd, service = excluded.service,
		hard_shutdown = excluded.hard_shutdown, rsh_command = excluded.rsh_command,
		debug_level = excluded.debug_level, backup_active = excluded.backup_active,
		backup = excluded.backup, backup_private = excluded.backup_private,
		heartbeat = excluded.heartbeat, keepalive_ms = excluded.keepalive_ms,
		deadtime_ms = excluded.deadtime_ms, heartbeat_port = excluded.heartbeat_port,
		monitor_links = excluded.monitor_links, syncdaemon = excluded.syncdaemon,
		syncd_iface = excluded.syncd_iface, syncd_id = excluded.syncd_id,
		preempt = excluded.preempt, preempt_delay_ms = excluded.preempt_delay_ms`,
		c.Serial,
		config.FormatAddr(g.Primary), config.FormatAddr(g.PrimaryPrivate), g.Network,
		config.FormatAddr(g.NATRouter), g.NATRouterDevice, g.NATNetmask.String(),
		g.TCPTimeout, g.TCPFinTimeout, g.UDPTimeout, g.ActiveCmd, g.InactiveCmd,
		g.Service, g.HardShutdown, g.RshCommand, g.DebugLevel,
		r.BackupActive, config.FormatAddr(r.Backup), config.FormatAddr(r.BackupPrivate), r.Heartbeat,
		r.Keepalive.Milliseconds(), r.Deadtime.Milliseconds(),
		r.HeartbeatPort, r.MonitorLinks, r.SyncDaemon, r.SyncIface, r.SyncID,
		r.Preempt, r.PreemptDelay.Milliseconds())
	return err
}

// upsertVirtual writes vs at position pos, assigning vs.ID when it is new.
func upsertVirtual(ctx context.Context, tx *sql.Tx, vs *config.VirtualServer, pos int) error {
	var id any
	if vs.ID != 0 {
		id = vs.ID
	}
	return tx.QueryRowContext(ctx, `INSERT INTO virtual_servers (id, position, name, active,
		address, device, netmask, protocol, port, fwmark, scheduler, sched_fallback, sched_port,
		one_packet, persistence, pmask, sorry_server, check_timeout_ms, reentry_ms, quiesce,
		load_monitor, send, expect, use_regex, send_program,
		check_kind, check_interval_ms, check_failures, http_path, http_host, http_status, http_body, tls_verify)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET position = excluded.position, name = excluded.name,
		active = excluded.active, address = excluded.address, device = excluded.device,
		netmask = excluded.netmask, protocol = excluded.protocol, port = excluded.port,
		fwmark = excluded.fwmark, scheduler = excluded.scheduler,
		sched_fallback = excluded.sched_fallback, sched_port = excluded.sched_port,
		one_packet = excluded.one_packet, persistence = excluded.persistence,
		pmask = excluded.pmask, sorry_server = excluded.sorry_server,
		check_timeout_ms = excluded.check_timeout_ms, reentry_ms = excluded.reentry_ms,
		quiesce = excluded.quiesce, load_monitor = excluded.load_monitor, send = excluded.send,
		expect = excluded.expect, use_regex = excluded.use_regex,
		send_program = excluded.send_program, check_kind = excluded.check_kind,
		check_interval_ms = excluded.check_interval_ms, check_failures = excluded.check_failures,
		http_path = excluded.http_path, http_host = excluded.http_host, http_status = excluded.http_status,
		http_body = excluded.http_body, tls_verify = excluded.tls_verify
		RETURNING id`,
		id, pos, vs.Name, vs.Active, config.FormatAddr(vs.Address), vs.Device, vs.Netmask.String(),
		vs.Protocol, vs.Port, vs.FWMark, vs.Scheduler, vs.SchedFallback, vs.SchedPort,
		vs.OnePacket, vs.Persistence, vs.PersistenceNetmask.String(), config.FormatAddr(vs.SorryServer),
		vs.CheckTimeout.Milliseconds(), vs.Reentry.Milliseconds(), vs.Quiesce,
		vs.LoadMonitor, vs.Send, vs.Expect, vs.UseRegex, vs.SendProgram,
		vs.CheckKind, vs.CheckInterval.Milliseconds(), vs.CheckFailures, vs.HTTPPath, vs.HTTPHost, vs.HTTPStatus,
		vs.HTTPBody, vs.TLSVerify).Scan(&vs.ID)
}

// upsertReal writes rs at position pos of virtual server vid, assigning
// rs.ID when it is new.
func upsertReal(ctx context.Context, tx *sql.Tx, vid int64, rs *config.RealServer, pos int) error {
	var id any
	if rs.ID != 0 {
		id = rs.ID
	}
	return tx.QueryRowContext(ctx, `INSERT INTO real_servers (id, virtual_id, position, name,
		active, address, port, weight, forward, uthreshold, lthreshold)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET virtual_id = excluded.virtual_id,
		position = excluded.position, name = excluded.name, active = excluded.active,
		address = excluded.address, port = excluded.port, weight = excluded.weight,
		forward = excluded.forward, uthreshold = excluded.uthreshold,
		lthreshold = excluded.lthreshold
		RETURNING id`,
		id, vid, pos, rs.Name, rs.Active, config.FormatAddr(rs.Address), rs.Port, rs.Weight,
		rs.Forward, rs.UpperThreshold, rs.LowerThreshold).Scan(&rs.ID)
}
