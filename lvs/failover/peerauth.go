package failover

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// The configuration sync: the standby asks the active for its
// configuration over the console's port, HTTP or HTTPS alike, at
// ConfigPath. The peer secret protects both ways and TLS is not relied on
// (the standby does not verify the active's certificate): the request is
// authenticated, and the answer sealed (encrypted and authenticated) for
// that request only.
//
// Keys. Two 32-byte keys are derived from the peer secret with HKDF-SHA256
// (no salt): the request key with info "lvsconsole peer v2 request", the
// answer key with info "lvsconsole peer v2 answer".
//
// Request.
//
//	GET /peer/v2/config
//	Authorization: LVS-PEER2 <time> <nonce> <mac>
//
// time is the standby's clock in Unix seconds (decimal), nonce 16 random
// bytes (32 hex digits), and mac the HMAC-SHA256 under the request key of
// the request's binding (hex):
//
//	"lvsconsole peer v2 request" 0x00 method 0x00 path 0x00 time 0x00 nonce
//
// The active takes a request whose MAC verifies, whose time is within 30 s
// of its own clock, and whose nonce it has not taken before: it remembers
// the nonces it took until their time is out of the window (at most
// maxNonces of them; when that many are remembered, it refuses requests
// until some expire: genuine ones come a few a minute). Any refusal is the
// same answer, 401 with the body "unauthorized\n", whatever the reason:
// a stranger learns nothing of the active's clock or its secret, not even
// whether one is set. The MAC is checked first, in constant time, with
// the same work whether a secret is set or not.
//
// Answer. 200, Content-Type application/octet-stream; the body is a
// 24-byte random nonce followed by the XChaCha20-Poly1305 sealing, under
// the answer key, of the configuration as lvs.cf, with the request's
// binding as additional data:
//
//	"lvsconsole peer v2 answer" 0x00 method 0x00 path 0x00 time 0x00 nonce
//
// so that the configuration is confidential, a changed byte makes the
// answer fail to open, and an answer opens only for the request it
// answers (not for a later one, even one made in the same second).
//
// Accounts. GET AccountsPath is authenticated and answered the same way;
// the sealed answer is the active's console users and API tokens
// (store.Accounts as JSON: password and token hashes, never a password or
// a token's text), which the standby takes in place of its own. The path
// is in the binding, so an answer to one path never opens as the other's.
const (
	// ConfigPath is where the active serves its configuration to the peer.
	ConfigPath = "/peer/v2/config"
	// AccountsPath is where the active serves its users and API tokens to
	// the peer.
	AccountsPath = "/peer/v2/accounts"
	// authScheme names the Authorization scheme.
	authScheme = "LVS-PEER2"
	// skew is how far the two directors' clocks may disagree.
	skew = 30 * time.Second
	// maxNonces bounds the request nonces remembered.
	maxNonces = 1024
	// nonceLen is the size of a request nonce, in bytes.
	nonceLen = 16

	infoRequest = "lvsconsole peer v2 request"
	infoAnswer  = "lvsconsole peer v2 answer"
)

// ErrPeerAuth is why a request or an answer did not verify.
var ErrPeerAuth = errors.New("peer authentication failed")

// Request is a signed configuration request, as much of it as its answer
// is bound to.
type Request struct {
	Method, Path string
	Time         string // Unix seconds, as sent
	Nonce        string // hex, as sent
}

// binding is what the request's MAC and its answer's sealing cover.
func (q Request) binding(label string) []byte {
	return []byte(label + "\x00" + q.Method + "\x00" + q.Path + "\x00" + q.Time + "\x00" + q.Nonce)
}

// key derives the key for info from the peer secret.
func key(secret []byte, info string) []byte {
	k := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(info)), k); err != nil {
		panic("hkdf: " + err.Error()) // 32 bytes are far below HKDF's limit
	}
	return k
}

func requestMAC(secret []byte, q Request) []byte {
	m := hmac.New(sha256.New, key(secret, infoRequest))
	m.Write(q.binding(infoRequest))
	return m.Sum(nil)
}

// SignRequest adds the Authorization header of a configuration request
// made at now, with a fresh nonce, and returns the request as its answer
// is bound to it.
func SignRequest(r *http.Request, secret []byte, now time.Time) Request {
	nonce := make([]byte, nonceLen)
	rand.Read(nonce)
	q := Request{Method: r.Method, Path: r.URL.Path, Time: strconv.FormatInt(now.Unix(), 10), Nonce: hex.EncodeToString(nonce)}
	r.Header.Set("Authorization", authScheme+" "+q.Time+" "+q.Nonce+" "+hex.EncodeToString(requestMAC(secret, q)))
	return q
}

