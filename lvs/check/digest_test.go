package check_test

import (
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/check"
)

func TestHTTPDigest(t *testing.T) {
	t.Parallel()
	// Larger than what a body regex reads: the digest is of all of it.
	body := strings.Repeat("all is well\n", 20000)
	sum := md5.Sum([]byte(body))
	digest := hex.EncodeToString(sum[:])
	_, tg := startHTTP(t, "127.0.0.1", false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	spec := check.Spec{Kind: check.HTTP, Timeout: 2 * time.Second, Digest: strings.ToUpper(digest)}
	if r := check.Run(t.Context(), spec, tg); !r.OK || r.Reason != "status 200, digest matches" {
		t.Fatalf("digest of the body: %+v", r)
	}
	spec.BodyRegex = "^all is well"
	if r := check.Run(t.Context(), spec, tg); !r.OK || r.Reason != "status 200, digest and body match" {
		t.Fatalf("digest and regex: %+v", r)
	}
	spec.BodyRegex = "^sick"
	wantDown(t, check.Run(t.Context(), spec, tg), "body does not match '^sick'")
	spec.BodyRegex = ""
	spec.Digest = "00000000000000000000000000000000"
	wantDown(t, check.Run(t.Context(), spec, tg), "body digest "+digest+", want 00000000000000000000000000000000")
	spec.Digest = "xyz"
	wantDown(t, check.Run(t.Context(), spec, tg), "invalid check: digest: \"xyz\" is not an MD5 digest")
}
