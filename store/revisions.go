package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Revision is one accepted configuration in the history.
type Revision struct {
	Serial  int64
	Created time.Time
	Author  string
	Token   string // the API token Author made it with; "" for none
	Summary string // what changed
}

// By names who made the revision: its author, and the API token they made
// it with, e.g. "alice (token deploy)".
func (r Revision) By() string {
	if r.Token == "" {
		return r.Author
	}
	return r.Author + " (token " + r.Token + ")"
}

// ErrNoRevision is returned for a serial the history does not hold.
var ErrNoRevision = errors.New("no such revision")

// encodeConfig returns the stored form of a revision's configuration.
func encodeConfig(c *config.Config) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(zw).Encode(c); err != nil {
		return nil, fmt.Errorf("encoding revision %d: %w", c.Serial, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing revision %d: %w", c.Serial, err)
	}
	return buf.Bytes(), nil
}

func decodeConfig(b []byte) (*config.Config, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := &config.Config{}
	if err := json.NewDecoder(zr).Decode(c); err != nil {
		return nil, err
	}
	return c, nil
}

func insertRevision(ctx context.Context, tx *sql.Tx, c *config.Config, author, token, summary string, now time.Time) error {
	body, err := encodeConfig(c)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO revisions (serial, created_at, author, token, summary, config) VALUES (?, ?, ?, ?, ?, ?)`,
		c.Serial, now.UTC().Format(time.RFC3339Nano), author, token, summary, body)
	if err != nil {
		return fmt.Errorf("recording revision %d: %w", c.Serial, err)
	}
	return nil
}

// snapshotEvery bounds a chain of deltas: every snapshotEvery-th revision
// is a whole configuration, so that reading one decodes one whole
// configuration and fewer than snapshotEvery deltas. At 10,000 x 10 a
// whole one takes ~0.5 s to encode and a delta (one weight) ~3 kB: every
// 32nd made ~15 ms of each edit; every 256th ~2 ms, for up to 255 small
// deltas more on a read of a revision.
const snapshotEvery = 256

// revisionDelta is the stored form of a revision that changed virtual
// servers in place (config.ChangedVirtuals): those entries whole, the
// settings, on the revision Base. One weight in 10,000 x 10 is about 3 kB
// instead of a 1 MB snapshot to encode and compress (issue 20).
type revisionDelta struct {
	Serial     int64
	Global     config.Global
	Redundancy config.Redundancy
	Count      int   // virtual servers, as in Base's
	Changed    []int // their indexes
	Virtuals   []config.VirtualServer
}

// insertRevisionAfter records next, saved over old: as a delta on old's
// revision when next changed old's virtual servers in place (changed,
// same: config.ChangedVirtuals) and the chain
// is short enough, else whole.
func insertRevisionAfter(ctx context.Context, tx *sql.Tx, old, next *config.Config, changed []int, same bool, author, token, summary string, now time.Time) error {
	if !same {
		return insertRevision(ctx, tx, next, author, token, summary, now)
	}
	var depth int
	switch err := tx.QueryRowContext(ctx, `SELECT depth FROM revisions WHERE serial = ?`, old.Serial).Scan(&depth); {
	case errors.Is(err, sql.ErrNoRows):
		return insertRevision(ctx, tx, next, author, token, summary, now)
	case err != nil:
		return fmt.Errorf("recording revision %d: %w", next.Serial, err)
	}
	if depth+1 >= snapshotEvery {
		return insertRevision(ctx, tx, next, author, token, summary, now)
	}
	d := revisionDelta{Serial: next.Serial, Global: next.Global, Redundancy: next.Redundancy,
		Count: len(next.Virtuals), Changed: changed}
	for _, i := range changed {
		d.Virtuals = append(d.Virtuals, next.Virtuals[i])
	}
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encoding revision %d: %w", next.Serial, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO revisions (serial, created_at, author, token, summary, config, base, depth) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		next.Serial, now.UTC().Format(time.RFC3339Nano), author, token, summary, body, old.Serial, depth+1)
	if err != nil {
		return fmt.Errorf("recording revision %d: %w", next.Serial, err)
	}
	return nil
}

// applyDelta makes base, the configuration of the delta's base revision,
// the delta's.
func applyDelta(base *config.Config, body []byte) (*config.Config, error) {
	var d revisionDelta
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, err
	}
	if d.Count != len(base.Virtuals) || len(d.Changed) != len(d.Virtuals) {
		return nil, fmt.Errorf("a delta of %d virtual servers on a revision of %d", d.Count, len(base.Virtuals))
	}
	for k, i := range d.Changed {
		if i < 0 || i >= len(base.Virtuals) {
			return nil, fmt.Errorf("a delta of virtual server #%d of %d", i+1, len(base.Virtuals))
		}
		base.Virtuals[i] = d.Virtuals[k]
	}
	base.Serial, base.Global, base.Redundancy = d.Serial, d.Global, d.Redundancy
	return base, nil
}

func scanRevision(row interface{ Scan(...any) error }, r *Revision, extra ...any) error {
	var created string
	if err := row.Scan(append([]any{&r.Serial, &created, &r.Author, &r.Token, &r.Summary}, extra...)...); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return fmt.Errorf("revision %d: bad time %q: %w", r.Serial, created, err)
	}
	r.Created = t
	return nil
}

func revisionMeta(ctx context.Context, q querier, serial int64) (Revision, error) {
	var r Revision
	err := scanRevision(q.QueryRowContext(ctx, `SELECT serial, created_at, author, token, summary FROM revisions WHERE serial = ?`, serial), &r)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("revision %d: %w", serial, ErrNoRevision)
	}
	if err != nil {
		return r, fmt.Errorf("reading revision %d: %w", serial, err)
	}
	return r, nil
}

// Revisions returns up to limit revisions older than before (0: the newest),
// newest first.
func (s *Store) Revisions(ctx context.Context, before int64, limit int) ([]Revision, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.ro.QueryContext(ctx, `SELECT serial, created_at, author, token, summary FROM revisions
		WHERE serial < ? ORDER BY serial DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("listing revisions: %w", err)
	}
	defer rows.Close()
	var revs []Revision
	for rows.Next() {
		var r Revision
		if err := scanRevision(rows, &r); err != nil {
			return nil, fmt.Errorf("listing revisions: %w", err)
		}
		revs = append(revs, r)
	}
	return revs, rows.Err()
}

