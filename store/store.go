// Package store persists the load balancer's configuration, its revision
// history and the console's users in one SQLite file.
//
// Every change goes through [Store.Update] (or its wrappers Replace and
// Restore): the new configuration is validated as a whole, written in one
// immediate transaction together with a new revision, and the serial number is
// bumped. A refused change writes nothing at all. The rule for the programs
// the directors run as root is kept there too, so that no writer can forget
// it: adding or altering one needs an author who proved their password
// (Change.Elevated), and a program only root can change.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the sqlite3 driver

	"github.com/lvsconsole/lvsconsole/lvs/config"

	"github.com/lvsconsole/lvsconsole/migrations"
)

// Store is an open database. It is safe for concurrent use.
type Store struct {
	path string
	// rw is the single writer: SQLite allows one at a time, and one pooled
	// connection with immediate transactions turns contention into a queue
	// here instead of SQLITE_BUSY errors.
	rw *sql.DB
	// ro serves reads, which WAL lets run beside the writer.
	ro  *sql.DB
	now func() time.Time
	// director names this director in the audit trail: its host name.
	director string

	mu     sync.Mutex
	cached *config.Config // the configuration at cached.Serial; lent, never changed (save, SharedConfig)
	// baseBlob is the stored form of the running configuration at
	// baseSerial as drafts' base: encoded once for all the edits of
	// drafts made on it (at 10,000 x 10 an encoding is most of an edit).
	baseSerial int64
	baseBlob   []byte
	drafts     map[string]*cachedDraft // by owner: decoded and rebased; lent by SharedDraft, never changed
	subs       map[chan struct{}]bool

	saved    int64    // the serial this store last saved (Follow signals the others')
	repaired []string // what Open changed of the files' modes, for the log
	lent     lent     // what SharedConfig and SharedDraft lent, when tests watch it
}

// Open opens (creating if needed) the database at path, applies pending
// migrations, and seeds a default configuration as revision 1 in a new
// database.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		// 0700 as the service's StateDirectory: what is in it is serve's
		// alone (lvsconsole doctor expects it).
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the database directory: %w", err)
		}
	}
	s := &Store{path: path, now: time.Now, director: director(), subs: map[chan struct{}]bool{}, drafts: map[string]*cachedDraft{}}
	var err error
	if s.repaired, err = private(path); err != nil {
		return nil, err
	}
	// synchronous=FULL: an accepted change survives a power cut, not only a
	// crash; admin edits are rare enough that the fsync is free.
	common := "_busy_timeout=5000&_foreign_keys=on&_synchronous=FULL"
	if s.rw, err = sql.Open("sqlite3", dsn(path, "_journal_mode=WAL&_txlock=immediate&"+common)); err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s.rw.SetMaxOpenConns(1)
	s.rw.SetConnMaxIdleTime(0)
	if err := s.rw.PingContext(ctx); err != nil {
		s.rw.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.rw.Close()
		return nil, err
	}
	if s.ro, err = sql.Open("sqlite3", dsn(path, "_query_only=1&"+common)); err != nil {
		s.rw.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := s.seed(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// private makes the database file, and its WAL and shared-memory files if
// they exist, readable by their owner only: the file holds the password
// hashes, the session and token hashes and the peer secret. SQLite creates
// the WAL and SHM files with the mode of the database file, so a database
// made here is 0600 whatever the umask; an older one is repaired, and what
// was repaired is returned for the log.
func private(path string) ([]string, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	f.Close()
	var repaired []string
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("checking the mode of %s: %w", p, err)
		}
		if fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
			return nil, fmt.Errorf("making %s private (it is %04o): %w", p, fi.Mode().Perm(), err)
		}
		repaired = append(repaired, fmt.Sprintf("%s was mode %04o, readable by others: now %04o", p, fi.Mode().Perm(), fi.Mode().Perm()&0o700))
	}
	return repaired, nil
}

// Repaired says what Open changed of the database files' modes (an older
// database was readable by other users); empty when nothing.
func (s *Store) Repaired() []string { return s.repaired }

func dsn(path, params string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	var errs []error
	if s.ro != nil {
		errs = append(errs, s.ro.Close())
	}
	errs = append(errs, s.rw.Close())
	return errors.Join(errs...)
}

// migrate applies each migration file not yet recorded, in version order,
// each in its own transaction with its record.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.rw.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("creating the migrations table: %w", err)
	}
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return fmt.Errorf("listing migrations: %w", err)
	}
	type migration struct {
		version int
		name    string
	}
	var ms []migration
	for _, f := range files {
		num, _, ok := strings.Cut(f, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return fmt.Errorf("migration %s: the name must start with a positive number and '_'", f)
		}
		ms = append(ms, migration{v, f})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return fmt.Errorf("migrations %s and %s have the same number", ms[i-1].name, ms[i].name)
		}
	}
	var latest int
	if err := s.rw.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&latest); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if n := len(ms); n > 0 && latest > ms[n-1].version {
		return fmt.Errorf("the database's schema is version %d, newer than this program's %d: use a newer lvsconsole", latest, ms[n-1].version)
	}
	for _, m := range ms {
		if m.version <= latest {
			continue
		}
		body, err := fs.ReadFile(migrations.FS, m.name)
		if err != nil {
			return fmt.Errorf("reading migration %s: %w", m.name, err)
		}
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, s.now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %s: %w", m.name, err)
		}
	}
	return nil
}

// SchemaVersion returns the number of the last migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.ro.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// inTx runs fn in an immediate transaction on the writer, committing when
// it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.rw.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// Subscribe returns a channel that receives a value after each change this
// Store saves (coalesced: a slow reader gets one value for several changes),
// and a func that ends the subscription. Changes written by another process
// are signalled while Follow runs.
func (s *Store) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = true
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

func (s *Store) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending
		}
	}
}

// Follow signals the subscribers, until ctx ends, of the changes another
// process writes (lvsconsole import into a running director's database),
// which it notices by the serial, read every every. serve runs it: without
// it the engine, which polls the serial itself, applied such an import but
// failover did not (no VIPs, the old serial in the heartbeats, so the
// standby never took it).
func (s *Store) Follow(ctx context.Context, every time.Duration) error {
	last, err := s.Serial(ctx)
	if err != nil {
		return err
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		serial, err := s.Serial(ctx)
		if err != nil || serial == last {
			continue // a busy database: the next tick reads again
		}
		last = serial
		s.mu.Lock()
		own := s.saved == serial // not the cache's: a reader may have loaded another's change into it
		s.mu.Unlock()
		if !own { // this store's own changes were signalled as saved
			s.notify()
		}
	}
}

// Serial returns the current configuration serial: a cheap way to notice a
// change made by another process.
func (s *Store) Serial(ctx context.Context) (int64, error) {
	var serial int64
	if err := s.ro.QueryRowContext(ctx, `SELECT serial FROM settings WHERE id = 1`).Scan(&serial); err != nil {
		return 0, fmt.Errorf("reading the serial: %w", err)
	}
	return serial, nil
}
