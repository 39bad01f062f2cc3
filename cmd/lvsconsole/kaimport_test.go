package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// import reads a keepalived.conf, detected from its content or named by
// -format, and -check prints its warnings with file and line.
func TestImportKeepalived(t *testing.T) {
	src := filepath.Join("..", "..", "lvs", "keepalived", "testdata", "full.conf")
	for _, args := range [][]string{{"import", "-check", src}, {"import", "-check", "-format", "keepalived", src}} {
		out, _, err := runCmd(t, "", args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		for _, w := range []string{src + ": valid: 2 virtual servers", "warning: " + src + ":47: delay_before_retry:"} {
			if !strings.Contains(out, w) {
				t.Errorf("%v: no %q in:\n%s", args, w, out)
			}
		}
	}
	// (full.conf's check program does not exist here: the store refuses it)
	fw := filepath.Join(filepath.Dir(src), "fwmark.conf")
	db := filepath.Join(t.TempDir(), "lvs.db")
	if out, _, err := runCmd(t, "", "import", "-db", db, fw); err != nil || !strings.Contains(out, "imported as serial") {
		t.Errorf("import: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "", "import", "-check", "-format", "lvscf", src); err == nil {
		t.Errorf("a keepalived.conf read as lvs.cf was accepted")
	}
	if _, _, err := runCmd(t, "", "import", "-format", "nginx", src); err == nil || !strings.Contains(err.Error(), "-format") {
		t.Errorf("-format nginx: %v", err)
	}
}
