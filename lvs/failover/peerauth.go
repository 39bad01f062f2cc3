package failover

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The configuration sync: the standby asks the active for its
// configuration over the console's port, at ConfigPath. Both ends prove they
// hold the peer secret. The request carries a time and its MAC (the active
// refuses a stale or forged one, so the configuration is not given to
// strangers); the answer's MAC covers the body and the request's time, so an
// old answer replayed by someone in the middle does not verify.
const (
	// ConfigPath is where the active serves its configuration to the peer.
	ConfigPath = "/peer/v1/config"
	// authScheme names the Authorization scheme.
	authScheme = "LVS-HMAC"
	// BodyMACHeader carries the answer's MAC.
	BodyMACHeader = "X-Lvs-Mac"
	// skew is how far the two directors' clocks may disagree.
	skew = 30 * time.Second
)

// ErrPeerAuth is why a request or an answer did not verify.
var ErrPeerAuth = errors.New("peer authentication failed")

func mac(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// SignRequest adds the Authorization header of a configuration request made
// at now.
func SignRequest(r *http.Request, key []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set("Authorization", authScheme+" "+ts+" "+hex.EncodeToString(mac(key, "request", r.Method, r.URL.Path, ts)))
}

// VerifyRequest checks a configuration request's Authorization header and
// returns its time stamp, which the answer's MAC covers.
func VerifyRequest(r *http.Request, key []byte, now time.Time) (string, error) {
	f := strings.Fields(r.Header.Get("Authorization"))
	if len(f) != 3 || f[0] != authScheme {
		return "", fmt.Errorf("%w: no %s authorization", ErrPeerAuth, authScheme)
	}
	sec, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: bad time stamp", ErrPeerAuth)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > skew || d < -skew {
		return "", fmt.Errorf("%w: time stamp %v away from this director's clock (at most %v)", ErrPeerAuth, d.Round(time.Second), skew)
	}
	got, err := hex.DecodeString(f[2])
	if err != nil || !hmac.Equal(got, mac(key, "request", r.Method, r.URL.Path, f[1])) {
		return "", fmt.Errorf("%w: wrong MAC (is the peer secret the same on both directors?)", ErrPeerAuth)
	}
	return f[1], nil
}

// SignBody returns the MAC header value of an answer to a request with time
// stamp ts.
func SignBody(key []byte, ts string, body []byte) string {
	return hex.EncodeToString(mac(key, "answer", ts, string(body)))
}

// verifyBody checks an answer's MAC.
func verifyBody(key []byte, ts string, body []byte, header string) error {
	got, err := hex.DecodeString(header)
	if err != nil || !hmac.Equal(got, mac(key, "answer", ts, string(body))) {
		return fmt.Errorf("%w: the answer's MAC does not verify", ErrPeerAuth)
	}
	return nil
}

// requestStamp returns the time stamp SignRequest put in r.
func requestStamp(r *http.Request) string {
	f := strings.Fields(r.Header.Get("Authorization"))
	if len(f) != 3 {
		return ""
	}
	return f[1]
}
