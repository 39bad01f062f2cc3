package sshload

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// The director's own key is made on first use, private, and the same key
// afterwards.
func TestEnsureKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "load_ed25519")
	s1, err := EnsureKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if s1.PublicKey().Type() != ssh.KeyAlgoED25519 {
		t.Errorf("type %s, want ed25519", s1.PublicKey().Type())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 && runtime.GOOS != "windows" {
		t.Errorf("mode %04o, want 0600", perm)
	}
	s2, err := EnsureKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(s1.PublicKey().Marshal()) != string(s2.PublicKey().Marshal()) {
		t.Error("a second EnsureKey made another key")
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("%d files beside the key, want only it", len(ents))
	}
	line := AuthorizedLine(string(ssh.MarshalAuthorizedKey(s1.PublicKey())))
	if !strings.HasPrefix(line, `restrict,command="cat /proc/loadavg" ssh-ed25519 AAAA`) {
		t.Errorf("authorized_keys line %q", line)
	}
	// A key others may read is refused, not replaced.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureKey(path); err == nil && runtime.GOOS != "windows" {
		t.Error("a key readable by others was taken")
	}
}