// Revision returns one revision and the whole configuration it saved.
func (s *Store) Revision(ctx context.Context, serial int64) (Revision, *config.Config, error) {
	return revisionTx(ctx, s.ro, serial)
}

// revisionTx reads a revision through q: the store's reader, or a
// transaction.
func revisionTx(ctx context.Context, q querier, serial int64) (Revision, *config.Config, error) {
	var (
		r    Revision
		body []byte
		base int64
	)
	err := scanRevision(q.QueryRowContext(ctx, `SELECT serial, created_at, author, token, summary, config, base
		FROM revisions WHERE serial = ?`, serial), &r, &body, &base)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil, fmt.Errorf("revision %d: %w", serial, ErrNoRevision)
	}
	if err != nil {
		return r, nil, fmt.Errorf("reading revision %d: %w", serial, err)
	}
	if base != 0 {
		if base >= serial {
			return r, nil, fmt.Errorf("revision %d is a delta on a later revision %d", serial, base)
		}
		_, c, err := revisionTx(ctx, q, base)
		if err != nil {
			return r, nil, fmt.Errorf("revision %d: %w", serial, err)
		}
		if c, err = applyDelta(c, body); err != nil {
			return r, nil, fmt.Errorf("decoding revision %d: %w", serial, err)
		}
		return r, c, nil
	}
	c, err := decodeConfig(body)
	if err != nil {
		return r, nil, fmt.Errorf("decoding revision %d: %w", serial, err)
	}
	return r, c, nil
}

// Restore saves the configuration of an earlier revision as the next one.
// Entries keep the ids they had then, so their history lines up.
func (s *Store) Restore(ctx context.Context, ch Change, serial int64) (*config.Config, error) {
	_, old, err := s.Revision(ctx, serial)
	if err != nil {
		return nil, err
	}
	if ch.Note == "" {
		ch.Note = fmt.Sprintf("restored revision %d", serial)
	}
	return s.Replace(ctx, ch, old)
}
