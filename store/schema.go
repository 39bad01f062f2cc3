package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/lvsconsole/lvsconsole/migrations"
)

// LatestMigration is the number of the last migration this program has.
func LatestMigration() int {
	files, _ := fs.Glob(migrations.FS, "*.sql")
	latest := 0
	for _, f := range files {
		num, _, _ := strings.Cut(f, "_")
		if v, err := strconv.Atoi(num); err == nil {
			latest = max(latest, v)
		}
	}
	return latest
}

// AppliedMigration reads the number of the last migration applied to the
// database at path without changing anything there: read-only and
// immutable, so that SQLite makes no -wal or -shm file (lvsconsole doctor
// may run as root beside a serve that is another user). What a running
// serve has not yet checkpointed into the file is not seen.
func AppliedMigration(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite3", dsn(path, "mode=ro&immutable=1"))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the schema version of %s: %w", path, err)
	}
	return v, nil
}
