package store

// The console users and API tokens that the configuration sync carries
// from the active director to the standby (issue 17), so that a takeover
// does not lock the team out of the console. Only what the database holds
// travels: password hashes (argon2id) and token hashes (SHA-256), never a
// password or a token's text. The standby replaces its own with them in one
// transaction (AdoptAccounts); its sessions and audit trail stay its own.

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AccountsVersion is the version of Accounts; a standby refuses any other.
// Both directors are upgraded together, as for the heartbeat.
const AccountsVersion = 1

// MaxAccountRows bounds the users, and the tokens, a standby takes.
const MaxAccountRows = 10000

// Accounts are the console users and API tokens as the sync carries them:
// the rows of the tables, column by column as syncUsers and syncTokens
// list them.
type Accounts struct {
	Version int         `json:"version"`
	Users   AccountRows `json:"users"`
	Tokens  AccountRows `json:"tokens"`
}

// AccountRows are rows of one table. A value is an int64 (a float64 or a
// json.Number once through JSON), a string, or for a BLOB []byte (its
// base64 once through JSON).
type AccountRows struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

type colKind int

const (
	colText colKind = iota
	colInt
	colBlob
)

type syncCol struct {
	name string
	kind colKind
}

// syncTable is a table the sync carries whole: its columns, the first of
// which is its key. A column added to users or api_tokens that the standby
// needs is one line here (both directors are upgraded together: a standby
// refuses accounts whose columns are not its own).
type syncTable struct {
	table string
	cols  []syncCol
}

var (
	syncUsers = syncTable{"users", []syncCol{
		{"name", colText},
		{"password_hash", colText},
		{"role", colText},
		{"disabled", colInt},
		{"created_at", colText},
		{"updated_at", colText},
		{"source", colText},
		{"pam_unmapped", colInt},
	}}
	syncTokens = syncTable{"api_tokens", []syncCol{
		{"id", colInt},
		{"token_hash", colBlob},
		{"owner", colText},
		{"name", colText},
		{"scope", colText},
		{"created_at", colInt},
		{"last_used", colInt},
		{"revoked_at", colInt},
		{"expires_at", colInt},
	}}
)

func (t syncTable) names() []string {
	var n []string
	for _, c := range t.cols {
		n = append(n, c.name)
	}
	return n
}

func (t syncTable) index(name string) int {
	return slices.IndexFunc(t.cols, func(c syncCol) bool { return c.name == name })
}

