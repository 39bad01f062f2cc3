package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/lvsconsole/lvsconsole/lvs/load/sshload"
	"github.com/lvsconsole/lvsconsole/store"
)

// The director's own SSH key is made beside the database on first use,
// private, and is the same key afterwards; the host key pins keep the
// first fingerprint of a host.
func TestLoadMonitorsWiring(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), filepath.Join(dir, "lvs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := os.Stat(filepath.Join(dir, directorKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("a key exists before its first use: %v", err)
	}
	key := ensureDirectorKey(st)
	k1, err := key()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, directorKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v, %v; want mode 0600", fi, err)
	}
	// The console shows the key the monitors use.
	line, err := directorKey{path: filepath.Join(dir, directorKeyFile)}.PublicKey()
	if err != nil || !strings.HasPrefix(line, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k1.PublicKey())))) {
		t.Errorf("the console shows %q (%v), not the monitors' key", line, err)
	}
	k2, err := key()
	if err != nil || string(k1.PublicKey().Marshal()) != string(k2.PublicKey().Marshal()) {
		t.Errorf("the second use made another key (%v)", err)
	}

	var hk sshload.HostKeys = st
	if _, ok := hk.Pinned("10.0.0.1:22"); ok {
		t.Error("a host is pinned before its first connection")
	}
	if err := hk.Pin("10.0.0.1:22", "SHA256:first"); err != nil {
		t.Fatal(err)
	}
	hk.Pin("10.0.0.1:22", "SHA256:second")
	if fp, ok := hk.Pinned("10.0.0.1:22"); !ok || fp != "SHA256:first" {
		t.Errorf("pinned %q, %v; want the first", fp, ok)
	}
}
