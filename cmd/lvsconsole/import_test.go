package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(name string) string {
	return filepath.Join("..", "..", "lvs", "lvscf", "testdata", "piranha", name)
}

// import prints the warnings after its summary, with their line numbers;
// import -check prints them too and succeeds when there are only warnings.
func TestImportPrintsWarnings(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lvs.db")
	src := fixture("duplicate-keys.cf")
	for _, args := range [][]string{{"import", "-check", src}, {"import", "-db", db, src}} {
		out, _, err := runCmd(t, "", args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		summary := strings.Index(out, src+": valid: 1 virtual servers")
		if args[1] != "-check" {
			summary = strings.Index(out, src+": imported as serial")
		}
		first := strings.Index(out, src+": warning: line 15, column 1: backup_active: is given twice")
		if summary < 0 || first < summary {
			t.Errorf("%v printed:\n%s\nwant the summary, then the warnings with their lines", args, out)
		}
		for _, w := range []string{"line 17, column 1: service:", "line 23, column 6: port:", "line 28, column 10: weight:"} {
			if !strings.Contains(out, src+": warning: "+w) {
				t.Errorf("%v: no warning %q in:\n%s", args, w, out)
			}
		}
	}
}

// The file's serial_no is kept when it is ahead of the database's, and the
// import says which serial it became.
func TestImportSaysWhichSerial(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	ahead := fixture("serial-ahead.cf") // serial_no = 70
	src, err := os.ReadFile(ahead)
	if err != nil {
		t.Fatal(err)
	}
	// The same file, changed and with a serial behind the database's.
	behind := filepath.Join(dir, "behind.cf")
	s := strings.Replace(strings.Replace(string(src), "serial_no = 70", "serial_no = 12", 1), "port = 80", "port = 81", 1)
	if err := os.WriteFile(behind, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, "", "import", "-db", db, ahead)
	if err != nil || !strings.Contains(out, ahead+": imported as serial 70 (the file's serial_no)") {
		t.Errorf("a file ahead: %q %v", out, err)
	}
	out, _, err = runCmd(t, "", "import", "-db", db, behind)
	if err != nil || !strings.Contains(out, behind+": imported as serial 71 (the file's serial_no 12 is behind this database's 70)") {
		t.Errorf("a file behind: %q %v", out, err)
	}
}

// backup_active = 1 without a peer secret leaves serve "starting" with
// nothing up: the import says so, and what to run.
func TestImportSaysThePeerSecretIsMissing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	src := fixture("pair.cf") // backup_active = 1
	out, _, err := runCmd(t, "", "import", "-db", db, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"backup_active = 1", "no peer secret", `"starting"`, "lvsconsole secret -generate", "lvsconsole secret -set"} {
		if !strings.Contains(out, want) {
			t.Errorf("the import does not say %q:\n%s", want, out)
		}
	}
	if _, _, err := runCmd(t, "", "secret", "-db", db, "-generate"); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, "", "import", "-db", db, fixture("piranha-keys.cf")) // backup_active = 1 too
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "no peer secret") {
		t.Errorf("with a secret set the import still says it is missing:\n%s", out)
	}
}
