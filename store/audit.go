package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// The audit trail: who did what, when and from where. The console only
// appends to it (Audit, and the entries the store writes inside the
// transaction of the change itself, so that no caller can forget them);
// PruneAudit, for retention, is the only delete.

// The kinds of audit entries.
const (
	AuditLogin          = "login"
	AuditLoginFailed    = "login failed"
	AuditLoginThrottled = "login throttled"
	AuditLogout         = "logout"
	AuditSessionExpired = "session expired"
	AuditTokenCreated   = "token created"
	AuditTokenUsed      = "token used"
	AuditTokenRevoked   = "token revoked"
	AuditUser           = "user changed"
	AuditSecret         = "secret changed"
	AuditApply          = "apply"
	AuditImport         = "import"
	AuditRestore        = "restore"
	AuditRollback       = "rollback"
	// AuditAccounts: the standby took the active director's users and
	// API tokens, and they changed (AdoptAccounts).
	AuditAccounts = "accounts synced"
	// The uptime load monitor's SSH host keys: pinned on first use,
	// forgotten by an admin (store/hostkeys.go).
	AuditHostKeyPinned    = "host key pinned"
	AuditHostKeyForgotten = "host key forgotten"
)

// AuditKinds lists the kinds, for the page's filter.
var AuditKinds = []string{AuditLogin, AuditLoginFailed, AuditLoginThrottled, AuditLogout, AuditSessionExpired,
	AuditTokenCreated, AuditTokenUsed, AuditTokenRevoked, AuditUser, AuditSecret,
	AuditApply, AuditImport, AuditRestore, AuditRollback, AuditAccounts,
	AuditHostKeyPinned, AuditHostKeyForgotten}

// Bounds of an entry and of a query.
const (
	MaxAuditDetail = 1024 // characters of detail
	maxAuditActor  = 128  // characters of actor, client and kind
	maxAuditFields = 4096 // bytes of the fields' JSON
	MaxAuditLimit  = 1000 // entries a query returns at most
)

// SystemActor is the actor of what the console does by itself.
const SystemActor = "lvsconsole"

// AuditEntry is one event of the audit trail.
type AuditEntry struct {
	ID       int64             `json:"id"`
	Time     time.Time         `json:"time"`
	Director string            `json:"director"`
	Actor    string            `json:"actor"`
	Client   string            `json:"client,omitempty"`
	Kind     string            `json:"kind"`
	Detail   string            `json:"detail,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`
}

// AuditFilter selects entries; zero fields select everything.
type AuditFilter struct {
	Actor  string
	Kind   string
	Since  time.Time // inclusive
	Until  time.Time // exclusive
	Before int64     // only ids below it: the next page
	// After selects the ids above it, oldest first: for following the
	// trail as it grows.
	After int64
	Limit int // at most MaxAuditLimit; 0: 100
}

type actorKey struct{}

// Actor is who acts in a context, for the entries the store writes.
type Actor struct {
	Name   string // user, "token NAME", "cli:USER"
	Client string // address, when known
}

// WithActor returns ctx naming who acts, for the audit entries the store
// writes of what is done with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorOf returns who acts in ctx: SystemActor when nobody was named.
func ActorOf(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	if a.Name == "" {
		a.Name = SystemActor
	}
	return a
}

func director() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Audit appends e to the trail. Its time, when zero, is now; its director
// is this one's; its actor, when empty, the one ctx names. Long text is
// cut to the bounds.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.auditTx(ctx, tx, e) })
}

// auditTx appends e inside tx: the entry commits with the change it tells.
func (s *Store) auditTx(ctx context.Context, tx *sql.Tx, e AuditEntry) error {
	if e.Kind == "" {
		return errors.New("an audit entry needs a kind")
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if e.Actor == "" {
		a := ActorOf(ctx)
		e.Actor = a.Name
		if e.Client == "" {
			e.Client = a.Client
		}
	}
	fields := ""
	if len(e.Fields) > 0 {
		b, err := json.Marshal(e.Fields)
		if err != nil {
			return err
		}
		if len(b) > maxAuditFields {
			return fmt.Errorf("an audit entry's fields are %d bytes: at most %d", len(b), maxAuditFields)
		}
		fields = string(b)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, director, actor, client, kind, detail, fields) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.Time.UnixNano(), s.director, clip(e.Actor, maxAuditActor), clip(e.Client, maxAuditActor),
		clip(e.Kind, maxAuditActor), clip(e.Detail, MaxAuditDetail), fields)
	if err != nil {
		return fmt.Errorf("recording an audit entry: %w", err)
	}
	return nil
}

// AuditQuery returns the entries f selects, newest first.
func (s *Store) AuditQuery(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, f.Until.UnixNano())
	}
	if f.Before > 0 {
		where, args = append(where, "id < ?"), append(args, f.Before)
	}
	order := "DESC"
	if f.After > 0 {
		where, args = append(where, "id > ?"), append(args, f.After)
		order = "ASC"
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxAuditLimit)
	q := `SELECT id, at, director, actor, client, kind, detail, fields FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id " + order + " LIMIT ?"
	rows, err := s.ro.QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("reading the audit trail: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var (
			e      AuditEntry
			at     int64
			fields string
		)
		if err := rows.Scan(&e.ID, &at, &e.Director, &e.Actor, &e.Client, &e.Kind, &e.Detail, &fields); err != nil {
			return nil, fmt.Errorf("reading the audit trail: %w", err)
		}
		e.Time = time.Unix(0, at)
		if fields != "" {
			if err := json.Unmarshal([]byte(fields), &e.Fields); err != nil {
				return nil, fmt.Errorf("audit entry %d: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// LastAudit returns the id of the newest entry; 0: none.
func (s *Store) LastAudit(ctx context.Context) (int64, error) {
	var id int64
	if err := s.ro.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM audit`).Scan(&id); err != nil {
		return 0, fmt.Errorf("reading the audit trail: %w", err)
	}
	return id, nil
}

// PruneAudit deletes the entries older than olderThan, for retention, and
// returns how many.
func (s *Store) PruneAudit(ctx context.Context, olderThan time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit WHERE at < ?`, olderThan.UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning the audit trail: %w", err)
	}
	return n, nil
}

// revisionKind says what kind of audit entry a revision is.
func revisionKind(author, note string) string {
	switch {
	case author == RollbackAuthor:
		return AuditRollback
	case strings.Contains(note, "restored revision"):
		return AuditRestore
	case strings.Contains(note, "import of"):
		return AuditImport
	}
	return AuditApply
}
