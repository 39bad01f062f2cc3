package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/lvsconsole/lvsconsole/lvs/load/sshload"
)

// TestDirectorKey: before the key file exists the console says when it
// will; then it shows the public half of the file's key as the
// authorized_keys line, restricted to the monitor's command.
func TestDirectorKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), directorKeyFile)
	k := directorKey{path: path}
	if _, err := k.PublicKey(); err == nil || !strings.Contains(err.Error(), "first reading") {
		t.Errorf("without a key file: %v", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	spub, _ := ssh.NewPublicKey(pub)
	want := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spub)))
	if !strings.HasPrefix(got, want+" lvsconsole") {
		t.Errorf("PublicKey = %q, want %q and a comment", got, want)
	}
	line := sshload.AuthorizedLine(got)
	if !strings.HasPrefix(line, `restrict,command="cat /proc/loadavg" ssh-ed25519 AAAA`) {
		t.Errorf("the authorized_keys line is %q", line)
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
		t.Errorf("sshd would not read %q: %v", line, err)
	}
}