// Verifier checks configuration requests and remembers the nonces of those
// it took; one serves every request of a console.
type Verifier struct {
	mu   sync.Mutex
	seen map[string]int64 // nonce -> the Unix second after which its request is stale anyway
	max  int
}

// NewVerifier returns a Verifier that remembers at most maxNonces nonces.
func NewVerifier() *Verifier {
	return &Verifier{seen: map[string]int64{}, max: maxNonces}
}

// Verify checks r's Authorization header against secret (nil: none set)
// at now, and returns the request its answer is to be bound to. The error
// wraps ErrPeerAuth and says why, for the log: the caller answers every
// refusal alike.
func (v *Verifier) Verify(r *http.Request, secret []byte, now time.Time) (Request, error) {
	f := strings.Fields(r.Header.Get("Authorization"))
	if len(f) != 4 || f[0] != authScheme || len(f[2]) != 2*nonceLen || len(f[3]) != 2*sha256.Size {
		return Request{}, fmt.Errorf("%w: no %s authorization", ErrPeerAuth, authScheme)
	}
	sec, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Request{}, fmt.Errorf("%w: bad time", ErrPeerAuth)
	}
	got, err := hex.DecodeString(f[3])
	if err != nil {
		return Request{}, fmt.Errorf("%w: bad MAC", ErrPeerAuth)
	}
	if _, err := hex.DecodeString(f[2]); err != nil {
		return Request{}, fmt.Errorf("%w: bad nonce", ErrPeerAuth)
	}
	q := Request{Method: r.Method, Path: r.URL.Path, Time: f[1], Nonce: f[2]}
	k := secret
	if len(k) == 0 {
		k = make([]byte, 32) // no secret set: the same work, and a refusal
	}
	good := hmac.Equal(got, requestMAC(k, q))
	switch {
	case len(secret) == 0:
		return Request{}, fmt.Errorf("%w: no peer secret is set on this director", ErrPeerAuth)
	case !good:
		return Request{}, fmt.Errorf("%w: wrong MAC (is the peer secret the same on both directors?)", ErrPeerAuth)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > skew || d < -skew {
		return Request{}, fmt.Errorf("%w: its time is %v away from this director's clock (at most %v)", ErrPeerAuth, d.Round(time.Second), skew)
	}
	if err := v.remember(q.Nonce, sec+int64(skew/time.Second), now.Unix()); err != nil {
		return Request{}, err
	}
	return q, nil
}

// remember records nonce, good until the Unix second until; it refuses a
// nonce it has, and any when it holds max unexpired ones.
func (v *Verifier) remember(nonce string, until, now int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.seen[nonce]; ok {
		return fmt.Errorf("%w: a replayed request (its nonce was used before)", ErrPeerAuth)
	}
	if len(v.seen) >= v.max {
		for n, u := range v.seen {
			if u < now {
				delete(v.seen, n)
			}
		}
		if len(v.seen) >= v.max {
			return fmt.Errorf("%w: %d requests in the last %v, the most this director remembers", ErrPeerAuth, v.max, 2*skew)
		}
	}
	v.seen[nonce] = until
	return nil
}

// SealAnswer seals config, the answer to q.
func SealAnswer(secret []byte, q Request, config []byte) []byte {
	aead, err := chacha20poly1305.NewX(key(secret, infoAnswer))
	if err != nil {
		panic("chacha20poly1305: " + err.Error()) // the key is 32 bytes
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(config)+aead.Overhead())
	rand.Read(out)
	return aead.Seal(out, out, config, q.binding(infoAnswer))
}

// OpenAnswer opens body, the answer to q, and returns the configuration.
func OpenAnswer(secret []byte, q Request, body []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key(secret, infoAnswer))
	if err != nil {
		return nil, err
	}
	if len(body) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: the answer is too short to be sealed", ErrPeerAuth)
	}
	config, err := aead.Open(nil, body[:aead.NonceSize()], body[aead.NonceSize():], q.binding(infoAnswer))
	if err != nil {
		return nil, fmt.Errorf("%w: the answer does not open with the peer secret for this request", ErrPeerAuth)
	}
	return config, nil
}

// sealOverhead is what sealing adds to a configuration.
const sealOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
