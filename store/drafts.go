package store

// Pending changes. A console user's edits change their draft, not the
// running configuration: a whole configuration made on the running one,
// which takes effect as one revision when they APPLY it. Each edit of a
// draft is validated as a whole, as a change of the running configuration
// is, so that a draft is always a configuration the store would accept:
// APPLY can fail on a conflict, never on a value.
//
// When the running configuration moves on under a draft (another admin
// applied, the peer synced), the draft is rebased by a three-way merge
// (config.Merge) at its next edit and at APPLY; a field both changed
// differently is a conflict the owner resolves by editing the draft, never
// overwritten.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Draft is one user's pending changes.
type Draft struct {
	Owner string
	// Version is bumped by each edit. A form carries the version it was
	// filled from, so that an edit made in another window is not
	// overwritten (DraftConflictError).
	Version int64
	// Base is the running configuration the draft was made on, or last
	// rebased on. Config.Serial is Base.Serial, or above it when an
	// imported file's serial_no is ahead.
	Base   *config.Config
	Config *config.Config
	// Proved says the owner re-entered their password when the draft
	// took in the programs it adds or alters (config.NewPrograms): APPLY
	// from the owner's console session may then change them; an API
	// token's APPLY never does.
	Proved bool
	// Notes say what brought whole configurations in ("import of lvs.cf",
	// "restored revision 12"), for the summary of the revision APPLY
	// makes.
	Notes   []string
	Updated time.Time
}

// Changes lists what the draft changes of running, in the words of
// HISTORY (config.Diff); running is rebased on when it moved on.
func (d *Draft) Changes(running *config.Config) []string {
	return config.Diff(running, d.Config)
}

// ErrNoDraft is returned when a user has no pending changes.
var ErrNoDraft = errors.New("no pending changes")

// DraftConflictError refuses an edit made on an older version of the
// draft than the stored one: the same user changed it in another window
// since.
type DraftConflictError struct {
	Version int64 // the version the edit was made on (0: before there was a draft)
	Current int64
	Updated time.Time
}

func (e *DraftConflictError) Error() string {
	return fmt.Sprintf("%v: your pending changes were changed in another window at %s after this page was loaded",
		ErrConflict, e.Updated.Format(time.RFC3339))
}

func (e *DraftConflictError) Unwrap() error { return ErrConflict }

// MergeError refuses to APPLY a draft that cannot be rebased on the
// running configuration without a choice only its owner can make.
type MergeError struct {
	Running   Revision // the running configuration's revision
	Conflicts []config.Conflict
}

func (e *MergeError) Error() string {
	s := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		s[i] = c.String()
	}
	return fmt.Sprintf("%v: %s saved serial %d since your pending changes were made, and changed what they change: %s",
		ErrConflict, e.Running.Author, e.Running.Serial, strings.Join(s, "; "))
}

func (e *MergeError) Unwrap() error { return ErrConflict }

// AnyVersion, as the version of an edit, skips the check of the draft's
// version: the API, whose clients send the serial they read, not a draft's
// version.
const AnyVersion = -1

// Draft returns user's pending changes, rebased on the running
// configuration when that moved on and merges cleanly (then Base is the
// running configuration; else Base stays, and Conflicts says why);
// ErrNoDraft when there are none.
func (s *Store) Draft(ctx context.Context, user string) (*Draft, error) {
	c, err := s.draft(ctx, user)
	if err != nil {
		return nil, err
	}
	d := *c.d
	d.Base, d.Config = c.d.Base.Clone(), c.d.Config.Clone()
	d.Notes = append([]string(nil), c.d.Notes...)
	return &d, nil
}

// SharedDraft is Draft without the copies: the draft the store keeps, which
// the caller must only read (pages render it at every request; copying
// 10,000 x 10 twice made most of their time).
func (s *Store) SharedDraft(ctx context.Context, user string) (*Draft, error) {
	c, err := s.draft(ctx, user)
	if err != nil {
		return nil, err
	}
	s.lend(c.d.Base)
	s.lend(c.d.Config)
	return c.d, nil
}

// DraftSummary says how many changes user's pending changes make (as
// Changes counts them) and their version, for the bar every page shows:
// without copying the draft.
func (s *Store) DraftSummary(ctx context.Context, user string) (version int64, changes int, err error) {
	c, err := s.draft(ctx, user)
	if err != nil {
		return 0, 0, err
	}
	return c.d.Version, c.changes, nil
}

