package loadtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// WriteKey writes key (an ed25519, ECDSA or RSA private key) in OpenSSH's
// format to dir/name with mode perm and returns the path.
func WriteKey(tb testing.TB, dir, name string, key any, perm os.FileMode) string {
	tb.Helper()
	block, err := ssh.MarshalPrivateKey(key, "lvsconsole test")
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), perm); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		tb.Fatal(err)
	}
	return path
}

// HostKey writes a new ed25519 host key to dir/name (and its public half
// to name.pub) and returns the private key's path and the public key.
func HostKey(tb testing.TB, dir, name string) (string, ssh.PublicKey) {
	tb.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	path := WriteKey(tb, dir, name, key, 0o600)
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(s.PublicKey()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path, s.PublicKey()
}

// AuthorizedKey is an authorized_keys line for pub with options ("" or
// e.g. `restrict,command="cat /proc/loadavg"`).
func AuthorizedKey(options string, pub ssh.PublicKey) string {
	line := strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(pub)), "\n") + " lvsconsole-test\n"
	if options != "" {
		line = options + " " + line
	}
	return line
}
