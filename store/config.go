package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
		ErrConflict, e.Base, e.Current.By(), e.Current.Serial,
		e.Current.Created.Format(time.RFC3339), e.Current.Summary)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// ErrNoChange is returned by Update when fn left the configuration as it was:
// no revision is written for nothing.
var ErrNoChange = errors.New("nothing changed")

// Change describes who makes a change and on which serial it is based.
type Change struct {
	Author string // user name, "import", "peer", ...
	// Token is the name of the API token the change is made with, if it
	// is: the history names it beside Author, its owner.
	Token string
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
	// Role is what the author may change (Allowed): a console user's
	// role, an API token's scope; ScopeAdmin for root at the command
	// line and the director's own changes. Zero refuses every change.
	Role Scope
}

// Config returns the current configuration.
func (s *Store) Config(ctx context.Context) (*config.Config, error) {
	return s.readConfig(ctx, func(q querier) (*config.Config, error) { return s.current(ctx, q) })
}

// SharedConfig is Config without the copy: the configuration the store
// keeps, which the caller must only read (the engine, which reads the
// whole configuration at every change: a copy of 10,000 x 10 is some
// 20 ms).
func (s *Store) SharedConfig(ctx context.Context) (*config.Config, error) {
	c, err := s.readConfig(ctx, func(q querier) (*config.Config, error) {
		return s.shared(ctx, q)
	})
	if err == nil {
		s.lend(c)
	}
	return c, err
}

// readConfig runs read in a read-only transaction: the serial and the
// rows it reads are of one revision.
func (s *Store) readConfig(ctx context.Context, read func(querier) (*config.Config, error)) (*config.Config, error) {
	tx, err := s.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	defer tx.Rollback()
	c, err := read(tx)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	return c, nil
}

// current returns a copy of the configuration q sees, from the cache when
// the serial says it is still the one stored. Every writer, in this process
// or another, bumps the serial, so the check is enough.
func (s *Store) current(ctx context.Context, q querier) (*config.Config, error) {
	c, err := s.shared(ctx, q)
	if err != nil {
		return nil, err
	}
	return c.Clone(), nil
}

// shared is current without the copy: the cached configuration itself,
// which the caller must not change. One just read is cached as it is, not
// a copy of it: a reader that kept the one it read (the engine) held a
// second 24 MB at 10,000 x 10.
func (s *Store) shared(ctx context.Context, q querier) (*config.Config, error) {
	var serial int64
	if err := q.QueryRowContext(ctx, `SELECT serial FROM settings WHERE id = 1`).Scan(&serial); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	s.mu.Lock()
	cached := s.cached
	s.mu.Unlock()
	if cached != nil && cached.Serial == serial {
		return cached, nil
	}
	c, err := loadConfig(ctx, q)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.cache(c)
	s.mu.Unlock()
	return c, nil
}

// keep caches c itself as the configuration at c.Serial: a configuration
// this store just saved, which the writer returns as the store's own, to
// be read only (a copy of 10,000 x 10 was a fifth of an edit).
func (s *Store) keep(c *config.Config) {
	s.mu.Lock()
	s.cache(c)
	s.saved = max(s.saved, c.Serial)
	s.mu.Unlock()
	s.lend(c)
}

// cache makes c the cached configuration unless it is older; s.mu held.
func (s *Store) cache(c *config.Config) {
	if s.cached == nil || c.Serial >= s.cached.Serial {
		s.cached = c
	}
}

// Update applies fn to a copy of the current configuration and, when the
// result is valid, saves it as a new revision in one transaction. It returns
// the saved configuration with its new serial and the ids of new entries:
// the store's own from then on, as every writer's, to be read only. An
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
	var saved *config.Config
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		saved, err = s.saveTx(ctx, tx, ch, fn, at)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.keep(saved)
	s.notify()
	return saved, nil
}

