package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Confirmation is an APPLY that rolls back unless confirmed.
type Confirmation struct {
	Serial   int64  // the revision the APPLY made
	Previous int64  // the revision a rollback restores
	Owner    string // who applied
	Delay    string // as chosen: "10 minutes"
	Deadline time.Time
}

// ErrNoConfirmation is returned when no APPLY waits for a confirmation.
var ErrNoConfirmation = errors.New("nothing waits for a confirmation")

// RollbackAuthor is the author of the revision a rollback makes.
const RollbackAuthor = "lvsconsole (rollback)"

func (s *Store) recordConfirmation(ctx context.Context, tx *sql.Tx, c Confirmation) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO confirmations (id, serial, previous, owner, minutes, deadline) VALUES (1, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET serial = excluded.serial, previous = excluded.previous, owner = excluded.owner,
			minutes = excluded.minutes, deadline = excluded.deadline`,
		c.Serial, c.Previous, c.Owner, c.Delay, c.Deadline.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("recording the confirmation: %w", err)
	}
	return nil
}

// Pending returns the APPLY that waits for a confirmation;
// ErrNoConfirmation when none does.
func (s *Store) Pending(ctx context.Context) (*Confirmation, error) {
	return pending(ctx, s.ro)
}

func pending(ctx context.Context, q querier) (*Confirmation, error) {
	var c Confirmation
	var deadline string
	err := q.QueryRowContext(ctx, `SELECT serial, previous, owner, minutes, deadline FROM confirmations WHERE id = 1`).
		Scan(&c.Serial, &c.Previous, &c.Owner, &c.Delay, &deadline)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoConfirmation
	}
	if err != nil {
		return nil, fmt.Errorf("reading the confirmation: %w", err)
	}
	if c.Deadline, err = time.Parse(time.RFC3339Nano, deadline); err != nil {
		return nil, fmt.Errorf("the confirmation: bad time %q: %w", deadline, err)
	}
	return &c, nil
}

// Confirm keeps the configuration an APPLY with rollback made.
func (s *Store) Confirm(ctx context.Context) (*Confirmation, error) {
	var c *Confirmation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = pending(ctx, tx); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM confirmations`)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notify()
	return c, nil
}

// RollBack restores the configuration of before an APPLY whose deadline
// has passed without a confirmation, as a revision of RollbackAuthor
// whose summary says so. What others applied since is kept where it does
// not touch what the APPLY changed (a three-way merge that undoes the
// APPLY); where it does, the configuration of before the APPLY is
// restored whole, since a director the admin cannot reach is what the
// rollback is for. It returns ErrNoConfirmation when nothing is due.
func (s *Store) RollBack(ctx context.Context) (*config.Config, *Confirmation, error) {
	var (
		saved *config.Config
		c     *Confirmation
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = pending(ctx, tx); err != nil {
			return err
		}
		if s.now().Before(c.Deadline) {
			return ErrNoConfirmation
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM confirmations`); err != nil {
			return err
		}
		_, applied, err := revisionTx(ctx, tx, c.Serial)
		if err != nil {
			return err
		}
		_, previous, err := revisionTx(ctx, tx, c.Previous)
		if err != nil {
			return err
		}
		note := fmt.Sprintf("rolled back automatically to revision %d: serial %d was not confirmed within %s", c.Previous, c.Serial, c.Delay)
		saved, err = s.saveTx(ctx, tx, Change{Author: RollbackAuthor, Note: note, Elevated: true, Role: ScopeAdmin}, func(cur *config.Config) error {
			back := previous
			if cur.Serial != applied.Serial {
				if undone, conflicts := config.Merge(applied, cur, previous); len(conflicts) == 0 {
					back = undone
				}
			}
			*cur = *replacedBy(cur, back)
			return nil
		}, 0)
		if errors.Is(err, ErrNoChange) {
			return nil // undone already: nothing to restore
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if saved != nil {
		s.keep(saved) // the caller's to read only
	}
	s.notify()
	return saved, c, nil
}

// replacedBy is cur made next whole, as Replace makes it.
func replacedBy(cur, next *config.Config) *config.Config {
	c := cur.Clone()
	replacing(next)(c)
	return c
}

// WatchConfirmations rolls back each APPLY not confirmed by its deadline,
// until ctx ends: a stage of serve. A deadline that passed while serve was
// not running is due at once. report, when set, is told of each rollback,
// and of each that failed (the configuration of before the APPLY refused
// now, say a program that is no longer root's): that one is given up, not
// tried again for ever.
func (s *Store) WatchConfirmations(ctx context.Context, report func(*config.Config, *Confirmation, error)) error {
	changes, cancel := s.Subscribe()
	defer cancel()
	for {
		c, err := s.Pending(ctx)
		var timer *time.Timer
		switch {
		case errors.Is(err, ErrNoConfirmation):
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case !s.now().Before(c.Deadline):
			saved, done, err := s.RollBack(ctx)
			switch {
			case errors.Is(err, ErrNoConfirmation): // confirmed meanwhile
				continue
			case err != nil && ctx.Err() != nil:
				return nil
			case err != nil:
				if _, derr := s.Confirm(ctx); derr != nil && !errors.Is(derr, ErrNoConfirmation) {
					return derr
				}
				done = c
			}
			if report != nil {
				report(saved, done, err)
			}
			continue
		default:
			timer = time.NewTimer(c.Deadline.Sub(s.now()))
		}
		var due <-chan time.Time
		if timer != nil {
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-changes: // confirmed, or another APPLY
		case <-due:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}
