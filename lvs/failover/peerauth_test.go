package failover

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func newConfigRequest(t testing.TB) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://192.0.2.1:3636"+ConfigPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVerify: the active takes a request signed with its secret, in the
// clock window, once; it refuses any other, saying why (for its log).
func TestVerify(t *testing.T) {
	secret, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name   string
		sign   func(r *http.Request)
		secret []byte // the active's
		want   string // "" taken, else part of the error
	}{
		{"good", func(r *http.Request) { SignRequest(r, secret, now) }, secret, ""},
		{"29 s behind", func(r *http.Request) { SignRequest(r, secret, now.Add(-29*time.Second)) }, secret, ""},
		{"29 s ahead", func(r *http.Request) { SignRequest(r, secret, now.Add(29*time.Second)) }, secret, ""},
		{"stale", func(r *http.Request) { SignRequest(r, secret, now.Add(-31*time.Second)) }, secret, "away from this director's clock"},
		{"ahead", func(r *http.Request) { SignRequest(r, secret, now.Add(time.Hour)) }, secret, "away from this director's clock"},
		{"another secret", func(r *http.Request) { SignRequest(r, other, now) }, secret, "wrong MAC"},
		{"no secret here", func(r *http.Request) { SignRequest(r, secret, now) }, nil, "no peer secret is set"},
		{"none", func(r *http.Request) {}, secret, "no LVS-PEER2 authorization"},
		{"v1", func(r *http.Request) { r.Header.Set("Authorization", "LVS-HMAC 1800000000 "+strings.Repeat("0", 64)) }, secret, "no LVS-PEER2"},
		{"short nonce", func(r *http.Request) {
			r.Header.Set("Authorization", "LVS-PEER2 1800000000 00 "+strings.Repeat("0", 64))
		}, secret, "no LVS-PEER2"},
		{"bad time", func(r *http.Request) {
			r.Header.Set("Authorization", "LVS-PEER2 x "+strings.Repeat("0", 32)+" "+strings.Repeat("0", 64))
		}, secret, "bad time"},
		{"another path", func(r *http.Request) {
			SignRequest(r, secret, now)
			r.URL.Path = "/peer/v2/other"
		}, secret, "wrong MAC"},
		{"another method", func(r *http.Request) {
			SignRequest(r, secret, now)
			r.Method = http.MethodPost
		}, secret, "wrong MAC"},
		{"time changed", func(r *http.Request) {
			SignRequest(r, secret, now)
			f := strings.Fields(r.Header.Get("Authorization"))
			f[1] = "1800000001"
			r.Header.Set("Authorization", strings.Join(f, " "))
		}, secret, "wrong MAC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier()
			r := newConfigRequest(t)
			tc.sign(r)
			q, err := v.Verify(r, tc.secret, now)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("taken, want refused with %q", tc.want)
			case tc.want != "" && (!errors.Is(err, ErrPeerAuth) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("refused with %v, want ErrPeerAuth saying %q", err, tc.want)
			case tc.want != "":
				return
			}
			if q.Path != ConfigPath || q.Method != http.MethodGet || len(q.Nonce) != 2*nonceLen {
				t.Errorf("request %+v", q)
			}
			// The same request again is a replay.
			if _, err := v.Verify(r, tc.secret, now); err == nil || !strings.Contains(err.Error(), "replayed") {
				t.Errorf("the request again: %v, want refused as replayed", err)
			}
		})
	}
}

