// Package tlscert gives the console its certificate: a self-signed one
// that it makes beside its database when the admin gave none (as Cockpit
// does), or the admin's own pair, reloaded when its files change.
//
// The self-signed certificate is ECDSA P-256, valid for 397 days, for the
// host's name, its addresses at the time it was made, and localhost,
// 127.0.0.1 and ::1. It is made again 30 days before it expires, or at a
// start when the host's name is no longer in it, never for an address that
// came or went: a director's addresses change with every failover (the
// virtual addresses), and a certificate, so its fingerprint, that changed
// with them would teach admins to accept whatever the browser shows.
// 397 days and not ten years: macOS and iOS refuse a TLS server
// certificate valid for more than 825 days even when the admin trusts it
// by hand, and the CA/Browser Forum's limit is 398; renewal costs only a
// new fingerprint to compare.
package tlscert

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The self-signed pair's files, in the database's directory.
const (
	CertName = "console.crt"
	KeyName  = "console.key"
)

const (
	// Validity is how long a self-signed certificate is valid.
	Validity = 397 * 24 * time.Hour
	// RenewBefore is how long before its end a self-signed certificate is
	// made again.
	RenewBefore = 30 * 24 * time.Hour
	// checkEvery bounds how often the files are looked at.
	checkEvery = time.Second
)

// Pin is the SHA-256 of a certificate (of its DER encoding): what a browser
// shows as its fingerprint, and what the peer director pins.
type Pin [sha256.Size]byte

// PinOf returns the pin of a certificate's DER encoding.
func PinOf(der []byte) Pin { return sha256.Sum256(der) }

// IsZero says whether p is the zero Pin: no certificate.
func (p Pin) IsZero() bool { return p == Pin{} }

