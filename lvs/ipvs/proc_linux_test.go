package ipvs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadProcBounded: what /proc/net/ip_vs gives is read up to maxProc
// bytes, then refused (the table is read by the dumps), and read again
// from its start each time.
func TestReadProcBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ip_vs")
	if err := os.WriteFile(path, []byte("IP Virtual Server version 1.2.1 (size=4096)\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read := readProc(f)
	for range 2 {
		b, err := read(nil)
		if err != nil || !strings.HasPrefix(string(b), "IP Virtual Server") || len(b) != 44 {
			t.Fatalf("read %q, %v", b, err)
		}
	}
	if err := os.Truncate(path, maxProc+1); err != nil {
		t.Fatal(err)
	}
	b, err := read(nil)
	if err == nil || len(b) > maxProc {
		t.Errorf("a file of %d bytes: read %d, error %v", maxProc+1, len(b), err)
	}
}