// cachedDraft is a draft decoded and rebased on the running configuration
// at serial running: pages read a user's draft several times a request,
// and decoding one of 1,000 virtual servers costs tens of milliseconds.
type cachedDraft struct {
	version int64
	updated string
	running int64
	d       *Draft
	changes int
}

// draft returns user's draft from the cache while neither it nor the
// running configuration changed, else reads, rebases and caches it.
func (s *Store) draft(ctx context.Context, user string) (*cachedDraft, error) {
	tx, err := s.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reading the pending changes: %w", err)
	}
	defer tx.Rollback()
	version, updated, err := draftStamp(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	var serial int64
	if err := tx.QueryRowContext(ctx, `SELECT serial FROM settings WHERE id = 1`).Scan(&serial); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	s.mu.Lock()
	c := s.drafts[user]
	s.mu.Unlock()
	if c != nil && c.version == version && c.updated == updated && c.running == serial {
		return c, nil
	}
	d, err := loadDraft(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	running, err := s.current(ctx, tx)
	if err != nil {
		return nil, err
	}
	d.rebase(running)
	c = &cachedDraft{version: d.Version, updated: updated, running: running.Serial, d: d,
		changes: len(config.Diff(running, d.Config))}
	s.mu.Lock()
	s.drafts[user] = c
	s.mu.Unlock()
	return c, nil
}

// Rebase returns d made on running: itself when it was, the merged draft
// when the merge is clean, else d as it was and the conflicts.
func (d *Draft) rebase(running *config.Config) []config.Conflict {
	if d.Base.Serial == running.Serial {
		return nil
	}
	merged, conflicts := config.Merge(d.Base, running, d.Config)
	if len(conflicts) > 0 {
		return conflicts
	}
	merged.Serial = running.Serial
	d.Base, d.Config = running.Clone(), merged
	return nil
}

// Conflicts returns what stands between d and running: the conflicts of
// rebasing it, none when it merges cleanly.
func (d *Draft) Conflicts(running *config.Config) []config.Conflict {
	if d.Base.Serial == running.Serial {
		return nil
	}
	_, conflicts := config.Merge(d.Base, running, d.Config)
	return conflicts
}

func loadDraft(ctx context.Context, q querier, user string) (*Draft, error) {
	d := &Draft{Owner: user}
	var base, body []byte
	var proved int
	var notes, updated string
	err := q.QueryRowContext(ctx, `SELECT version, base, config, proved, notes, updated_at FROM drafts WHERE owner = ?`, user).
		Scan(&d.Version, &base, &body, &proved, &notes, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoDraft
	}
	if err != nil {
		return nil, fmt.Errorf("reading the pending changes of %s: %w", user, err)
	}
	if d.Base, err = decodeConfig(base); err != nil {
		return nil, fmt.Errorf("decoding the pending changes of %s: %w", user, err)
	}
	if d.Config, err = decodeDraft(d.Base, body); err != nil {
		return nil, fmt.Errorf("decoding the pending changes of %s: %w", user, err)
	}
	d.Proved = proved != 0
	if notes != "" {
		d.Notes = strings.Split(notes, "\n")
	}
	if d.Updated, err = time.Parse(time.RFC3339Nano, updated); err != nil {
		return nil, fmt.Errorf("the pending changes of %s: bad time %q: %w", user, updated, err)
	}
	return d, nil
}

// loadDraftTx is loadDraft, from the cache while the draft is the one
// stored: an edit of a large draft then decodes nothing. The draft is a
// shallow copy: its configurations are the cache's, not to be changed.
func (s *Store) loadDraftTx(ctx context.Context, tx *sql.Tx, user string) (*Draft, error) {
	version, updated, err := draftStamp(ctx, tx, user)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	c := s.drafts[user]
	s.mu.Unlock()
	if c != nil && c.version == version && c.updated == updated {
		d := *c.d
		d.Notes = append([]string(nil), c.d.Notes...)
		return &d, nil
	}
	return loadDraft(ctx, tx, user)
}

// draftStamp reads what identifies the stored version of user's draft:
// its version and time (a draft discarded and made again starts over at
// version 1, at another time).
func draftStamp(ctx context.Context, q querier, user string) (version int64, updated string, err error) {
	err = q.QueryRowContext(ctx, `SELECT version, updated_at FROM drafts WHERE owner = ?`, user).Scan(&version, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", ErrNoDraft
	}
	if err != nil {
		return 0, "", fmt.Errorf("reading the pending changes of %s: %w", user, err)
	}
	return version, updated, nil
}

// stamp writes a draft's time as the drafts table keeps it.
// versus is what config.ChangedVirtuals(base, c) returned of a
// configuration c made on base.
type versus struct {
	base    *config.Config
	changed []int
	same    bool
}

// encodeDraft is the stored form of a draft c made on base (on): a delta of the
// virtual servers it changed in place (as a revision's, JSON), or the whole
// configuration (gzip, as before).
func encodeDraft(c *config.Config, on versus) ([]byte, error) {
	if !on.same {
		return encodeConfig(c)
	}
	d := revisionDelta{Serial: c.Serial, Global: c.Global, Redundancy: c.Redundancy, Count: len(c.Virtuals), Changed: on.changed}
	for _, i := range on.changed {
		d.Virtuals = append(d.Virtuals, c.Virtuals[i])
	}
	return json.Marshal(d)
}

// decodeDraft reads what encodeDraft wrote: gzip begins with 0x1f, JSON
// with {.
func decodeDraft(base *config.Config, body []byte) (*config.Config, error) {
	if len(body) > 0 && body[0] == '{' {
		return applyDelta(base.Clone(), body)
	}
	return decodeConfig(body)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (s *Store) writeDraft(ctx context.Context, tx *sql.Tx, d *Draft, known versus) error {
	// A base is the running configuration at its serial, which a serial
	// names for good: its encoding is kept for the next edit.
	s.mu.Lock()
	base := s.baseBlob
	if s.baseSerial != d.Base.Serial {
		base = nil
	}
	s.mu.Unlock()
	if base == nil {
		var err error
		if base, err = encodeConfig(d.Base); err != nil {
			return err
		}
		s.mu.Lock()
		s.baseSerial, s.baseBlob = d.Base.Serial, base
		s.mu.Unlock()
	}
	if known.base != d.Base {
		known = versus{base: d.Base}
		known.changed, known.same = config.ChangedVirtuals(d.Base, d.Config)
	}
	body, err := encodeDraft(d.Config, known)
	if err != nil {
		return err
	}
	proved := 0
	if d.Proved {
		proved = 1
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO drafts (owner, version, base, config, proved, notes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner) DO UPDATE SET version = excluded.version, base = excluded.base, config = excluded.config,
			proved = excluded.proved, notes = excluded.notes, updated_at = excluded.updated_at`,
		d.Owner, d.Version, base, body, proved, strings.Join(d.Notes, "\n"), stamp(d.Updated))
	if err != nil {
		return fmt.Errorf("saving the pending changes of %s: %w", d.Owner, err)
	}
	return nil
}

// EditDraft applies fn to a copy of ch.Author's draft (a copy of the
// running configuration when they have none) and saves it when the result
// is a configuration Update would accept. version is the draft's version
// the edit was made on (0: none; AnyVersion: do not check); with no draft,
// ch.Base is checked against the running serial as Update does. The rule
// for programs is Update's, against the draft as it was: a program the
// edit adds or alters needs ch.Elevated. An edit that leaves the draft
// equal to the running configuration removes the draft: the returned
// draft then has Version 0. fn's errors, a *config.ValidationError,
// ErrNoChange, a conflict (*ConflictError, *DraftConflictError) or a
// *ProgramError leave the draft as it was. The draft returned is the
// store's own, to be read only.
func (s *Store) EditDraft(ctx context.Context, ch Change, version int64, fn func(*config.Config) error) (*Draft, error) {
	if ch.Author == "" {
		return nil, errors.New("a change needs an author")
	}
	var (
		out    *Draft
		cached *cachedDraft
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		merged := false // a rebase made a configuration no one validated
		// The cache's: only read (a draft's Base is never changed; the
		// one returned is a copy).
		running, err := s.shared(ctx, tx)
		if err != nil {
			return fmt.Errorf("reading the configuration: %w", err)
		}
		d, err := s.loadDraftTx(ctx, tx, ch.Author)
		switch {
		case errors.Is(err, ErrNoDraft):
			if ch.Base != 0 && ch.Base != running.Serial {
				rev, err := revisionMeta(ctx, tx, running.Serial)
				if err != nil {
					return err
				}
				return &ConflictError{Base: ch.Base, Current: rev}
			}
			d = &Draft{Owner: ch.Author, Base: running, Config: running} // next is the copy
		case err != nil:
			return err
		case version != AnyVersion && version != d.Version:
			return &DraftConflictError{Version: version, Current: d.Version, Updated: d.Updated}
		default:
			was := d.Base.Serial
			d.rebase(running) // when it merges cleanly; else resolved by editing
			merged = d.Base.Serial != was
		}
		next := d.Config.Clone()
		if err := fn(next); err != nil {
			return err
		}
		prev, rebased := d.Config, false
		if d.Base.Serial != running.Serial {
			// Still in conflict before this edit: it may resolve it.
			if merged, conflicts := config.Merge(d.Base, running, next); len(conflicts) == 0 {
				next, d.Base, rebased = merged, running, true
			}
		}
		// An imported file's serial_no that is ahead is kept, as Replace
		// keeps it.
		next.Serial = max(next.Serial, d.Base.Serial)
		provisionalIDs(next)
		// prev was valid (a draft is saved valid, the running
		// configuration is), unless a merge made it: only what changed
		// is checked again.
		// The virtual servers this edit changed, compared once: each
		// comparison of 10,000 x 10 is some 4 ms, and an ACCEPT made five.
		changed, same := config.ChangedVirtuals(prev, next)
		var invalid error
		if merged || rebased {
			invalid = next.Validate()
		} else {
			invalid = config.ValidateChanged(prev, next, changed, same)
		}
		if invalid != nil {
			return invalid
		}
		// What this edit brings in: new to the draft and to the running
		// configuration (what a rebase took from the running one needs no
		// password).
		if err := Allowed(ch.Role, prev, next); err != nil {
			return err
		}
		if err := checkPrograms(changedOnly(prev, changed, same), changedOnly(next, changed, same), ch.Elevated, running); err != nil {
			return err
		}
		if len(config.DiffChanged(prev, next, changed, same)) == 0 && !rebased {
			return ErrNoChange
		}
		if ch.Elevated && len(config.NewPrograms(prev, next)) > 0 {
			d.Proved = true
		}
		if ch.Note != "" {
			d.Notes = append(d.Notes, ch.Note)
		}
		d.Config, d.Version, d.Updated = next, d.Version+1, s.now()
		out = d
		onRunning := versus{base: running}
		onRunning.changed, onRunning.same = config.ChangedVirtuals(running, next)
		changes := len(config.DiffChanged(running, next, onRunning.changed, onRunning.same))
		if changes == 0 && d.Base.Serial == running.Serial {
			out.Version = 0
			_, err := tx.ExecContext(ctx, `DELETE FROM drafts WHERE owner = ?`, ch.Author)
			return err
		}
		// The cache and the caller share the configurations (read
		// only, as SharedDraft's): copies of 10,000 x 10 were most of
		// an ACCEPT.
		keep := *d
		keep.Notes = slices.Clone(d.Notes)
		cached = &cachedDraft{version: d.Version, updated: stamp(d.Updated), running: running.Serial, d: &keep, changes: changes}
		return s.writeDraft(ctx, tx, d, onRunning)
	})
	if err != nil {
		return nil, err
	}
	if cached != nil {
		s.mu.Lock()
		s.drafts[ch.Author] = cached
		s.mu.Unlock()
	}
	s.lend(out.Base)
	s.lend(out.Config)
	return out, nil
}

// ReplaceDraft makes cfg, whole, ch.Author's draft: an lvs.cf upload, or
// a revision to restore. Entries without an id take the id of the draft's
// entry of the same name, as Replace does.
func (s *Store) ReplaceDraft(ctx context.Context, ch Change, version int64, cfg *config.Config) (*Draft, error) {
	return s.EditDraft(ctx, ch, version, replacing(cfg))
}

// RestoreDraft makes the configuration of an earlier revision ch.Author's
// draft.
func (s *Store) RestoreDraft(ctx context.Context, ch Change, version int64, serial int64) (*Draft, error) {
	_, old, err := s.Revision(ctx, serial)
	if err != nil {
		return nil, err
	}
	if ch.Note == "" {
		ch.Note = fmt.Sprintf("restored revision %d", serial)
	}
	return s.ReplaceDraft(ctx, ch, version, old)
}

// provisionalIDs numbers the entries an edit of a draft added, which the
// store has given no id yet, below zero: pages and URLs name them until
// APPLY gives them their own. No running configuration has a negative id,
// so a merge never takes one for an entry of someone else's.
func provisionalIDs(c *config.Config) {
	low := int64(0)
	for _, vs := range c.Virtuals {
		low = min(low, vs.ID)
		for _, rs := range vs.Reals {
			low = min(low, rs.ID)
		}
	}
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		if vs.ID == 0 {
			low--
			vs.ID = low
		}
		for j := range vs.Reals {
			if vs.Reals[j].ID == 0 {
				low--
				vs.Reals[j].ID = low
			}
		}
	}
}

// clearProvisionalIDs leaves the draft's new entries without an id, for
// the store to give them theirs.
func clearProvisionalIDs(c *config.Config) {
	for i := range c.Virtuals {
		vs := &c.Virtuals[i]
		if vs.ID < 0 {
			vs.ID = 0
		}
		for j := range vs.Reals {
			if vs.Reals[j].ID < 0 {
				vs.Reals[j].ID = 0
			}
		}
	}
}

// DiscardDraft drops user's pending changes; ErrNoDraft when there were
// none.
func (s *Store) DiscardDraft(ctx context.Context, user string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM drafts WHERE owner = ?`, user)
		if err != nil {
			return fmt.Errorf("discarding the pending changes of %s: %w", user, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNoDraft
		}
		s.forgetDraft(user)
		return nil
	})
}

// forgetDraft drops user's draft from the cache.
func (s *Store) forgetDraft(user string) {
	s.mu.Lock()
	delete(s.drafts, user)
	s.mu.Unlock()
}

// Apply says how to APPLY a draft.
type Apply struct {
	// Version is the draft's version the admin reviewed (AnyVersion: do
	// not check): an edit made since, in another window, is not applied
	// unseen.
	Version int64
	// Proof lets the draft's proof of the password (Draft.Proved) stand
	// for Change.Elevated: an APPLY from the owner's console session,
	// never one with an API token.
	Proof bool
	// Rollback, when above zero, restores the running configuration of
	// before the APPLY that long after it unless Confirm is called
	// (Junos' commit confirmed). Delay is how the admin chose it, for the
	// event: "10 minutes".
	Rollback time.Duration
	Delay    string
}

// ApplyDraft saves ch.Author's draft, rebased on the running
// configuration, as the next revision, in the same transaction that
// removes the draft (and, with a.Rollback, records the confirmation it
// waits for). A draft that does not merge cleanly is refused with a
// *MergeError; one changed since it was reviewed with a
// *DraftConflictError; the rest is Update's.
func (s *Store) ApplyDraft(ctx context.Context, ch Change, a Apply) (*config.Config, error) {
	var saved *config.Config
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := s.loadDraftTx(ctx, tx, ch.Author)
		if err != nil {
			return err
		}
		if a.Version != AnyVersion && a.Version != d.Version {
			return &DraftConflictError{Version: a.Version, Current: d.Version, Updated: d.Updated}
		}
		running, err := s.shared(ctx, tx) // read only: rebase copies what it keeps
		if err != nil {
			return fmt.Errorf("reading the configuration: %w", err)
		}
		if conflicts := d.rebase(running); len(conflicts) > 0 {
			rev, err := revisionMeta(ctx, tx, running.Serial)
			if err != nil {
				return err
			}
			return &MergeError{Running: rev, Conflicts: conflicts}
		}
		ch.Base = running.Serial
		ch.Elevated = ch.Elevated || a.Proof && d.Proved
		if ch.Note == "" && len(d.Notes) > 0 {
			ch.Note = strings.Join(d.Notes, ", ")
		}
		next := d.Config.Clone()
		clearProvisionalIDs(next)
		saved, err = s.saveWholeTx(ctx, tx, ch, nil, next, 0)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM drafts WHERE owner = ?`, ch.Author); err != nil {
			return fmt.Errorf("removing the applied pending changes: %w", err)
		}
		if a.Rollback > 0 {
			return s.recordConfirmation(ctx, tx, Confirmation{
				Serial: saved.Serial, Previous: running.Serial, Owner: ch.Author,
				Delay: a.Delay, Deadline: s.now().Add(a.Rollback)})
		}
		// A plain APPLY confirms what was waiting: the admin is here.
		_, err = tx.ExecContext(ctx, `DELETE FROM confirmations`)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.forgetDraft(ch.Author)
	s.keep(saved) // the caller's to read only
	s.notify()
	return saved, nil
}

// replacing is the edit that makes cfg, whole, the configuration, its
// entries without an id taking the id of the entry of the same name.
func replacing(cfg *config.Config) func(*config.Config) error {
	return func(c *config.Config) error {
		next := cfg.Clone()
		adoptIDs(c, next)
		next.Serial = max(c.Serial, cfg.Serial)
		*c = *next
		return nil
	}
}