// String is the fingerprint as browsers show it: upper-case hex pairs
// joined by colons.
func (p Pin) String() string {
	h := strings.ToUpper(hex.EncodeToString(p[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// Names are what a self-signed certificate is made for.
type Names struct {
	DNS []string
	IPs []netip.Addr
}

// HostNames returns this host's name and its interface addresses (but
// link-local ones, which a URL cannot name without a zone), with
// localhost, 127.0.0.1 and ::1.
func HostNames() Names {
	n := Names{DNS: []string{"localhost"}, IPs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		n.DNS = append([]string{h}, n.DNS...)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsLinkLocalUnicast() || slices.Contains(n.IPs, ip) {
			continue
		}
		n.IPs = append(n.IPs, ip)
	}
	return n
}

// Make returns a new self-signed certificate and its key, PEM-encoded.
func Make(names Names, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	cn := "lvsconsole"
	if len(names.DNS) > 0 {
		cn = names.DNS[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"lvsconsole (self-signed)"}},
		NotBefore:             now.Add(-time.Hour), // a clock a little behind still takes it
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names.DNS,
	}
	for _, ip := range names.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// EnsureSelfSigned returns the paths of dir's self-signed pair, making it
// when it is missing or unusable, expires within RenewBefore, or does not
// name the host's first DNS name (a renamed host). made says why a new one
// was made ("" when the old one is used).
func EnsureSelfSigned(dir string, names Names, now time.Time) (certFile, keyFile, made string, err error) {
	certFile, keyFile = filepath.Join(dir, CertName), filepath.Join(dir, KeyName)
	why := needsNew(certFile, keyFile, names, now)
	if why == "" {
		return certFile, keyFile, "", nil
	}
	if err := writeSelfSigned(certFile, keyFile, names, now); err != nil {
		return "", "", "", err
	}
	return certFile, keyFile, why, nil
}

// needsNew says why the pair at certFile and keyFile will not do, or "".
func needsNew(certFile, keyFile string, names Names, now time.Time) string {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if errors.Is(err, os.ErrNotExist) {
		return "there was none"
	}
	if err != nil {
		return "the old one is unusable: " + err.Error()
	}
	leaf := c.Leaf
	switch {
	case now.Add(RenewBefore).After(leaf.NotAfter):
		return "the old one expires " + leaf.NotAfter.UTC().Format(time.DateOnly)
	case now.Before(leaf.NotBefore):
		return "the old one is not valid yet (a clock went back?)"
	case len(names.DNS) > 0 && !slices.Contains(leaf.DNSNames, names.DNS[0]):
		return "the host is now named " + names.DNS[0]
	}
	return ""
}

// writeSelfSigned makes a pair and writes it, each file atomically (a
// temporary file renamed over it), the key private. A crash between the two
// renames leaves a pair that does not load, which the next start replaces.
func writeSelfSigned(certFile, keyFile string, names Names, now time.Time) error {
	certPEM, keyPEM, err := Make(names, now)
	if err != nil {
		return fmt.Errorf("making a self-signed certificate: %w", err)
	}
	if err := writeAtomic(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeAtomic(certFile, certPEM, 0o644)
}

func writeAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename, there is none
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(name)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Options configure a Reloader.
type Options struct {
	CertFile, KeyFile string
	// Renew, if set, makes the pair again when it is about to expire (the
	// self-signed pair: EnsureSelfSigned with the host's names). nil: the
	// admin's own pair, which their tools renew.
	Renew func(now time.Time) error
	Log   *slog.Logger // nil: slog.Default()
	Now   func() time.Time
}

// Reloader serves a certificate pair from files, and takes a new pair when
// the files change: it looks (a stat of each) at most once a second, at a
// handshake or a Check. A new pair that does not load (a key that does not
// match, a file half written) leaves the old one in service, and the log
// says why, once per change of the files. Its methods are safe for
// concurrent use.
type Reloader struct {
	o       Options
	log     *slog.Logger
	changes chan struct{}

	mu      sync.Mutex
	cur     *tls.Certificate
	pin     Pin
	stamp   [2]os.FileInfo // of the files when last loaded or tried
	checked time.Time
	renewed time.Time // the last renewal tried
}

// NewReloader loads the pair; an error says what is wrong with it.
func NewReloader(o Options) (*Reloader, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Reloader{o: o, log: o.Log, changes: make(chan struct{}, 1)}
	st, err := r.stat()
	if err != nil {
		return nil, err
	}
	c, err := load(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, err
	}
	r.cur, r.pin, r.stamp, r.checked = c, PinOf(c.Certificate[0]), st, o.Now()
	return r, nil
}

func load(certFile, keyFile string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("certificate %s with key %s: %w", certFile, keyFile, err)
	}
	return &c, nil
}

func (r *Reloader) stat() ([2]os.FileInfo, error) {
	var st [2]os.FileInfo
	for i, name := range []string{r.o.CertFile, r.o.KeyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return st, err
		}
		st[i] = fi
	}
	return st, nil
}

func same(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.Check()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, nil
}

// Pin returns the pin of the certificate in service.
func (r *Reloader) Pin() Pin {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pin
}

// Leaf returns the certificate in service.
func (r *Reloader) Leaf() *x509.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur.Leaf
}

// Changes is signalled (capacity 1, never closed) when another certificate
// is in service.
func (r *Reloader) Changes() <-chan struct{} { return r.changes }

// Check looks at the files, unless it did less than a second ago, and
// takes a changed pair if it loads. With Options.Renew, it first renews a
// pair about to expire.
func (r *Reloader) Check() {
	now := r.o.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.checked) < checkEvery && !now.Before(r.checked) {
		return
	}
	r.checked = now
	// A renewal that failed (a full disk) is tried again an hour later.
	if r.o.Renew != nil && now.Add(RenewBefore).After(r.cur.Leaf.NotAfter) && !(now.Sub(r.renewed) < time.Hour) {
		r.renewed = now
		if err := r.o.Renew(now); err != nil {
			r.log.Error("renewing the console's self-signed certificate", "err", err)
		}
	}
	st, err := r.stat()
	if err != nil {
		if r.stamp[0] != nil {
			r.log.Warn("the console's certificate files: keeping the certificate in service", "err", err)
		}
		r.stamp = [2]os.FileInfo{} // say it again when they come back
		return
	}
	if same(st[0], r.stamp[0]) && same(st[1], r.stamp[1]) {
		return
	}
	r.stamp = st
	c, err := load(r.o.CertFile, r.o.KeyFile)
	if err != nil {
		r.log.Error("the console's certificate files changed but do not load: keeping the certificate in service", "err", err,
			"sha256", r.pin.String())
		return
	}
	pin := PinOf(c.Certificate[0])
	if pin == r.pin {
		return // touched, not changed
	}
	r.cur, r.pin = c, pin
	r.log.Info("the console's certificate changed", "sha256", pin.String(), "subject", c.Leaf.Subject.String(),
		"not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	select {
	case r.changes <- struct{}{}:
	default:
	}
}

// Run checks the files every second until ctx ends, so that the pin the
// heartbeat carries follows them even when nobody connects.
func (r *Reloader) Run(ctx context.Context) {
	t := time.NewTicker(checkEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Check()
		}
	}
}
