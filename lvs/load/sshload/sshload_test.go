package sshload

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestParseLoadavg(t *testing.T) {
	got, err := ParseLoadavg([]byte("0.52 1.58 10.00 2/345 6789\n"))
	if err != nil || got != [3]float64{0.52, 1.58, 10} {
		t.Fatalf("ParseLoadavg = %v, %v", got, err)
	}
	for _, bad := range []string{
		"",
		"hello\n",
		"0.52 0.58 0.59\n",
		"0.52 0.58 0.59 2/345 6789\nmore\n",
		"NaN 0.58 0.59 2/345 6789\n",
		"Inf 0.58 0.59 2/345 6789\n",
		"0x1p1 0.58 0.59 2/345 6789\n",
		"-1 0.58 0.59 2/345 6789\n",
		"1..2 0.58 0.59 2/345 6789\n",
		"0.52 0.58 0.59 2-345 6789\n",
		"0.52 0.58 0.59 2/345 x\n",
		" 0.52 0.58 0.59 2/345 6789\n",
		strings.Repeat("9", 400) + " 0.58 0.59 2/345 6789\n",
	} {
		if got, err := ParseLoadavg([]byte(bad)); err == nil || !strings.Contains(err.Error(), "not /proc/loadavg's line") {
			t.Errorf("ParseLoadavg(%.40q) = %v, %v; want an error", bad, got, err)
		}
	}
	// This machine's own line is one.
	b, err := os.ReadFile("/proc/loadavg")
	if err == nil {
		if _, err := ParseLoadavg(b); err != nil {
			t.Errorf("this machine's /proc/loadavg: %v", err)
		}
	}
}

// writeKey writes key in OpenSSH's format, mode perm, and returns its path.
func writeKey(t testing.TB, dir, name string, key any, perm os.FileMode) string {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(key, "lvsconsole test")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func TestReadKey(t *testing.T) {
	dir := t.TempDir()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, key := range map[string]any{"ed25519": ed, "ecdsa": ec, "rsa": rs} {
		s, err := ReadKey(writeKey(t, dir, name, key, 0o600))
		if err != nil || s == nil {
			t.Errorf("%s key: %v", name, err)
		}
	}
	if _, err := ReadKey(writeKey(t, dir, "small", small, 0o600)); err == nil || !strings.Contains(err.Error(), "1024 bits") {
		t.Errorf("RSA of 1024 bits: %v, want refused", err)
	}
	if runtime.GOOS != "windows" {
		for _, perm := range []os.FileMode{0o640, 0o604, 0o660, 0o644} {
			path := writeKey(t, dir, "open", ed, perm)
			if _, err := ReadKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("a key of mode %04o: %v, want refused", perm, err)
			}
		}
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(ed, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, "encrypted")
	os.WriteFile(enc, pem.EncodeToMemory(block), 0o600)
	if _, err := ReadKey(enc); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("a key with a passphrase: %v", err)
	}
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not a key\n"), 0o600)
	if _, err := ReadKey(junk); err == nil || !strings.Contains(err.Error(), "not an OpenSSH or PEM private key") {
		t.Errorf("junk: %v", err)
	}
	if _, err := ReadKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was read")
	}
	if _, err := ReadKey(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}

func TestConfigSaysAllThatIsMissing(t *testing.T) {
	_, err := Load(t.Context(), Config{})
	for _, field := range []string{"Addr", "User", "Signer", "Keys"} {
		if err == nil || !strings.Contains(err.Error(), "("+field+")") {
			t.Errorf("Load with an empty Config: %v, want %s named", err, field)
		}
	}
	if addr, err := (Config{Addr: "10.0.0.1", User: "u", Signer: dummySigner(t), Keys: &pins{}}).check(); err != nil || addr != "10.0.0.1:22" {
		t.Errorf("an address without a port: %q, %v; want port 22", addr, err)
	}
	if addr, err := (Config{Addr: "fd00::1", User: "u", Signer: dummySigner(t), Keys: &pins{}}).check(); err != nil || addr != "[fd00::1]:22" {
		t.Errorf("an IPv6 address without a port: %q, %v", addr, err)
	}
}

func dummySigner(t *testing.T) ssh.Signer {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(ed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pins is an in-memory HostKeys that counts its pins.
type pins struct {
	mu   sync.Mutex
	m    map[string]string
	pins int
}

func (p *pins) Pinned(host string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fp, ok := p.m[host]
	return fp, ok
}

func (p *pins) Pin(host, fp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]string{}
	}
	p.m[host] = fp
	p.pins++
	return nil
}

// TestLoadSilentServer: a server that accepts and never speaks SSH is cut
// at the context's deadline, and the error says so.
func TestLoadSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			held <- c
		}
	}()
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Load(c, Config{Addr: ln.Addr().String(), User: "root", Signer: dummySigner(t), Keys: &pins{}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a silent server: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Load returned after %v, past its 300ms deadline", d)
	}
	(<-held).Close()
}

// TestLoadPinError: a store that cannot keep a pin refuses the connection.
func TestLoadPinError(t *testing.T) {
	cfg := Config{Addr: "127.0.0.1:22", Keys: failingPins{}}
	err := cfg.pinning("127.0.0.1:22")("", nil, dummySigner(t).PublicKey())
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "SHA256:") {
		t.Fatalf("a pin that cannot be kept: %v, want the connection refused", err)
	}
}

type failingPins struct{}

func (failingPins) Pinned(string) (string, bool) { return "", false }
func (failingPins) Pin(string, string) error     { return errors.New("disk full") }