// read returns the table's rows, keyed by their first column, in q.
func (t syncTable) read(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([][]any, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+strings.Join(t.names(), ", ")+` FROM `+t.table+` ORDER BY `+t.cols[0].name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", t.table, err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		dest := make([]any, len(t.cols))
		for i, c := range t.cols {
			switch c.kind {
			case colText:
				dest[i] = new(string)
			case colInt:
				dest[i] = new(int64)
			case colBlob:
				dest[i] = new([]byte)
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("reading %s: %w", t.table, err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			switch d := d.(type) {
			case *string:
				row[i] = *d
			case *int64:
				row[i] = *d
			case *[]byte:
				row[i] = *d
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// typed returns rows with each value as the column's kind (int64, string,
// []byte), whatever JSON made of it, or the errors of those that are not.
func (t syncTable) typed(rs AccountRows) ([][]any, error) {
	if !slices.Equal(rs.Columns, t.names()) {
		return nil, fmt.Errorf("the %s sent have the columns %q, this director's are %q: upgrade both directors to the same version", t.table, rs.Columns, t.names())
	}
	if len(rs.Rows) > MaxAccountRows {
		return nil, fmt.Errorf("%d rows of %s: at most %d", len(rs.Rows), t.table, MaxAccountRows)
	}
	var errs []error
	out := make([][]any, 0, len(rs.Rows))
	for i, r := range rs.Rows {
		if len(r) != len(t.cols) {
			errs = append(errs, fmt.Errorf("%s row %d: %d values, want %d", t.table, i+1, len(r), len(t.cols)))
			continue
		}
		row := make([]any, len(r))
		ok := true
		for j, c := range t.cols {
			v, err := c.value(r[j])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s row %d, %s: %w", t.table, i+1, c.name, err))
				ok = false
			}
			row[j] = v
		}
		if ok { // the others are left out of the checks that follow
			out = append(out, row)
		}
		if len(errs) >= 10 {
			break // enough to say what is wrong
		}
	}
	return out, errors.Join(errs...)
}

func (c syncCol) value(v any) (any, error) {
	switch c.kind {
	case colInt:
		switch n := v.(type) {
		case int64:
			return n, nil
		case float64:
			if n != float64(int64(n)) {
				return nil, fmt.Errorf("%v is not an integer", n)
			}
			return int64(n), nil
		case interface{ Int64() (int64, error) }: // json.Number
			return n.Int64()
		}
		return nil, fmt.Errorf("%T is not an integer", v)
	case colBlob:
		switch b := v.(type) {
		case []byte:
			return b, nil
		case string:
			return base64.StdEncoding.DecodeString(b)
		}
		return nil, fmt.Errorf("%T is not bytes", v)
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%T is not text", v)
	}
	return s, nil
}

// Accounts returns the console users and API tokens (revoked ones too),
// with their hashes, for the standby director.
func (s *Store) Accounts(ctx context.Context) (Accounts, error) {
	a := Accounts{Version: AccountsVersion}
	// One read transaction, so that no token's owner is missing.
	tx, err := s.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return a, fmt.Errorf("reading the accounts: %w", err)
	}
	defer tx.Rollback()
	for _, t := range []struct {
		table syncTable
		rows  *AccountRows
	}{{syncUsers, &a.Users}, {syncTokens, &a.Tokens}} {
		rows, err := t.table.read(ctx, tx)
		if err != nil {
			return a, err
		}
		*t.rows = AccountRows{Columns: t.table.names(), Rows: rows}
	}
	return a, nil
}

// AccountChanges are what AdoptAccounts changed, as sentences: "added bob
// as operator", "role of ann: viewer -> admin", "token 3 "ci" (read) of
// ann taken"... Empty: the accounts were already the same.
type AccountChanges []string

// AdoptAccounts makes this director's console users and API tokens those
// of a (the active director's), in one transaction, and writes one audit
// entry (AuditAccounts, by the actor of ctx) listing what changed, if
// anything did. Users are updated in place, not replaced, so that what
// hangs on them stays: the sessions of a user who is removed, disabled or
// given another password end (as they do when that is done on this
// director), the others stay, with the user's role as it is now. Tokens
// not in a are removed. Accounts of another version or other columns,
// invalid rows, or without an enabled admin (which would lock everyone
// out, or open the first-time setup) are refused whole.
func (s *Store) AdoptAccounts(ctx context.Context, a Accounts) (AccountChanges, error) {
	if a.Version != AccountsVersion {
		return nil, fmt.Errorf("accounts of version %d: this director takes version %d; upgrade both directors to the same version", a.Version, AccountsVersion)
	}
	users, uerr := syncUsers.typed(a.Users)
	tokens, terr := syncTokens.typed(a.Tokens)
	if err := errors.Join(uerr, terr, checkAccounts(users, tokens, uerr == nil)); err != nil {
		return nil, err
	}
	// The accounts seldom change between two syncs: what is the same is
	// seen on the readers, without taking the writer.
	if same, err := s.sameAccounts(ctx, users, tokens); err != nil || same {
		return nil, err
	}
	var changes AccountChanges
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		uc, err := adoptUsers(ctx, tx, users)
		if err != nil {
			return err
		}
		tc, err := adoptTokens(ctx, tx, tokens)
		if err != nil {
			return err
		}
		changes = append(uc, tc...)
		if len(changes) == 0 {
			return nil
		}
		return s.auditTx(ctx, tx, AuditEntry{Kind: AuditAccounts,
			Detail: "from the active director: " + strings.Join(changes, "; "),
			Fields: map[string]string{"changes": fmt.Sprint(len(changes))}})
	})
	if err != nil {
		return nil, fmt.Errorf("taking the accounts: %w", err)
	}
	return changes, nil
}

// sameAccounts reports whether the users and tokens are users and tokens
// already (a token's last use here may be later).
func (s *Store) sameAccounts(ctx context.Context, users, tokens [][]any) (bool, error) {
	tx, err := s.ro.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return false, fmt.Errorf("reading the accounts: %w", err)
	}
	defer tx.Rollback()
	hu, err := syncUsers.read(ctx, tx)
	if err != nil {
		return false, err
	}
	ht, err := syncTokens.read(ctx, tx)
	if err != nil {
		return false, err
	}
	// In the order of their key, as read.
	slices.SortFunc(users, func(a, b []any) int { return strings.Compare(a[0].(string), b[0].(string)) })
	slices.SortFunc(tokens, func(a, b []any) int { return cmp.Compare(a[0].(int64), b[0].(int64)) })
	if !slices.EqualFunc(hu, users, func(a, b []any) bool { return slices.EqualFunc(a, b, sameValue) }) || len(ht) != len(tokens) {
		return false, nil
	}
	used := syncTokens.index("last_used")
	for i, t := range tokens {
		for j := range t {
			if j == used && ht[i][j].(int64) >= t[j].(int64) || j != used && sameValue(ht[i][j], t[j]) {
				continue
			}
			return false, nil
		}
	}
	return true, nil
}

// checkAccounts checks the rows a standby is to take: all errors at once
// (the first ten). whole says users are all there, none left out for a
// value of the wrong type: only then is the lack of an admin one.
func checkAccounts(users, tokens [][]any, whole bool) error {
	var errs []error
	name, hash, role, disabled := syncUsers.index("name"), syncUsers.index("password_hash"), syncUsers.index("role"), syncUsers.index("disabled")
	source := syncUsers.index("source")
	names := map[string]bool{}
	admins := 0
	for _, u := range users {
		n := u[name].(string)
		if err := ValidateUserName(n); err != nil {
			errs = append(errs, err)
		}
		if names[n] {
			errs = append(errs, fmt.Errorf("user %s is there twice", n))
		}
		names[n] = true
		r, err := ParseRole(u[role].(string))
		if err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", n, err))
		}
		switch src := u[source].(string); {
		case src == "pam" && u[hash].(string) != "":
			errs = append(errs, fmt.Errorf("user %s: a PAM user with a password hash", n))
		case src == "pam":
			// The system checks their password: none here.
		case src != "local":
			errs = append(errs, fmt.Errorf("user %s: source %q is not local or pam", n, src))
		case !strings.HasPrefix(u[hash].(string), "$argon2id$"):
			errs = append(errs, fmt.Errorf("user %s: the password hash is not an argon2id one", n))
		}
		switch d := u[disabled].(int64); {
		case d == 0 && r == ScopeAdmin:
			admins++
		case d != 0 && d != 1:
			errs = append(errs, fmt.Errorf("user %s: disabled is %d, not 0 or 1", n, d))
		}
	}
	if admins == 0 && whole {
		errs = append(errs, errors.New("the accounts have no enabled admin: taking them would lock everyone out of this director's console"))
	}
	id, th, owner, scope := syncTokens.index("id"), syncTokens.index("token_hash"), syncTokens.index("owner"), syncTokens.index("scope")
	ids := map[int64]bool{}
	for _, t := range tokens {
		i := t[id].(int64)
		if ids[i] || i <= 0 {
			errs = append(errs, fmt.Errorf("token %d: its id is not positive, or is there twice", i))
		}
		ids[i] = true
		if len(t[th].([]byte)) != 32 {
			errs = append(errs, fmt.Errorf("token %d: its hash is not a SHA-256", i))
		}
		if !names[t[owner].(string)] {
			errs = append(errs, fmt.Errorf("token %d: its owner %q is not among the users", i, t[owner]))
		}
		if _, err := ParseScope(t[scope].(string)); err != nil {
			errs = append(errs, fmt.Errorf("token %d: scope %w", i, err))
		}
	}
	return errors.Join(errs[:min(len(errs), 10)]...)
}

