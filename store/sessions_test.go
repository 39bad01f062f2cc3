package store

import (
	"errors"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	st := openTest(t)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st.now = func() time.Time { return clock }
	p := SessionPolicy{Idle: 30 * time.Minute, Absolute: 8 * time.Hour}
	if err := st.SetPassword(ctx, "admin", "long enough"); err != nil {
		t.Fatal(err)
	}
	tok, err := st.CreateSession(ctx, "admin", p)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := st.Session(ctx, tok, p); err != nil || s.User != "admin" {
		t.Fatalf("fresh session: %+v %v", s, err)
	}
	if _, err := st.Session(ctx, tok+"x", p); !errors.Is(err, ErrNoSession) {
		t.Errorf("wrong token: %v", err)
	}
	var stored []byte
	st.ro.QueryRow(`SELECT token_hash FROM sessions`).Scan(&stored)
	if string(stored) == tok || len(stored) != 32 {
		t.Errorf("the token itself is stored")
	}

	// Used every 20 minutes, it outlives the idle limit, up to the absolute one.
	for clock.Before(time.Date(2026, 1, 2, 11, 0, 0, 0, time.UTC)) {
		clock = clock.Add(20 * time.Minute)
		_, err := st.Session(ctx, tok, p)
		if elapsed := clock.Sub(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); elapsed >= p.Absolute {
			if !errors.Is(err, ErrNoSession) {
				t.Fatalf("after %v the session is still valid", elapsed)
			}
			break
		} else if err != nil {
			t.Fatalf("after %v: %v", elapsed, err)
		}
	}

	// Idle too long.
	tok2, _ := st.CreateSession(ctx, "admin", p)
	clock = clock.Add(31 * time.Minute)
	if _, err := st.Session(ctx, tok2, p); !errors.Is(err, ErrNoSession) {
		t.Errorf("idle session still valid: %v", err)
	}

	// Logout and password change end sessions.
	tok3, _ := st.CreateSession(ctx, "admin", p)
	if err := st.DeleteSession(ctx, tok3); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, tok3, p); !errors.Is(err, ErrNoSession) {
		t.Errorf("session valid after logout")
	}
	tok4, _ := st.CreateSession(ctx, "admin", p)
	if err := st.SetPassword(ctx, "admin", "another password"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, tok4, p); !errors.Is(err, ErrNoSession) {
		t.Errorf("session valid after a password change")
	}
	var n int
	st.ro.QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&n)
	if n != 0 {
		t.Errorf("%d sessions left", n)
	}
}