// saveTx is save inside tx, which the caller commits (and then remembers
// the result and notifies).
func (s *Store) saveTx(ctx context.Context, tx *sql.Tx, ch Change, fn func(*config.Config) error, at int64) (*config.Config, error) {
	return s.saveWholeTx(ctx, tx, ch, fn, nil, at)
}

// saveWholeTx is saveTx of whole when it is not nil: the caller's own
// configuration, made whole (an applied draft), saved at the running
// serial or its own when above; a copy of the running one would only be
// overwritten. fn is not called then.
func (s *Store) saveWholeTx(ctx context.Context, tx *sql.Tx, ch Change, fn func(*config.Config) error, whole *config.Config, at int64) (*config.Config, error) {
	if ch.Author == "" {
		return nil, errors.New("a change needs an author")
	}
	// old is the cache's (shared): read, never changed.
	old, err := s.shared(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	if ch.Base != 0 && ch.Base != old.Serial {
		rev, err := revisionMeta(ctx, tx, old.Serial)
		if err != nil {
			return nil, err
		}
		return nil, &ConflictError{Base: ch.Base, Current: rev}
	}
	next := whole
	if next != nil {
		next.Serial = max(old.Serial, next.Serial)
	} else {
		next = old.Clone()
		if err := fn(next); err != nil {
			return nil, err
		}
	}
	// Asked once: the drains' times, validation, the summary, the rows
	// and the revision all need only the entries an edit in place
	// changed. A virtual server the edit left as it was has its drains'
	// times already.
	changed, same := config.ChangedVirtuals(old, next)
	stampDrains(old, next, s.now(), changed, same)
	if err := config.ValidateChanged(old, next, changed, same); err != nil {
		return nil, err
	}
	// Adopt is exempt: the peer secret authenticates the active
	// director, and the standby checks each program when it runs it.
	if at == 0 {
		if err := Allowed(ch.Role, old, next); err != nil {
			return nil, err
		}
		if err := checkPrograms(changedOnly(old, changed, same), changedOnly(next, changed, same), ch.Elevated); err != nil {
			return nil, err
		}
	}
	if at != 0 && at <= old.Serial {
		return nil, fmt.Errorf("serial %d, this director is at %d: %w", at, old.Serial, ErrStale)
	}
	changes := config.DiffChanged(old, next, changed, same)
	if len(changes) == 0 && at == 0 {
		return nil, ErrNoChange
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
	if err := writeConfig(ctx, tx, old, next, changed, same); err != nil {
		return nil, fmt.Errorf("saving the configuration: %w", err)
	}
	if err := insertRevisionAfter(ctx, tx, old, next, changed, same, ch.Author, ch.Token, summary, s.now()); err != nil {
		return nil, err
	}
	// One audit entry per revision, in its transaction.
	a := ActorOf(ctx)
	detail, fields := fmt.Sprintf("serial %d: %s", next.Serial, summary), map[string]string{"serial": fmt.Sprint(next.Serial), "author": ch.Author}
	if ch.Token != "" {
		detail = fmt.Sprintf("serial %d (token %s): %s", next.Serial, ch.Token, summary)
		fields["token"] = ch.Token
	}
	err = s.auditTx(ctx, tx, AuditEntry{Actor: ch.Author, Client: a.Client, Kind: revisionKind(ch.Author, ch.Note),
		Detail: detail, Fields: fields})
	if err != nil {
		return nil, err
	}
	return next, nil
}

// stampDrains sets when each real server of next began draining: now for
// a drain that begins, old's time for one that goes on (whatever a
// draft or a revision says), none for a server not draining; a server
// that is not active does not drain. changed and same are what
// config.ChangedVirtuals(old, next) returned: with same, only the changed
// virtual servers are stamped (the others' times are old's already).
func stampDrains(old, next *config.Config, now time.Time, changed []int, same bool) {
	virtuals := func(c *config.Config, fn func(vs *config.VirtualServer)) {
		if !same {
			for i := range c.Virtuals {
				fn(&c.Virtuals[i])
			}
			return
		}
		for _, i := range changed {
			fn(&c.Virtuals[i])
		}
	}
	since := map[int64]time.Time{}
	virtuals(old, func(vs *config.VirtualServer) {
		for _, rs := range vs.Reals {
			if rs.Draining && rs.ID != 0 {
				since[rs.ID] = rs.DrainSince
			}
		}
	})
	now = now.UTC().Truncate(time.Millisecond)
	virtuals(next, func(vs *config.VirtualServer) {
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			switch t, ok := since[rs.ID]; {
			case !rs.Draining || !rs.Active:
				rs.Draining, rs.DrainSince = false, time.Time{}
			case ok && rs.ID != 0:
				rs.DrainSince = t
			default:
				rs.DrainSince = now
			}
		}
	})
}

// Replace saves cfg whole as the next revision (an import, or a
// configuration received from the peer). Virtual and real servers without an
// id take the id of the current entry of the same name, so that their
// history and health state carry over. The serial is cfg's when that is
// ahead of the current one (an imported file's serial_no, which must not go
// backwards), else the next one.
func (s *Store) Replace(ctx context.Context, ch Change, cfg *config.Config) (*config.Config, error) {
	return s.Update(ctx, ch, replacing(cfg))
}

func adoptIDs(old, next *config.Config) {
	// By name through a map: 10,000 lookups of Virtual would be 10^8
	// comparisons (issue 20). The first of a name, as Virtual.
	byName := make(map[string]*config.VirtualServer, len(old.Virtuals))
	for i := len(old.Virtuals) - 1; i >= 0; i-- {
		byName[old.Virtuals[i].Name] = &old.Virtuals[i]
	}
	for i := range next.Virtuals {
		vs := &next.Virtuals[i]
		prev := byName[vs.Name]
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
		return insertRevision(ctx, tx, c, "lvsconsole", "", "initial configuration", s.now())
	})
}

