//go:build !guest

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
)

// The configurations the differential test gives keepalived in the guest
// (TestGuestKeepalivedSameTable) are ones keepalived itself accepts
// without a word (keepalived -t, in a namespace with their interface),
// and our import takes each of them.
func TestKeepalivedCorpus(t *testing.T) {
	testenv.NetNS(t)
	testenv.Commands(t, "keepalived")
	ns := fmt.Sprintf("kacorpus%d", os.Getpid())
	exec.Command("ip", "netns", "del", ns).Run() // left by a killed run
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "add", "d0", "type", "veth", "peer", "name", "d1").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v\n%s", err, out)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "keepalived", "*.conf"))
	if err != nil || len(files) < 15 {
		t.Fatalf("%d configurations (%v), want at least 15", len(files), err)
	}
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		out, err := exec.Command("ip", "netns", "exec", ns, "keepalived", "-t", "-f", abs).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Errorf("keepalived -t -f %s: %v\n%s", f, err, out)
		}
		db := filepath.Join(t.TempDir(), "lvs.db")
		if out, errOut, err := runCmd(t, "", "import", "-db", db, f); err != nil {
			t.Errorf("import of %s: %v\n%s%s", f, err, out, errOut)
		}
	}
}
