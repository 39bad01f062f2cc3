package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
	"github.com/lvsconsole/lvsconsole/store"
)

// runCmd runs one lvsconsole command in-process with the given stdin.
func runCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, stdinFd: -1}
	err = run(context.Background(), e, args)
	return out.String(), errb.String(), err
}

func TestPasswd(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lvs.db")
	if _, _, err := runCmd(t, "one-password\nanother-one\n", "passwd", "-db", db); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("mismatched passwords: %v", err)
	}
	if _, _, err := runCmd(t, "short\nshort\n", "passwd", "-db", db); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("short password: %v", err)
	}
	if _, _, err := runCmd(t, "only-one-line\n", "passwd", "-db", db); err == nil || !strings.Contains(err.Error(), "two lines") {
		t.Errorf("one line: %v", err)
	}
	if _, _, err := runCmd(t, "good password\r\ngood password\r\n", "passwd", "-db", db, "-user", "ops"); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CheckPassword(context.Background(), "ops", "good password"); err != nil {
		t.Errorf("password not set: %v", err)
	}
	if err := st.CheckPassword(context.Background(), "admin", "good password"); !errors.Is(err, store.ErrBadPassword) {
		t.Errorf("admin should have no password: %v", err)
	}
}

func TestImportExport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lvs.db")
	src := filepath.Join("..", "..", "lvs", "lvscf", "testdata", "piranha-example.cf")

	out, _, err := runCmd(t, "", "import", "-check", src)
	if err != nil || !strings.Contains(out, "valid: 1 virtual servers") {
		t.Fatalf("import -check: %q %v", out, err)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("import -check created the database")
	}
	out, _, err = runCmd(t, "", "import", "-db", db, src)
	if err != nil || !strings.Contains(out, "imported as serial 12 (the file's serial_no)") {
		t.Fatalf("import: %q %v", out, err)
	}
	out, _, err = runCmd(t, "", "import", "-db", db, src)
	if err != nil || !strings.Contains(out, "nothing saved") {
		t.Fatalf("second import of the same file: %q %v", out, err)
	}

	exported, _, err := runCmd(t, "", "export", "-db", db)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := lvscf.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lvscf.Parse(strings.NewReader(exported))
	if err != nil {
		t.Fatalf("exported file does not parse: %v\n%s", err, exported)
	}
	want.Serial, got.Serial = 0, 0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("export differs from the imported file:\n%s", exported)
	}

	// A bad file names the line and changes nothing.
	bad := filepath.Join(dir, "bad.cf")
	os.WriteFile(bad, []byte("primary = 192.168.1.10\nvirtual www {\n  address = 192.168.1.100 eth0:1\n  port = 99999\n}\n"), 0o644)
	_, _, err = runCmd(t, "", "import", "-db", db, bad)
	if err == nil || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "1-65535") {
		t.Errorf("bad import: %v", err)
	}
	again, _, _ := runCmd(t, "", "export", "-db", db)
	if again != exported {
		t.Errorf("a refused import changed the configuration")
	}

	// Exporting revision 1 gives the empty default; -o writes a file.
	outFile := filepath.Join(dir, "old.cf")
	if _, _, err := runCmd(t, "", "export", "-db", db, "-serial", "1", "-o", outFile); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outFile); !strings.Contains(string(b), "serial_no = 1") || strings.Contains(string(b), "virtual") {
		t.Errorf("revision 1 export:\n%s", b)
	}
	if _, _, err := runCmd(t, "", "export", "-db", filepath.Join(dir, "missing.db")); err == nil {
		t.Errorf("export of a missing database succeeded")
	}
}

// TestStatusWithoutIPVS: this machine's kernel has no IPVS (the guest tests
// cover the live table); status says so plainly.
func TestStatusWithoutIPVS(t *testing.T) {
	_, _, err := runCmd(t, "", "status")
	if err == nil || !strings.Contains(err.Error(), "IPVS is not available") {
		t.Errorf("status without IPVS: %v", err)
	}
}

func TestUsage(t *testing.T) {
	_, stderr, err := runCmd(t, "", "frobnicate")
	if err == nil || !strings.Contains(stderr, "import") {
		t.Errorf("unknown command: %v, usage %q", err, stderr)
	}
	out, _, err := runCmd(t, "", "version")
	if err != nil || !strings.HasPrefix(out, "lvsconsole ") {
		t.Errorf("version: %q %v", out, err)
	}
}

// TestServe runs the console on a real socket and stops it as a service
// manager would.
func TestServe(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lvs.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: pw, stdinFd: -1}
	done := make(chan error, 1)
	go func() { done <- run(ctx, e, []string{"serve", "-db", db, "-listen", "127.0.0.1:0"}); pw.Close() }()

	// Wait for the log line that names the address.
	sc := bufio.NewScanner(pr)
	var addr string
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "url=http://"); i >= 0 && strings.Contains(line, "console listening") {
			addr = strings.Fields(line[i+len("url=http://"):])[0]
			break
		}
	}
	if addr == "" {
		t.Fatalf("serve did not say where it listens: %v", <-done)
	}
	// With no user yet, it says how to set one up.
	var code string
	for sc.Scan() {
		if i := strings.Index(sc.Text(), "setup_code="); i >= 0 {
			code = sc.Text()[i+len("setup_code="):]
			if !strings.Contains(sc.Text(), "http://"+addr+"/setup") {
				t.Errorf("the setup line does not name the page: %s", sc.Text())
			}
			break
		}
	}
	if len(code) != 9 {
		t.Errorf("setup code %q", code)
	}
	go io.Copy(io.Discard, pr)

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("GET /healthz = %d %s", resp.StatusCode, body)
	}
	resp, err = http.Post("http://"+addr+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after a clean stop", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}
