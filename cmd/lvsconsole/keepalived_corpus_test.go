//go:build !guest

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // keepalived -t only reads the file
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "keepalived", "-t", "-f", abs).CombinedOutput()
		cancel()
		if err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Errorf("keepalived -t -f %s: %v\n%s", f, err, out)
		}
		db := filepath.Join(t.TempDir(), "lvs.db")
		if out, errOut, err := runCmd(t, "", "import", "-db", db, f); err != nil {
			t.Errorf("import of %s: %v\n%s%s", f, err, out, errOut)
		}
	}
}

// Round trip of keepalived.conf: each file of the corpus, imported,
// exported as keepalived.conf and imported again, has the same virtual
// and real servers (compared as lvs.cf, which holds every field). The
// redundancy side is not compared: a file's vrrp_instance without a
// unicast peer (multicast VRRP) names no backup, so the import has no
// pair, and the export of a director alone writes its VIPs as
// static_ipaddress, with no VRRP timing to read back.
func TestKeepalivedRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "keepalived", "*.conf"))
	if err != nil || len(files) < 15 {
		t.Fatalf("%d configurations (%v), want at least 15", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			dir := t.TempDir()
			first, second := filepath.Join(dir, "first.db"), filepath.Join(dir, "second.db")
			if out, errOut, err := runCmd(t, "", "import", "-db", first, f); err != nil {
				t.Fatalf("import: %v\n%s%s", err, out, errOut)
			}
			conf := filepath.Join(dir, "exported.conf")
			if _, errOut, err := runCmd(t, "", "export", "-db", first, "-format", "keepalived", "-node", "primary", "-o", conf); err != nil {
				t.Fatalf("export: %v\n%s", err, errOut)
			}
			if out, errOut, err := runCmd(t, "", "import", "-db", second, "-format", "keepalived", conf); err != nil {
				data, _ := os.ReadFile(conf)
				t.Fatalf("import of the export: %v\n%s%s\nthe export:\n%s", err, out, errOut, data)
			}
			a, _, err := runCmd(t, "", "export", "-db", first)
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := runCmd(t, "", "export", "-db", second)
			if err != nil {
				t.Fatal(err)
			}
			services := func(cf string) string {
				if i := strings.Index(cf, "\nvirtual "); i >= 0 {
					return cf[i:]
				}
				return ""
			}
			if a, b = services(a), services(b); a == "" || a != b {
				data, _ := os.ReadFile(conf)
				t.Errorf("after a round trip through keepalived.conf:\n%s\nwas\n%s\nthe export:\n%s", b, a, data)
			}
		})
	}
}
