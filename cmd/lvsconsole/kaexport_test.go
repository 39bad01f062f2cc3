package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/kaexport"
)

// TestExportKeepalived: export -format keepalived writes the director's
// keepalived.conf (lvs/kaexport tests what is in it) and lists on stderr
// what keepalived cannot express; -node picks the director.
func TestExportKeepalived(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	if _, _, err := runCmd(t, "", "import", "-db", db, writeCf(t, dir, 1, 1)); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCmd(t, "", "export", "-db", db, "-format", "keepalived")
	if err != nil || !strings.HasPrefix(out, "# keepalived.conf of the primary director") ||
		!strings.Contains(out, "\nvirtual_server 192.0.2.10 80 {\n") || !strings.Contains(out, "\n        uthreshold 100\n") {
		t.Errorf("export -format keepalived: %v\n%s", err, out)
	}
	if !strings.Contains(stderr, "lvsconsole: warning: keepalived cannot express virtual server www: ") {
		t.Errorf("export -format keepalived did not list what it leaves out: %q", stderr)
	}
	if _, _, err := runCmd(t, "", "export", "-db", db, "-format", "keepalived", "-node", "third"); !errors.Is(err, kaexport.ErrNode) {
		t.Errorf("-node third: %v, want ErrNode", err)
	}
}
