package tlscert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var testNames = Names{
	DNS: []string{"director1", "localhost"},
	IPs: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()},
}

func TestPinString(t *testing.T) {
	var p Pin
	for i := range p {
		p[i] = byte(i * 9)
	}
	s := p.String()
	if !regexp.MustCompile(`^[0-9A-F]{2}(:[0-9A-F]{2}){31}$`).MatchString(s) || !strings.HasPrefix(s, "00:09:12:1B:") {
		t.Errorf("fingerprint %q: want 32 upper-case hex pairs joined by colons, from 00:09:12:1B", s)
	}
	if !(Pin{}).IsZero() || p.IsZero() {
		t.Error("IsZero is wrong")
	}
}

func loadPin(t *testing.T, certFile, keyFile string) (Pin, *x509.Certificate) {
	t.Helper()
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return PinOf(c.Certificate[0]), c.Leaf
}

// The first start makes the pair: ECDSA P-256, for the names given, valid
// for Validity, the key private; the next start uses it again.
func TestEnsureSelfSigned(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	cf, kf, made, err := EnsureSelfSigned(dir, testNames, now)
	if err != nil {
		t.Fatal(err)
	}
	if made != "there was none" || cf != filepath.Join(dir, "console.crt") || kf != filepath.Join(dir, "console.key") {
		t.Fatalf("made %q at %s, %s", made, cf, kf)
	}
	fi, err := os.Stat(kf)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	pin, leaf := loadPin(t, cf, kf)
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if got := leaf.NotAfter.Sub(now); got != Validity {
		t.Errorf("valid for %v after now, want %v", got, Validity)
	}
	if strings.Join(leaf.DNSNames, ",") != "director1,localhost" || len(leaf.IPAddresses) != 3 || !leaf.IPAddresses[0].Equal(net.ParseIP("192.0.2.1")) {
		t.Errorf("names %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
	if err := leaf.VerifyHostname("192.0.2.1"); err != nil {
		t.Error(err)
	}
	if leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("usage %v", leaf.ExtKeyUsage)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("the directory holds %d files, want the 2 of the pair (no temporary file left)", len(entries))
	}

	// Used again: a day later, with another address (a VIP came up).
	other := testNames
	other.IPs = append(other.IPs, netip.MustParseAddr("192.0.2.10"))
	_, _, made, err = EnsureSelfSigned(dir, other, now.Add(24*time.Hour))
	if err != nil || made != "" {
		t.Fatalf("second start: made %q, %v; want the old pair", made, err)
	}
	if again, _ := loadPin(t, cf, kf); again != pin {
		t.Error("the pair changed at the second start")
	}
}

// A new pair is made when the old one is about to expire, names another
// host, or does not load.
func TestEnsureSelfSignedRenews(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		names Names
		at    time.Time
		spoil func(dir string)
		why   string
	}{
		"near expiry":  {testNames, now.Add(Validity - RenewBefore + time.Minute), nil, "expires"},
		"renamed host": {Names{DNS: []string{"director2"}}, now, nil, "now named director2"},
		"garbled":      {testNames, now, func(dir string) { os.WriteFile(filepath.Join(dir, CertName), []byte("garbage"), 0o644) }, "unusable"},
		"key lost":     {testNames, now, func(dir string) { os.Remove(filepath.Join(dir, KeyName)) }, "there was none"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cf, kf, _, err := EnsureSelfSigned(dir, testNames, now)
			if err != nil {
				t.Fatal(err)
			}
			old, _ := loadPin(t, cf, kf)
			if tc.spoil != nil {
				tc.spoil(dir)
			}
			_, _, made, err := EnsureSelfSigned(dir, tc.names, tc.at)
			if err != nil || !strings.Contains(made, tc.why) {
				t.Fatalf("made %q, %v; want a new pair because %q", made, err, tc.why)
			}
			if pin, _ := loadPin(t, cf, kf); pin == old {
				t.Error("the pair is the same")
			}
		})
	}
	// Not renewed a minute before the renewal time.
	dir := t.TempDir()
	EnsureSelfSigned(dir, testNames, now)
	if _, _, made, _ := EnsureSelfSigned(dir, testNames, now.Add(Validity-RenewBefore-time.Minute)); made != "" {
		t.Errorf("renewed early: %q", made)
	}
}

