package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/store"
)

// TestUserCommand runs every user action against a real database file.
func TestUserCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "lvs.db")
	ok := func(stdin string, args ...string) string {
		t.Helper()
		out, _, err := runCmd(t, stdin, append([]string{"user"}, args...)...)
		if err != nil {
			t.Fatalf("user %q: %v", args, err)
		}
		return out
	}
	refused := func(want, stdin string, args ...string) {
		t.Helper()
		_, _, err := runCmd(t, stdin, append([]string{"user"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("user %q: %v; want an error saying %q", args, err, want)
		}
	}
	ok("root password\nroot password\n", "add", "-role", "admin", "-db", db, "root")
	ok("ann's password\nann's password\n", "-db", db, "add", "-role", "viewer", "ann")
	refused(`role "boss" is not allowed: choose viewer, operator or admin`, "x\nx\n", "add", "-db", db, "-role", "boss", "bob")
	refused("role is required", "", "add", "-db", db, "bob")
	refused("at least 8", "short\nshort\n", "add", "-db", db, "-role", "viewer", "bob")
	refused("differ", "one password\nanother one\n", "add", "-db", db, "-role", "viewer", "bob")
	refused("exists already", "ann's password\nann's password\n", "add", "-db", db, "-role", "viewer", "ann")
	refused(`user name "bad name" is not allowed`, "", "disable", "-db", db, "bad name")
	refused("unknown action", "", "frobnicate", "-db", db)
	refused("user role takes NAME ROLE", "", "role", "-db", db, "ann")
	refused("-role is for add", "", "role", "-db", db, "-role", "admin", "ann", "admin")

	// The last admin stays.
	refused("last enabled admin", "", "disable", "-db", db, "root")
	refused("last enabled admin", "", "remove", "-db", db, "root")
	refused("last enabled admin", "", "role", "-db", db, "root", "operator")

	ok("", "role", "-db", db, "ann", "operator")
	ok("", "disable", "-db", db, "ann")
	// A user that logged in through PAM (serve -pam-service): listed with
	// its source; its password is the system's.
	pst, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := pst.PAMLogin(context.Background(), "carol", store.ScopeRead); err != nil {
		t.Fatal(err)
	}
	pst.Close()
	want := "NAME   ROLE      STATE     SOURCE\nann    operator  disabled  local\ncarol  viewer    enabled   pam\nroot   admin     enabled   local\n"
	if got := ok("", "list", "-db", db); got != want {
		t.Errorf("user list:\n%s\nwant:\n%s", got, want)
	}
	refused("logs in through the system (PAM)", "carol's password\ncarol's password\n", "passwd", "-db", db, "carol")
	ok("", "remove", "-db", db, "carol")
	ok("ann's new password\nann's new password\n", "passwd", "-db", db, "ann")
	refused("no such user", "some password\nsome password\n", "passwd", "-db", db, "nobody")

	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckPassword(context.Background(), "ann", "ann's new password"); !errors.Is(err, store.ErrBadPassword) {
		t.Errorf("disabled ann logs in: %v", err)
	}
	st.Close()
	ok("", "enable", "-db", db, "ann")
	st, err = store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckPassword(context.Background(), "ann", "ann's new password"); err != nil {
		t.Errorf("ann's new password: %v", err)
	}
	st.Close()
	ok("", "remove", "-db", db, "ann")
	refused("no such user", "", "remove", "-db", db, "ann")
	if got := ok("", "list", "-db", db); got != "NAME  ROLE   STATE    SOURCE\nroot  admin  enabled  local\n" {
		t.Errorf("user list after remove:\n%s", got)
	}
}
