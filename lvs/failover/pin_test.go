package failover

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/tlscert"
)

// activeConsole is an active director's configuration endpoint, as the
// console serves it, over TLS with a certificate of its own (or plain
// HTTP), counting the requests it answers.
func activeConsole(t *testing.T, secret []byte, useTLS bool) (*httptest.Server, *int) {
	t.Helper()
	v := NewVerifier()
	served := new(int)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := v.Verify(r, secret, time.Now())
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		*served++
		w.Write(SealAnswer(secret, q, []byte("serial_no = 7\nprimary = 192.0.2.1\nservice = lvs\n")))
	})
	srv := httptest.NewUnstartedServer(h)
	if useTLS {
		c, k, err := tlscert.Make(tlscert.Names{IPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, served
}

// The standby takes the configuration from a console whose certificate is
// the one the heartbeat told, and from no other: a console with another
// certificate (a machine in the middle with a key of its own) gets no
// request at all. This test fails if the pin is ignored.
func TestFetchPinsTheCertificate(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	srv, served := activeConsole(t, secret, true)
	pin := sha256.Sum256(srv.Certificate().Raw)
	other, otherServed := activeConsole(t, secret, true) // the same secret: only the pin tells them apart
	if sha256.Sum256(other.Certificate().Raw) == pin {
		t.Fatal("the two test servers share a certificate")
	}

	cfg, err := Fetch(context.Background(), PinnedClient(pin), srv.URL, secret, time.Now())
	if err != nil || cfg.Serial != 7 {
		t.Fatalf("with the right pin: %v, %v", cfg, err)
	}
	if *served != 1 {
		t.Fatalf("served %d requests", *served)
	}

	_, err = Fetch(context.Background(), PinnedClient(pin), other.URL, secret, time.Now())
	if !errors.Is(err, ErrPin) {
		t.Errorf("another certificate: err = %v, want ErrPin", err)
	}
	wrong := pin
	wrong[31] ^= 1
	_, err = Fetch(context.Background(), PinnedClient(wrong), srv.URL, secret, time.Now())
	if !errors.Is(err, ErrPin) || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("one bit off the pin: err = %v, want ErrPin naming both hashes", err)
	}
	// A peer that told no pin (plain HTTP) yet answers with TLS.
	if _, err := Fetch(context.Background(), PinnedClient([32]byte{}), srv.URL, secret, time.Now()); !errors.Is(err, ErrPin) {
		t.Errorf("no pin, TLS answer: err = %v, want ErrPin", err)
	}
	if *served != 1 || *otherServed != 0 {
		t.Errorf("a refused certificate still got the request: served %d and %d, want 1 and 0", *served, *otherServed)
	}
}

// A peer whose heartbeat tells no pin serves plain HTTP: the standby
// fetches over it (the answer is sealed with the peer secret all the same).
func TestFetchPlainHTTPWithoutPin(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	srv, served := activeConsole(t, secret, false)
	if _, err := Fetch(context.Background(), PinnedClient([32]byte{}), srv.URL, secret, time.Now()); err != nil || *served != 1 {
		t.Fatalf("plain HTTP without a pin: %v (served %d)", err, *served)
	}
}

func TestConsoleURL(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	if got := consoleURL(a, 3636, [32]byte{}); got != "http://192.0.2.1:3636" {
		t.Errorf("no pin: %s", got)
	}
	if got := consoleURL(netip.MustParseAddr("2001:db8::1"), 3636, [32]byte{1}); got != "https://[2001:db8::1]:3636" {
		t.Errorf("a pin: %s", got)
	}
}