// querier is what both *sql.Tx and *sql.DB offer for reading.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func loadConfig(ctx context.Context, q querier) (*config.Config, error) {
	c := &config.Config{}
	var errs []error
	row := append([]any{&c.Serial}, dests(config.GlobalFields, &c.Global, &errs)...)
	row = append(row, dests(config.RedundancyFields, &c.Redundancy, &errs)...)
	if err := q.QueryRowContext(ctx, selectSettings).Scan(row...); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}

	rows, err := q.QueryContext(ctx, selectVirtuals)
	if err != nil {
		return nil, fmt.Errorf("virtual servers: %w", err)
	}
	index := map[int64]int{}
	// One row's destinations serve every row: each scan sets every field.
	var vs config.VirtualServer
	row = append([]any{&vs.ID}, dests(config.VirtualFields, &vs, &errs)...)
	for rows.Next() {
		if err := rows.Scan(row...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("virtual servers: %w", err)
		}
		index[vs.ID] = len(c.Virtuals)
		c.Virtuals = append(c.Virtuals, vs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("virtual servers: %w", err)
	}

	rows, err = q.QueryContext(ctx, selectReals)
	if err != nil {
		return nil, fmt.Errorf("real servers: %w", err)
	}
	defer rows.Close()
	var (
		rs  config.RealServer
		vid int64
	)
	row = append([]any{&rs.ID, &vid, &rs.Draining, (*unixMillis)(&rs.DrainSince)}, dests(config.RealFields, &rs, &errs)...)
	var (
		reals []config.RealServer
		owner []int // of each of reals, its virtual server
	)
	for rows.Next() {
		if err := rows.Scan(row...); err != nil {
			return nil, fmt.Errorf("real servers: %w", err)
		}
		i, ok := index[vid]
		if !ok {
			return nil, fmt.Errorf("real server %d belongs to missing virtual server %d", rs.ID, vid)
		}
		reals, owner = append(reals, rs), append(owner, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("real servers: %w", err)
	}
	packReals(c, reals, owner)
	if cap(c.Virtuals) > len(c.Virtuals) {
		c.Virtuals = append(make([]config.VirtualServer, 0, len(c.Virtuals)), c.Virtuals...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("the database holds a value this program cannot read: %w", err)
	}
	return c, nil
}

// packReals gives each virtual server of c its real servers, in the order
// of reals, in one allocation as config.Clone lays them out: grown by
// append, the cached configuration of 10,000 x 10 took 36 MB instead of 24.
func packReals(c *config.Config, reals []config.RealServer, owner []int) {
	start := make([]int, len(c.Virtuals)+1)
	for _, i := range owner {
		start[i+1]++
	}
	for i := range c.Virtuals {
		start[i+1] += start[i]
	}
	all := make([]config.RealServer, len(reals))
	next := slices.Clone(start[:len(c.Virtuals)])
	for k, i := range owner {
		all[next[i]] = reals[k]
		next[i]++
	}
	for i := range c.Virtuals {
		if lo, hi := start[i], start[i+1]; hi > lo {
			c.Virtuals[i].Reals = all[lo:hi:hi] // an append copies rather than runs into the next one
		}
	}
}

// writeConfig writes the rows of next that differ from old: an edit of one
// real server writes one row, not the whole table. changed and same are
// what config.ChangedVirtuals(old, next) returned.
func writeConfig(ctx context.Context, tx *sql.Tx, old, next *config.Config, changed []int, same bool) error {
	if old.Global != next.Global || old.Redundancy != next.Redundancy {
		if err := writeSettings(ctx, tx, next); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE settings SET serial = ? WHERE id = 1`, next.Serial); err != nil {
		return err
	}

	w := &rowWriter{tx: tx}
	defer w.close()
	if same {
		if ok, err := w.writeChanged(ctx, old, next, changed); ok || err != nil {
			return err
		}
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
		if prev := oldVS[vs.ID]; prev == nil || oldVSPos[vs.ID] != i || !config.SameHead(prev, vs) {
			if err := w.upsertVirtual(ctx, vs, i); err != nil {
				return fmt.Errorf("virtual server %s: %w", vs.Name, err)
			}
		}
		keepVS[vs.ID] = true
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			prev := oldRS[rs.ID]
			if prev == nil || oldRSPos[rs.ID] != (place{vs.ID, j}) || *prev != *rs {
				if err := w.upsertReal(ctx, vs.ID, rs, j); err != nil {
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

func writeSettings(ctx context.Context, tx *sql.Tx, c *config.Config) error {
	args := append([]any{c.Serial}, values(config.GlobalFields, &c.Global)...)
	_, err := tx.ExecContext(ctx, upsertSettings, append(args, values(config.RedundancyFields, &c.Redundancy)...)...)
	return err
}

// rowWriter writes rows through statements prepared once per save: an
// import of 100,000 real servers otherwise prepares the upsert, wide as
// the registry, 100,000 times (issue 20).
type rowWriter struct {
	tx     *sql.Tx
	vs, rs *sql.Stmt
}

func (w *rowWriter) close() {
	for _, st := range []*sql.Stmt{w.vs, w.rs} {
		if st != nil {
			st.Close()
		}
	}
}

func (w *rowWriter) stmt(ctx context.Context, st **sql.Stmt, query string) (*sql.Stmt, error) {
	if *st == nil {
		p, err := w.tx.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		*st = p
	}
	return *st, nil
}

// upsertVirtual writes vs at position pos, assigning vs.ID when it is new.
func (w *rowWriter) upsertVirtual(ctx context.Context, vs *config.VirtualServer, pos int) error {
	st, err := w.stmt(ctx, &w.vs, execUpsert(upsertVirtuals))
	if err != nil {
		return err
	}
	var id any
	if vs.ID != 0 {
		id = vs.ID
	}
	args := append([]any{id, pos}, values(config.VirtualFields, vs)...)
	return execID(ctx, st, args, &vs.ID)
}

// upsertReal writes rs at position pos of virtual server vid, assigning
// rs.ID when it is new.
func (w *rowWriter) upsertReal(ctx context.Context, vid int64, rs *config.RealServer, pos int) error {
	st, err := w.stmt(ctx, &w.rs, execUpsert(upsertReals))
	if err != nil {
		return err
	}
	var id any
	if rs.ID != 0 {
		id = rs.ID
	}
	args := append([]any{id, vid, pos, rs.Draining, toMillis(rs.DrainSince)}, values(config.RealFields, rs)...)
	return execID(ctx, st, args, &rs.ID)
}

// execUpsert is an upsert without its RETURNING clause: Exec is half the
// cost of a query's rows, 100,000 times in an import (issue 20).
func execUpsert(q string) string { return strings.TrimSuffix(q, " RETURNING id") }

// execID runs st and sets *id, when it is 0, to the row's new id: an
// upsert without an id is an insert, whose rowid the result holds.
func execID(ctx context.Context, st *sql.Stmt, args []any, id *int64) error {
	res, err := st.ExecContext(ctx, args...)
	if err != nil || *id != 0 {
		return err
	}
	*id, err = res.LastInsertId()
	return err
}

// writeChanged is writeConfig for an edit that changed the virtual servers
// at changed in place (config.ChangedVirtuals): only their rows are
// compared and written. It reports false, having written nothing, when a
// real server's id is not one the changed entries held (a copy, or an id
// from elsewhere): writeConfig then checks the whole.
func (w *rowWriter) writeChanged(ctx context.Context, old, next *config.Config, changed []int) (bool, error) {
	type place struct {
		vid int64
		pos int
	}
	held := map[int64]place{}
	for _, i := range changed {
		vs := &old.Virtuals[i]
		for j := range vs.Reals {
			held[vs.Reals[j].ID] = place{vs.ID, j}
		}
	}
	kept := map[int64]bool{}
	for _, i := range changed {
		for _, rs := range next.Virtuals[i].Reals {
			if rs.ID == 0 {
				continue
			}
			if _, ok := held[rs.ID]; !ok || kept[rs.ID] {
				return false, nil
			}
			kept[rs.ID] = true
		}
	}
	olds := map[int64]*config.RealServer{}
	for _, i := range changed {
		for j := range old.Virtuals[i].Reals {
			olds[old.Virtuals[i].Reals[j].ID] = &old.Virtuals[i].Reals[j]
		}
	}
	for _, i := range changed {
		vs := &next.Virtuals[i]
		if !config.SameHead(&old.Virtuals[i], vs) {
			if err := w.upsertVirtual(ctx, vs, i); err != nil {
				return true, fmt.Errorf("virtual server %s: %w", vs.Name, err)
			}
		}
		for j := range vs.Reals {
			rs := &vs.Reals[j]
			if prev := olds[rs.ID]; rs.ID == 0 || held[rs.ID] != (place{vs.ID, j}) || *prev != *rs {
				if err := w.upsertReal(ctx, vs.ID, rs, j); err != nil {
					return true, fmt.Errorf("real server %s of %s: %w", rs.Name, vs.Name, err)
				}
			}
		}
	}
	for id := range held {
		if !kept[id] {
			if _, err := w.tx.ExecContext(ctx, `DELETE FROM real_servers WHERE id = ?`, id); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}

// changedOnly is c reduced to the settings and the virtual servers at
// changed (shallow copies, to be read), when same (config.ChangedVirtuals):
// what differs between two configurations of the same shape is there, and
// a real server that moved left one changed virtual server for another.
// Otherwise it is c.
func changedOnly(c *config.Config, changed []int, same bool) *config.Config {
	if !same {
		return c
	}
	sub := &config.Config{Serial: c.Serial, Global: c.Global, Redundancy: c.Redundancy, Virtuals: make([]config.VirtualServer, len(changed))}
	for k, i := range changed {
		sub.Virtuals[k] = c.Virtuals[i]
	}
	return sub
}
