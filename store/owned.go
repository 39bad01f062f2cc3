package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// OwnedServices returns the keys of the IPVS services recorded as created
// by this director.
func (s *Store) OwnedServices(ctx context.Context) (map[string]bool, error) {
	rows, err := s.ro.QueryContext(ctx, `SELECT service FROM ipvs_owned`)
	if err != nil {
		return nil, fmt.Errorf("reading owned IPVS services: %w", err)
	}
	defer rows.Close()
	owned := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("reading owned IPVS services: %w", err)
		}
		owned[k] = true
	}
	return owned, rows.Err()
}

// Own records that this director creates the IPVS services keys, in one
// transaction. It is written before the services are created, so that a
// crash in between leaves at worst a record of a service that does not
// exist.
func (s *Store) Own(ctx context.Context, keys ...string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.now().UTC().Format(time.RFC3339)
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO ipvs_owned (service, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, k, now); err != nil {
				return fmt.Errorf("recording IPVS service %s as owned: %w", k, err)
			}
		}
		return nil
	})
}

// Disown forgets the IPVS services keys, after they were deleted.
func (s *Store) Disown(ctx context.Context, keys ...string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM ipvs_owned WHERE service = ?`, k); err != nil {
				return fmt.Errorf("forgetting IPVS service %s: %w", k, err)
			}
		}
		return nil
	})
}