// TestVerifierMemory: the nonces remembered are bounded; when full, new
// requests are refused until the oldest are out of the clock window, and
// a replay is refused until its time is out of the window too.
func TestVerifierMemory(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	now := time.Unix(1_800_000_000, 0)
	v := NewVerifier()
	first := newConfigRequest(t)
	SignRequest(first, secret, now)
	if _, err := v.Verify(first, secret, now); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < maxNonces; i++ {
		r := newConfigRequest(t)
		SignRequest(r, secret, now.Add(10*time.Second))
		if _, err := v.Verify(r, secret, now.Add(10*time.Second)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	r := newConfigRequest(t)
	SignRequest(r, secret, now.Add(10*time.Second))
	if _, err := v.Verify(r, secret, now.Add(10*time.Second)); err == nil || !strings.Contains(err.Error(), "the most this director remembers") {
		t.Fatalf("request %d: %v, want refused while the memory is full", maxNonces+1, err)
	}
	if len(v.seen) != maxNonces {
		t.Errorf("%d nonces remembered, want %d", len(v.seen), maxNonces)
	}
	// 31 s after the first: its nonce is forgotten (its time is out of
	// the window anyway), which makes room for one more.
	later := now.Add(31 * time.Second)
	r = newConfigRequest(t)
	SignRequest(r, secret, later)
	if _, err := v.Verify(r, secret, later); err != nil {
		t.Fatalf("once the first expired: %v", err)
	}
	if _, err := v.Verify(first, secret, later); err == nil || !strings.Contains(err.Error(), "away from this director's clock") {
		t.Errorf("the first request replayed after its window: %v", err)
	}
}

// TestSealAnswer: an answer opens only whole, with the secret, for the
// request it answers.
func TestSealAnswer(t *testing.T) {
	secret, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	now := time.Unix(1_800_000_000, 0)
	q := SignRequest(newConfigRequest(t), secret, now)
	later := SignRequest(newConfigRequest(t), secret, now) // the same second
	config := []byte("serial_no = 7\nvirtual web {\n     address = 192.0.2.10 eth0:1\n}\n")
	sealed := SealAnswer(secret, q, config)
	if bytes.Contains(sealed, []byte("192.0.2.10")) {
		t.Error("the configuration is in clear in the sealed answer")
	}
	if again := SealAnswer(secret, q, config); bytes.Equal(again, sealed) {
		t.Error("sealing twice gave the same bytes: the nonce is not random")
	}
	got, err := OpenAnswer(secret, q, sealed)
	if err != nil || !bytes.Equal(got, config) {
		t.Fatalf("OpenAnswer = %q, %v", got, err)
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x80
		if _, err := OpenAnswer(secret, q, bad); !errors.Is(err, ErrPeerAuth) {
			t.Errorf("byte %d of %d changed: %v, want ErrPeerAuth", i, len(sealed), err)
		}
	}
	for name, open := range map[string]func() ([]byte, error){
		"a later request":  func() ([]byte, error) { return OpenAnswer(secret, later, sealed) },
		"another path":     func() ([]byte, error) { p := q; p.Path = "/x"; return OpenAnswer(secret, p, sealed) },
		"another time":     func() ([]byte, error) { p := q; p.Time = "1"; return OpenAnswer(secret, p, sealed) },
		"another secret":   func() ([]byte, error) { return OpenAnswer(other, q, sealed) },
		"cut short":        func() ([]byte, error) { return OpenAnswer(secret, q, sealed[:len(sealed)-1]) },
		"shorter than all": func() ([]byte, error) { return OpenAnswer(secret, q, sealed[:10]) },
		"with more":        func() ([]byte, error) { return OpenAnswer(secret, q, append(bytes.Clone(sealed), 0)) },
	} {
		if _, err := open(); !errors.Is(err, ErrPeerAuth) {
			t.Errorf("%s: %v, want ErrPeerAuth", name, err)
		}
	}
}

// BenchmarkVerifyRefused: what a refused request costs the active, by
// reason. A stranger measures these from outside; without the secret,
// the refusals it can cause (no secret set, another secret, a time out of
// the window) all cost one key derivation and one MAC.
func BenchmarkVerifyRefused(b *testing.B) {
	secret, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	now := time.Unix(1_800_000_000, 0)
	for _, bc := range []struct {
		name   string
		signer []byte
		at     time.Time
		active []byte
	}{
		{"no-secret-set", other, now, nil},
		{"another-secret", other, now, secret},
		{"another-secret-stale", other, now.Add(-time.Hour), secret},
		{"right-secret-stale", secret, now.Add(-time.Hour), secret},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v := NewVerifier()
			r := newConfigRequest(b)
			SignRequest(r, bc.signer, bc.at)
			for b.Loop() {
				if _, err := v.Verify(r, bc.active, now); err == nil {
					b.Fatal("taken")
				}
			}
		})
	}
}
