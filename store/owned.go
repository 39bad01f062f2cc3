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

// Own records that this director creates the IPVS service key. It is
// written before the service is created, so that a crash in between leaves
// at worst a record of a service that does not exist.
func (s *Store) Own(ctx context.Context, key string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ipvs_owned (service, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			key, s.now().UTC().Format(time.RFC3339))
		if err != nil {
			return fmt.Errorf("recording IPVS service %s as owned: %w", key, err)
		}
		return nil
	})
}

// Disown forgets the IPVS service key, after it was deleted.
func (s *Store) Disown(ctx context.Context, key string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM ipvs_owned WHERE service = ?`, key); err != nil {
			return fmt.Errorf("forgetting IPVS service %s: %w", key, err)
		}
		return nil
	})
}