// keyed returns rows by their first column.
func keyed(rows [][]any) map[any][]any {
	m := make(map[any][]any, len(rows))
	for _, r := range rows {
		m[r[0]] = r
	}
	return m
}

// sameValue compares two values of a column.
func sameValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && string(ab) == string(bb)
	}
	return a == b
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// adoptUsers makes the users those of want, in tx, and says what changed.
func adoptUsers(ctx context.Context, tx *sql.Tx, want [][]any) (AccountChanges, error) {
	t := syncUsers
	have, err := t.read(ctx, tx)
	if err != nil {
		return nil, err
	}
	old := keyed(have)
	hash, role, disabled := t.index("password_hash"), t.index("role"), t.index("disabled")
	var changes AccountChanges
	set := strings.Join(t.names()[1:], " = ?, ") + " = ?"
	for _, u := range want {
		name := u[0].(string)
		o, ok := old[name]
		delete(old, name)
		if !ok {
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (`+strings.Join(t.names(), ", ")+`) VALUES (`+placeholders(len(u))+`)`, u...); err != nil {
				return nil, fmt.Errorf("adding user %s: %w", name, err)
			}
			c := fmt.Sprintf("added %s as %s", name, u[role])
			if u[disabled].(int64) != 0 {
				c += " (disabled)"
			}
			changes = append(changes, c)
			continue
		}
		if slices.EqualFunc(o, u, sameValue) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET `+set+` WHERE name = ?`, append(slices.Clone(u[1:]), name)...); err != nil {
			return nil, fmt.Errorf("changing user %s: %w", name, err)
		}
		if o[role] != u[role] {
			changes = append(changes, fmt.Sprintf("role of %s: %s -> %s", name, o[role], u[role]))
		}
		switch {
		case o[disabled].(int64) == 0 && u[disabled].(int64) != 0:
			changes = append(changes, "disabled "+name)
		case o[disabled].(int64) != 0 && u[disabled].(int64) == 0:
			changes = append(changes, "enabled "+name)
		}
		if o[hash] != u[hash] {
			changes = append(changes, "password of "+name+" changed")
		}
		// The sessions of a user disabled, or whose password changed, end
		// here, as they do when that is done on this director.
		if o[hash] != u[hash] || u[disabled].(int64) != 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, name); err != nil {
				return nil, fmt.Errorf("ending the sessions of %s: %w", name, err)
			}
		}
	}
	// What is left is not on the active director: removed, with its
	// sessions, tokens and pending changes (ON DELETE CASCADE).
	var gone []string
	for name := range old {
		gone = append(gone, name.(string))
	}
	slices.Sort(gone)
	for _, name := range gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name); err != nil {
			return nil, fmt.Errorf("removing user %s: %w", name, err)
		}
		changes = append(changes, "removed "+name)
	}
	return changes, nil
}

