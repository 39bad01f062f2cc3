package handlers

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/proc"
	"github.com/lvsconsole/lvsconsole/store"
)

// clockEnv is newEnv whose console runs on a clock the test moves (the
// throttle's), so that a wait neither runs out nor is waited for.
type clockEnv struct {
	*testEnv
	clock atomic.Int64 // unix nanoseconds
}

func newClockEnv(t *testing.T) *clockEnv {
	t.Helper()
	e := &clockEnv{testEnv: newEnv(t, true)}
	e.clock.Store(time.Now().UnixNano())
	c, err := New(context.Background(), Options{Store: e.store, Log: discardLog(), SetupCode: testSetupCode,
		Now: func() time.Time { return time.Unix(0, e.clock.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	e.console = c
	e.srv.Config.Handler = c
	return e
}

func (e *clockEnv) advance(d time.Duration) { e.clock.Add(int64(d)) }

// program is a program the store accepts, one only root can change: the
// system's, since a test run by anyone but root cannot make one.
const program = "/usr/bin/true"

// keeps checks that a refused form shows each value sent again, and never
// the password.
func keeps(t *testing.T, a answer, form url.Values) {
	t.Helper()
	for k, vs := range form {
		switch {
		case k == "password":
			if vs[0] != "" && strings.Contains(a.body, vs[0]) {
				t.Errorf("the page shows the password sent")
			}
		case k != "serial" && vs[0] != "":
			if !strings.Contains(a.body, `value="`+htmlEscape(vs[0])+`"`) {
				t.Errorf("the form does not show %s = %q again", k, vs[0])
			}
		}
	}
}

// refusedAtPassword checks a form refused for its password: code, the
// message beside the password field, nothing saved.
func (e *clockEnv) refusedAtPassword(t *testing.T, a answer, code int, says string, before string) {
	t.Helper()
	if a.code != code {
		t.Fatalf("= %d, want %d: %s", a.code, code, a.body)
	}
	if msg := html.UnescapeString(fieldError(a.body, "password")); !strings.Contains(msg, says) {
		t.Errorf("beside the password field: %q, want it to say %q", msg, says)
	}
	if !strings.Contains(a.body, "Nothing was saved") {
		t.Error("the page does not say nothing was saved")
	}
	if fileSum(t, e.store.Path()) != before {
		t.Fatal("the database changed")
	}
}

// TestScriptsNeedThePassword: MONITORING SCRIPTS' ACCEPT with a new
// sending program is refused without the password or with a wrong one,
// with every value kept and the reason beside the password field; a wrong
// password counts as a failed login of the address; the right one saves.
func TestScriptsNeedThePassword(t *testing.T) {
	e := newClockEnv(t)
	c := e.login(t)
	cfg := e.seed(t)
	path := fmt.Sprintf("%s/virtual/%d/scripts", e.srv.URL, cfg.Virtuals[0].ID)
	prog := program + " %h %p"
	form := func(pw string) url.Values {
		return url.Values{"serial": {itoa(cfg.Serial)}, "check": {"program"}, "send_program": {prog}, "check_interval": {"2"},
			"check_failures": {"3"}, "send": {"PING"}, "expect": {"PONG"}, "http_path": {"/health"}, "password": {pw}}
	}
	before := fileSum(t, e.store.Path())

	a := post(t, c, path, form(""))
	e.refusedAtPassword(t, a, http.StatusForbidden, "send_program of virtual server www is a program the directors run as root", before)
	keeps(t, a, form(""))
	if !strings.Contains(a.body, `type="password" id="password" name="password"`) {
		t.Error("the form has no password field")
	}

	for i := range freeFailures {
		a = post(t, c, path, form("wrong password "+strconv.Itoa(i)))
		e.refusedAtPassword(t, a, http.StatusForbidden, "This is not your password", before)
		keeps(t, a, form("wrong password "+strconv.Itoa(i)))
	}
	// The wrong passwords were failed logins of this address: the login
	// page and this form now make it wait, even with the right password.
	if a := post(t, e.client(t), e.srv.URL+"/login", url.Values{"user": {"admin"}, "password": {testPassword}}); a.code != http.StatusTooManyRequests {
		t.Errorf("a login after %d wrong re-entered passwords = %d, want 429", freeFailures, a.code)
	}
	a = post(t, c, path, form(testPassword))
	e.refusedAtPassword(t, a, http.StatusTooManyRequests, "Too many failed password checks", before)
	keeps(t, a, form(testPassword))

	e.advance(maxLockout)
	a = post(t, c, path, form(testPassword))
	if a.code != http.StatusSeeOther {
		t.Fatalf("with the right password = %d: %s", a.code, a.body)
	}
	if vs := e.applied(t, c).Virtuals[0]; vs.SendProgram != prog || vs.CheckKind != "program" || vs.Expect != "PONG" {
		t.Errorf("saved %+v", vs)
	}
	// Changing the scripts but the program needs no password.
	a = post(t, c, path, url.Values{"serial": {itoa(e.config(t).Serial)}, "check": {"program"}, "send_program": {prog}, "expect": {"PANG"}})
	if a.code != http.StatusSeeOther || e.applied(t, c).Virtuals[0].Expect != "PANG" {
		t.Errorf("a change beside the program = %d", a.code)
	}
	// Nor does removing it.
	a = post(t, c, path, url.Values{"serial": {itoa(e.config(t).Serial)}, "check": {"tcp"}, "send_program": {""}})
	if a.code != http.StatusSeeOther || e.applied(t, c).Virtuals[0].SendProgram != "" {
		t.Errorf("removing the program = %d", a.code)
	}
}

// TestGlobalCommandsNeedThePassword: the same for active_cmd and
// inactive_cmd on GLOBAL SETTINGS.
func TestGlobalCommandsNeedThePassword(t *testing.T) {
	e := newClockEnv(t)
	c := e.login(t)
	serial := itoa(e.config(t).Serial)
	form := func(pw string) url.Values {
		return url.Values{"serial": {serial}, "network": {"direct"}, "primary": {"192.0.2.1"}, "tcp_timeout": {"900"},
			"active_cmd": {`/usr/bin/logger -t lvs "now active"`}, "inactive_cmd": {"/usr/bin/logger standby"}, "password": {pw}}
	}
	before := fileSum(t, e.store.Path())
	a := post(t, c, e.srv.URL+"/global", form(""))
	e.refusedAtPassword(t, a, http.StatusForbidden, "active_cmd, inactive_cmd", before)
	keeps(t, a, form(""))
	a = post(t, c, e.srv.URL+"/global", form("not it at all"))
	e.refusedAtPassword(t, a, http.StatusForbidden, "This is not your password", before)
	keeps(t, a, form("not it at all"))
	a = post(t, c, e.srv.URL+"/global", form(testPassword))
	if g := e.applied(t, c).Global; a.code != http.StatusSeeOther || g.ActiveCmd != `/usr/bin/logger -t lvs "now active"` || g.TCPTimeout != 900 {
		t.Fatalf("with the right password = %d, global %+v", a.code, g)
	}
}

// TestUntrustedProgramInTheConsole: with the right password, a program
// that is not only root's is refused beside its field, saying why, with
// the values kept.
func TestUntrustedProgramInTheConsole(t *testing.T) {
	e := newClockEnv(t)
	c := e.login(t)
	cfg := e.seed(t)
	// A program its group can write, and the test user's: refused for
	// one reason or the other whoever runs the test; the page must say
	// what proc.Trusted says.
	bad := filepath.Join(t.TempDir(), "check")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bad, 0o775); err != nil {
		t.Fatal(err)
	}
	refusal := proc.Trusted(bad)
	if refusal == nil {
		t.Fatalf("proc.Trusted(%s) = nil", bad)
	}
	says := strings.TrimPrefix(refusal.Error(), proc.ErrUntrusted.Error()+": ")
	form := url.Values{"serial": {itoa(cfg.Serial)}, "check": {"program"}, "send_program": {bad + " %h"}, "password": {testPassword}}
	before := fileSum(t, e.store.Path())
	a := post(t, c, fmt.Sprintf("%s/virtual/%d/scripts", e.srv.URL, cfg.Virtuals[0].ID), form)
	if msg := html.UnescapeString(fieldError(a.body, "send_program")); a.code != http.StatusUnprocessableEntity ||
		!strings.Contains(msg, says) || !strings.Contains(msg, "root") {
		t.Errorf("= %d, beside send_program %q", a.code, msg)
	}
	keeps(t, a, form)
	if fileSum(t, e.store.Path()) != before {
		t.Error("the database changed")
	}
}

// TestImportNeedsThePassword: an lvs.cf upload that brings in a program
// needs the password; refused, the page keeps the file's text to send
// again with it; an upload without programs needs none.
func TestImportNeedsThePassword(t *testing.T) {
	e := newClockEnv(t)
	c := e.login(t)
	cf := "serial_no = 1\nprimary = 192.0.2.1\nactive_cmd = /usr/bin/logger up\nvirtual www {\n  address = 192.0.2.10 eth0:1\n  port = 80\n  server web1 {\n    address = 10.0.0.1\n  }\n}\n"
	upload := func(pw string) answer {
		body, ct := multipartFile(t, "lvs.cf", cf, itoa(e.config(t).Serial))
		if pw != "" { // a second part after the file
			s := strings.Replace(body.String(), "\r\n--"+strings.TrimPrefix(ct, "multipart/form-data; boundary=")+"--",
				"\r\n--"+strings.TrimPrefix(ct, "multipart/form-data; boundary=")+"\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n"+pw+
					"\r\n--"+strings.TrimPrefix(ct, "multipart/form-data; boundary=")+"--", 1)
			body.Reset()
			body.WriteString(s)
		}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/import", body)
		req.Header.Set("Content-Type", ct)
		return do(t, c, req)
	}
	before := fileSum(t, e.store.Path())
	a := upload("")
	e.refusedAtPassword(t, a, http.StatusForbidden, "active_cmd is a program the directors run as root", before)
	if !strings.Contains(a.body, "active_cmd = /usr/bin/logger up") || !strings.Contains(a.body, `name="cf"`) {
		t.Error("the refused upload's text is not kept on the page")
	}
	a = upload("wrong wrong wrong")
	e.refusedAtPassword(t, a, http.StatusForbidden, "This is not your password", before)

	// The text kept on the page goes back with the password.
	// As the browser sends that form: multipart, the file input left empty.
	var kept bytes.Buffer
	mw := multipart.NewWriter(&kept)
	for _, kv := range [][2]string{{"serial", itoa(e.config(t).Serial)}, {"name", "lvs.cf"}, {"cf", cf}, {"password", testPassword}} {
		mw.WriteField(kv[0], kv[1])
	}
	fw, _ := mw.CreateFormFile("file", "")
	fw.Write(nil)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/import", &kept)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	a = do(t, c, req)
	if a.code != http.StatusSeeOther || e.applied(t, c).Global.ActiveCmd != "/usr/bin/logger up" {
		t.Fatalf("the kept text with the password = %d: %s", a.code, a.body)
	}
	a = upload(testPassword)
	if a.code != http.StatusSeeOther {
		t.Fatalf("the same file again = %d", a.code)
	}
}

// TestRestoreNeedsThePassword: restoring a revision with another program
// needs the password, asked on the revision's page; one that changes no
// program needs none.
func TestRestoreNeedsThePassword(t *testing.T) {
	e := newClockEnv(t)
	c := e.login(t)
	e.seed(t)
	elevated := store.Change{Role: store.ScopeAdmin, Author: "root", Elevated: true}
	first, err := e.store.Update(context.Background(), elevated, func(c *config.Config) error {
		c.Virtuals[0].SendProgram = "/bin/true %h"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Update(context.Background(), elevated, func(c *config.Config) error {
		c.Virtuals[0].SendProgram, c.Virtuals[0].Port = "/usr/bin/true %p", 8080
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	page := get(t, c, fmt.Sprintf("%s/history/%d", e.srv.URL, first.Serial))
	if !strings.Contains(page.body, `type="password" id="password" name="password"`) {
		t.Error("the revision page's RESTORE has no password field")
	}
	restore := func(pw string) answer {
		return post(t, c, fmt.Sprintf("%s/history/%d/restore", e.srv.URL, first.Serial), url.Values{"serial": {itoa(e.config(t).Serial)}, "password": {pw}})
	}
	before := fileSum(t, e.store.Path())
	a := restore("")
	e.refusedAtPassword(t, a, http.StatusForbidden, "send_program of virtual server www is a program", before)
	a = restore("not my password")
	e.refusedAtPassword(t, a, http.StatusForbidden, "This is not your password", before)
	a = restore(testPassword)
	if got := e.applied(t, c).Virtuals[0]; a.code != http.StatusSeeOther || got.SendProgram != "/bin/true %h" || got.Port != 80 {
		t.Fatalf("with the password = %d, %+v", a.code, got)
	}
	// Back to a revision with the same program: no password.
	if _, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test"}, func(c *config.Config) error {
		c.Virtuals[0].Port = 81
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if a := restore(""); a.code != http.StatusSeeOther || e.applied(t, c).Virtuals[0].Port != 80 {
		t.Errorf("a restore of the same program without password = %d", a.code)
	}
}
