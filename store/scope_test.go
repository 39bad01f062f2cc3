package store

import (
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/migrations"
)

func TestScopeOrder(t *testing.T) {
	for _, tc := range []struct {
		have, need Scope
		ok         bool
	}{
		{ScopeRead, ScopeRead, true},
		{ScopeRead, ScopeOperator, false},
		{ScopeRead, ScopeAdmin, false},
		{ScopeOperator, ScopeRead, true},
		{ScopeOperator, ScopeOperator, true},
		{ScopeOperator, ScopeAdmin, false},
		{ScopeAdmin, ScopeRead, true},
		{ScopeAdmin, ScopeAdmin, true},
		{ScopeNone, ScopeNone, false},
		{ScopeNone, ScopeRead, false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.ok {
			t.Errorf("%v.Allows(%v) = %v, want %v", tc.have, tc.need, got, tc.ok)
		}
	}
	for _, s := range Scopes() {
		if p, err := ParseScope(s.String()); err != nil || p != s {
			t.Errorf("ParseScope(%q) = %v, %v", s, p, err)
		}
	}
	for in, want := range map[string]string{"": "is required: choose read, operator or admin", "root": `"root" is not a scope: choose read, operator or admin`, "Admin": "is not a scope"} {
		if _, err := ParseScope(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseScope(%q) = %v, want %q", in, err, want)
		}
	}
}

// TestTokenScopes: a token keeps the scope it was made with; a token
// without one is not made.
func TestTokenScopes(t *testing.T) {
	st := openTest(t)
	if err := st.SetPassword(ctx, "admin", "long enough"); err != nil {
		t.Fatal(err)
	}
	texts := map[Scope]string{}
	for _, s := range Scopes() {
		tok, text, err := st.CreateToken(ctx, "admin", s.String(), s)
		if err != nil || tok.Scope != s {
			t.Fatalf("CreateToken %v = %+v, %v", s, tok, err)
		}
		texts[s] = text
	}
	for s, text := range texts {
		if tok, err := st.LookupToken(ctx, text); err != nil || tok.Scope != s {
			t.Errorf("LookupToken of a %v token = %+v, %v", s, tok, err)
		}
	}
	ts, err := st.ListTokens(ctx)
	if err != nil || len(ts) != 3 || ts[0].Scope != ScopeAdmin || ts[1].Scope != ScopeOperator || ts[2].Scope != ScopeRead {
		t.Errorf("ListTokens = %+v, %v", ts, err)
	}
	if tok, err := st.Token(ctx, ts[2].ID); err != nil || tok.Scope != ScopeRead {
		t.Errorf("Token = %+v, %v", tok, err)
	}
	for _, bad := range []Scope{ScopeNone, ScopeAdmin + 1} {
		if _, _, err := st.CreateToken(ctx, "admin", "bad", bad); err == nil {
			t.Errorf("a token of scope %d was made", bad)
		}
	}
	// The database refuses a scope that is not one, whoever writes it.
	if _, err := st.rw.Exec(`UPDATE api_tokens SET scope = 'root' WHERE id = ?`, ts[0].ID); err == nil {
		t.Error("the database took the scope 'root'")
	}
}

// TestOldTokensBecomeAdmin: a database made before scopes existed, with a
// token, is migrated: the token keeps working, as admin, with its id, and
// the next token does not take a used id.
func TestOldTokensBecomeAdmin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", dsn(path, "_foreign_keys=on"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(migrations.FS, "*.sql")
	slices.Sort(files)
	if _, err := db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, f := range files[:6] { // up to 0006_tokens.sql, the schema before scopes
		body, _ := fs.ReadFile(migrations.FS, f)
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00Z')`, i+1, f)
	}
	text := TokenPrefix + "old-token-made-before-scopes-existed-xxxxxx"
	for _, q := range []string{
		`INSERT INTO users (name, password_hash, updated_at) VALUES ('admin', 'x', '2026-01-01T00:00:00Z')`,
		fmt.Sprintf(`INSERT INTO api_tokens (id, token_hash, owner, name, created_at) VALUES (1, x'%x', 'admin', 'ci', 1)`, hashToken(text)),
		fmt.Sprintf(`INSERT INTO api_tokens (id, token_hash, owner, name, created_at, revoked_at) VALUES (2, x'%x', 'admin', 'gone', 1, 2)`, hashToken(text+"2")),
		fmt.Sprintf(`INSERT INTO api_tokens (id, token_hash, owner, name, created_at) VALUES (3, x'%x', 'admin', 'deleted', 1)`, hashToken(text+"3")),
		`DELETE FROM api_tokens WHERE id = 3`, // its id is not given again
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, err := st.LookupToken(ctx, text)
	if err != nil || tok.Scope != ScopeAdmin || tok.ID != 1 || tok.Name != "ci" {
		t.Fatalf("the old token after the migration: %+v, %v", tok, err)
	}
	if tok, err := st.Token(ctx, 2); err != nil || tok.Revoked.IsZero() {
		t.Errorf("the revoked token after the migration: %+v, %v", tok, err)
	}
	made, _, err := st.CreateToken(ctx, "admin", "new", ScopeRead)
	if err != nil || made.ID != 4 {
		t.Errorf("the first token after the migration: %+v, %v; want id 4", made, err)
	}
}