// adoptTokens makes the API tokens those of want, in tx, and says what
// changed. A token is its id and hash: a local token whose id the active
// gives another hash is another token, and goes.
func adoptTokens(ctx context.Context, tx *sql.Tx, want [][]any) (AccountChanges, error) {
	t := syncTokens
	have, err := t.read(ctx, tx)
	if err != nil {
		return nil, err
	}
	old := keyed(have)
	th, name, owner, scope, used, revoked := t.index("token_hash"), t.index("name"), t.index("owner"), t.index("scope"), t.index("last_used"), t.index("revoked_at")
	wanted := keyed(want)
	var changes AccountChanges
	// Removals first, so that no hash is in two rows at once.
	var ids []int64
	for id := range old {
		ids = append(ids, id.(int64))
	}
	slices.Sort(ids)
	for _, id := range ids {
		o := old[id]
		if w, ok := wanted[id]; ok && sameValue(w[th], o[th]) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE id = ?`, id); err != nil {
			return nil, fmt.Errorf("removing API token %d: %w", id, err)
		}
		delete(old, id)
		// A token of a user removed above went with its owner.
		changes = append(changes, fmt.Sprintf("token %d %q of %s removed", id, o[name], o[owner]))
	}
	set := strings.Join(t.names()[1:], " = ?, ") + " = ?"
	for _, w := range want {
		id := w[0].(int64)
		o, ok := old[id]
		if !ok {
			if _, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (`+strings.Join(t.names(), ", ")+`) VALUES (`+placeholders(len(w))+`)`, w...); err != nil {
				return nil, fmt.Errorf("adding API token %d: %w", id, err)
			}
			c := fmt.Sprintf("token %d %q (%s) of %s taken", id, w[name], w[scope], w[owner])
			if w[revoked].(int64) != 0 {
				c += " (revoked)"
			}
			changes = append(changes, c)
			continue
		}
		row := slices.Clone(w)
		// The last use is the later of the two: the standby's API is
		// used too.
		row[used] = max(w[used].(int64), o[used].(int64))
		if slices.EqualFunc(o, row, sameValue) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET `+set+` WHERE id = ?`, append(row[1:], id)...); err != nil {
			return nil, fmt.Errorf("changing API token %d: %w", id, err)
		}
		for i := range row {
			if i == used || sameValue(o[i], row[i]) {
				continue
			}
			if i == revoked && o[i].(int64) == 0 {
				changes = append(changes, fmt.Sprintf("token %d revoked", id))
			} else {
				changes = append(changes, fmt.Sprintf("token %d: %s changed", id, t.cols[i].name))
			}
		}
	}
	return changes, nil
}