// clock is a test's clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// writePair writes a new self-signed pair, each file replaced atomically.
func writePair(t *testing.T, certFile, keyFile string) Pin {
	t.Helper()
	c, k, err := Make(testNames, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(keyFile, k, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(certFile, c, 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(c)
	return PinOf(b.Bytes)
}

// served is the pin of the certificate a TLS handshake with addr gets.
func served(t *testing.T, addr string) Pin {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return PinOf(conn.ConnectionState().PeerCertificates[0].Raw)
}

// The admin's pair is replaced: the next handshake (a second later) serves
// the new one. A broken pair then keeps the new one in service, and says so.
func TestReloaderTakesNewFiles(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	first := writePair(t, cf, kf)
	clk := &clock{t: time.Now()}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	r, err := NewReloader(Options{CertFile: cf, KeyFile: kf, Log: log, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	addr := ln.Addr().String()
	if got := served(t, addr); got != first || r.Pin() != first {
		t.Fatalf("serves %v (pin %v), want %v", got, r.Pin(), first)
	}

	second := writePair(t, cf, kf)
	if got := served(t, addr); got != first {
		t.Errorf("within the second: serves %v, want still the first %v (files are looked at once a second)", got, first)
	}
	clk.add(time.Second)
	if got := served(t, addr); got != second {
		t.Fatalf("after the files changed: serves %v, want %v", got, second)
	}
	if r.Pin() != second {
		t.Errorf("Pin %v, want %v", r.Pin(), second)
	}
	select {
	case <-r.Changes():
	default:
		t.Error("Changes was not signalled")
	}

	// A certificate without its key: the old pair stays.
	c, _, err := Make(testNames, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(cf, c, 0o644); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Second)
	if got := served(t, addr); got != second {
		t.Fatalf("after a broken pair: serves %v, want the last good one %v", got, second)
	}
	logMu.Lock()
	text := logs.String()
	logMu.Unlock()
	if !strings.Contains(text, "do not load") || !strings.Contains(text, "private key does not match public key") {
		t.Errorf("the log does not say why the new pair was refused:\n%s", text)
	}
	select {
	case <-r.Changes():
		t.Error("Changes signalled for a pair not taken")
	default:
	}
	// Said once, not at every look.
	clk.add(time.Second)
	r.Check()
	logMu.Lock()
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Errorf("the refusal is logged %d times, want once", n)
	}
	logMu.Unlock()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// The self-signed pair renews itself when near its end while serving.
func TestReloaderRenews(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	cf, kf, _, err := EnsureSelfSigned(dir, testNames, start)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: start}
	r, err := NewReloader(Options{CertFile: cf, KeyFile: kf, Now: clk.now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Renew: func(now time.Time) error { _, _, _, err := EnsureSelfSigned(dir, testNames, now); return err }})
	if err != nil {
		t.Fatal(err)
	}
	old := r.Pin()
	clk.add(Validity - RenewBefore - time.Hour)
	r.Check()
	if r.Pin() != old {
		t.Fatal("renewed too early")
	}
	clk.add(2 * time.Hour)
	r.Check()
	if r.Pin() == old {
		t.Fatal("not renewed 30 days before the end")
	}
	if got := r.Leaf().NotAfter; !got.After(start.Add(Validity)) {
		t.Errorf("the new one ends %v", got)
	}
}

func TestNewReloaderRefusesABrokenPair(t *testing.T) {
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	writePair(t, cf, kf)
	if _, err := NewReloader(Options{CertFile: cf, KeyFile: filepath.Join(dir, "none")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key: %v", err)
	}
	os.WriteFile(kf, []byte("nonsense"), 0o600)
	if _, err := NewReloader(Options{CertFile: cf, KeyFile: kf}); err == nil || !strings.Contains(err.Error(), kf) {
		t.Errorf("garbled key: %v, want an error naming the file", err)
	}
}

func TestHostNames(t *testing.T) {
	n := HostNames()
	for _, want := range []string{"localhost"} {
		if !strings.Contains(strings.Join(n.DNS, " "), want) {
			t.Errorf("DNS %v lacks %s", n.DNS, want)
		}
	}
	var has4, has6 bool
	for _, ip := range n.IPs {
		has4 = has4 || ip == netip.MustParseAddr("127.0.0.1")
		has6 = has6 || ip == netip.IPv6Loopback()
		if ip.IsLinkLocalUnicast() {
			t.Errorf("link-local %v in the names", ip)
		}
	}
	if !has4 || !has6 {
		t.Errorf("IPs %v lack 127.0.0.1 or ::1", n.IPs)
	}
}
