package store

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTokens(t *testing.T) {
	st := openTest(t)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st.now = func() time.Time { return clock }
	if err := st.SetPassword(ctx, "admin", "long enough"); err != nil {
		t.Fatal(err)
	}

	tok, text, err := st.CreateToken(ctx, "admin", "ci", ScopeAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^lvs_[A-Za-z0-9_-]{43}$`).MatchString(text) {
		t.Errorf("token text %q is not lvs_ and 32 bytes of base64url", text)
	}
	if tok.ID == 0 || tok.Owner != "admin" || tok.Name != "ci" || !tok.Created.Equal(clock) || !tok.LastUsed.IsZero() {
		t.Errorf("new token = %+v", tok)
	}
	_, text2, _ := st.CreateToken(ctx, "admin", "monitoring", ScopeRead)
	if text2 == text {
		t.Fatal("two tokens have the same text")
	}

	// Only the hash is stored: neither the text nor its random part is in
	// the database file.
	var stored []byte
	st.ro.QueryRow(`SELECT token_hash FROM api_tokens WHERE id = ?`, tok.ID).Scan(&stored)
	if len(stored) != 32 || bytes.Contains(stored, []byte(text)) {
		t.Errorf("stored hash %x", stored)
	}
	for _, f := range []string{st.Path(), st.Path() + "-wal"} {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, []byte(text[len(TokenPrefix):])) {
			t.Errorf("%s holds the token's text", f)
		}
	}

	got, err := st.LookupToken(ctx, text)
	if err != nil || got.ID != tok.ID || got.Owner != "admin" || !got.LastUsed.Equal(clock) {
		t.Fatalf("lookup = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "lvs_", text + "x", text[:len(text)-1], strings.TrimPrefix(text, TokenPrefix), "Bearer " + text} {
		if _, err := st.LookupToken(ctx, bad); !errors.Is(err, ErrNoToken) {
			t.Errorf("lookup of %q: %v, want ErrNoToken", bad, err)
		}
	}

	// The last use is written at most once a minute.
	lastUsed := func() int64 {
		var n int64
		st.ro.QueryRow(`SELECT last_used FROM api_tokens WHERE id = ?`, tok.ID).Scan(&n)
		return n
	}
	first := clock.Unix()
	clock = clock.Add(59 * time.Second)
	st.LookupToken(ctx, text)
	if lastUsed() != first {
		t.Errorf("a use within the minute was written")
	}
	clock = clock.Add(time.Second)
	st.LookupToken(ctx, text)
	if lastUsed() != clock.Unix() {
		t.Errorf("a use after a minute was not written")
	}

	ts, err := st.ListTokens(ctx)
	if err != nil || len(ts) != 2 || ts[0].Name != "monitoring" || ts[1].Name != "ci" || !ts[1].LastUsed.Equal(clock) {
		t.Fatalf("list = %+v, %v", ts, err)
	}

	clock = clock.Add(time.Hour)
	rev, err := st.RevokeToken(ctx, tok.ID)
	if err != nil || !rev.Revoked.Equal(clock) {
		t.Fatalf("revoke = %+v, %v", rev, err)
	}
	if _, err := st.LookupToken(ctx, text); !errors.Is(err, ErrNoToken) {
		t.Errorf("a revoked token still works: %v", err)
	}
	if _, err := st.LookupToken(ctx, text2); err != nil {
		t.Errorf("revoking one token ended another: %v", err)
	}
	clock = clock.Add(time.Hour)
	if again, err := st.RevokeToken(ctx, tok.ID); err != nil || !again.Revoked.Equal(rev.Revoked) {
		t.Errorf("revoking again = %+v, %v; want the first revocation kept", again, err)
	}
	if _, err := st.RevokeToken(ctx, 999); !errors.Is(err, ErrNoToken) {
		t.Errorf("revoking an unknown token: %v", err)
	}
	if ts, _ := st.ListTokens(ctx); len(ts) != 2 || ts[1].Revoked.IsZero() {
		t.Errorf("a revoked token is not listed as revoked: %+v", ts)
	}

	// A password change leaves tokens alone (they are revoked on their own).
	if err := st.SetPassword(ctx, "admin", "another password"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LookupToken(ctx, text2); err != nil {
		t.Errorf("a password change ended a token: %v", err)
	}
}

func TestTokenNames(t *testing.T) {
	st := openTest(t)
	if err := st.SetPassword(ctx, "admin", "long enough"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "  ", strings.Repeat("x", MaxTokenName+1), "a\nb", "tab\there", "bad\xff"} {
		if _, _, err := st.CreateToken(ctx, "admin", name, ScopeRead); err == nil {
			t.Errorf("token name %q accepted", name)
		}
	}
	for _, name := range []string{"ci", "Prometheus on mon-1", strings.Repeat("é", MaxTokenName)} {
		if _, _, err := st.CreateToken(ctx, "admin", name, ScopeRead); err != nil {
			t.Errorf("token name %q refused: %v", name, err)
		}
	}
	// A token belongs to a console user.
	if _, _, err := st.CreateToken(ctx, "nobody", "ci", ScopeRead); err == nil {
		t.Error("a token was made for a user that does not exist")
	}
}
