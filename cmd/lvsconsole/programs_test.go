package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/store"
)

// Some tests need root: see internal/testenv. With asMainVar set, or
// started as serve starts its heartbeat's helper, the test binary is
// lvsconsole itself: tests run it as a process (as another user, in a
// network namespace).
func TestMain(m *testing.M) {
	if os.Getenv(asMainVar) == "1" || len(os.Args) > 1 && os.Args[1] == "pulse-helper" {
		main()
		return
	}
	os.Exit(testenv.Run(m))
}

// asMainVar makes the test binary lvsconsole: its arguments are
// lvsconsole's.
const asMainVar = "LVSCONSOLE_TEST_AS_MAIN"

// TestImportPrograms: lvsconsole import runs as whoever can write the
// database, so the programs it brings in need no password; but each must
// be a file only root can change, or the import is refused at the line
// that names it, saying what is wrong, and nothing is saved.
func TestImportPrograms(t *testing.T) {
	testenv.Root(t) // its program is root's, then made group-writable
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	prog := filepath.Join(dir, "check")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(prog, 0o755); err != nil {
		t.Fatal(err)
	}
	cf := func(send string) string {
		return "serial_no = 1\nprimary = 192.0.2.1\nactive_cmd = /usr/bin/logger up\n" +
			"virtual www {\n  address = 192.0.2.10 eth0:1\n  port = 80\n  send_program = \"" + send + " %h %p\"\n  server web1 {\n    address = 10.0.0.1\n  }\n}\n"
	}
	good := filepath.Join(dir, "good.cf")
	os.WriteFile(good, []byte(cf(prog)), 0o644)
	out, _, err := runCmd(t, "", "import", "-db", db, good)
	if err != nil || !strings.Contains(out, "imported as serial 2") {
		t.Fatalf("import of root's programs: %q %v", out, err)
	}

	if err := os.Chmod(prog, 0o775); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.cf")
	os.WriteFile(bad, []byte(cf(prog+"2")), 0o644) // another program, so that it is checked
	_, _, err = runCmd(t, "", "import", "-db", db, bad)
	if err == nil || !strings.Contains(err.Error(), "line 7, column 3: send_program: ") || !strings.Contains(err.Error(), "cannot be found") {
		t.Errorf("import of a program that is not there: %v", err)
	}
	os.WriteFile(bad, []byte(cf(prog)+"\n"), 0o644) // the same program, now group-writable: unchanged, not checked again
	if _, _, err := runCmd(t, "", "import", "-db", db, bad); err != nil {
		t.Errorf("an import that leaves the program as it was: %v", err)
	}
	os.WriteFile(bad, []byte(strings.Replace(cf(prog), " %h %p", " %p", 1)), 0o644) // the group-writable program, altered
	_, _, err = runCmd(t, "", "import", "-db", db, bad)
	if err == nil || !strings.Contains(err.Error(), "line 7, column 3: send_program: ") ||
		!strings.Contains(err.Error(), "writable by its group (mode 0775): chmod go-w "+prog) {
		t.Errorf("import of a group-writable program: %v", err)
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if c, _ := st.Config(context.Background()); c.Virtuals[0].SendProgram != prog+" %h %p" {
		t.Errorf("a refused import changed send_program to %q", c.Virtuals[0].SendProgram)
	}
}
