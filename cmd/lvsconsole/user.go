package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/lvsconsole/lvsconsole/store"
)

// userActions are user's subcommands, with their arguments.
var userActions = []struct{ name, args string }{
	{"add", "NAME"}, {"list", ""}, {"disable", "NAME"}, {"enable", "NAME"},
	{"remove", "NAME"}, {"passwd", "NAME"}, {"role", "NAME ROLE"},
}

// userCommand manages console users: `user add -role operator ann`. The
// flags may come before or after the action.
func userCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	role := fs.String("role", "", "the new user's `role`: viewer, operator or admin (add)")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) == 0 {
			return errors.New("user needs an action: " + userUsage())
		}
		action := args[0]
		if err := fs.Parse(args[1:]); err != nil { // flags after the action
			return err
		}
		args = fs.Args()
		want := ""
		for _, a := range userActions {
			if a.name == action {
				want = a.args
				if a.args == "" {
					want = "-"
				}
			}
		}
		if want == "" {
			return fmt.Errorf("user: unknown action %q: %s", action, userUsage())
		}
		if n := len(strings.Fields(want)); want != "-" && len(args) != n || want == "-" && len(args) != 0 {
			if want == "-" {
				want = "no arguments"
			}
			return fmt.Errorf("user %s takes %s, got %q", action, want, args)
		}
		if *role != "" && action != "add" {
			return fmt.Errorf("user %s: -role is for add; use: user role NAME ROLE", action)
		}
		var name string
		if len(args) > 0 {
			name = args[0]
			if err := store.ValidateUserName(name); err != nil {
				return err
			}
		}
		var newRole store.Scope
		switch action {
		case "add":
			r, err := store.ParseRole(*role)
			if err != nil {
				return fmt.Errorf("-role: %w", err)
			}
			newRole = r
		case "role":
			r, err := store.ParseRole(args[1])
			if err != nil {
				return err
			}
			newRole = r
		}
		var pw string
		if action == "add" || action == "passwd" {
			p, err := readNewPassword(e, name)
			if err != nil {
				return err
			}
			pw = p
		}
		st, err := e.openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer st.Close()
		switch action {
		case "list":
			us, err := st.ListUsers(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tSOURCE")
			for _, u := range us {
				state := "enabled"
				if u.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, store.RoleName(u.Role), state, u.Source)
			}
			return tw.Flush()
		case "add":
			err = st.AddUser(ctx, name, newRole, pw)
		case "passwd":
			// Not SetPassword: that would make an unknown name an admin.
			if ok, err := userExists(ctx, st, name); err != nil || !ok {
				return cmpOr(err, fmt.Errorf("user %s: %w (user add makes one)", name, store.ErrNoUser))
			}
			err = st.SetPassword(ctx, name, pw)
		case "disable":
			err = st.DisableUser(ctx, name)
		case "enable":
			err = st.EnableUser(ctx, name)
		case "remove":
			err = st.RemoveUser(ctx, name)
		case "role":
			err = st.SetRole(ctx, name, newRole)
		}
		if err != nil {
			return err
		}
		done := map[string]string{
			"add": "added as " + store.RoleName(newRole), "passwd": "has a new password; their sessions ended",
			"disable": "disabled: cannot log in, sessions ended", "enable": "enabled",
			"remove": "removed, with their sessions and API tokens", "role": "is now " + store.RoleName(newRole),
		}[action]
		fmt.Fprintf(e.stderr, "user %s %s (%s)\n", name, done, *db)
		return nil
	}
}

// userExists reports whether name is a console user, enabled or not (a
// disabled user's password may still be reset).
func userExists(ctx context.Context, st *store.Store, name string) (bool, error) {
	us, err := st.ListUsers(ctx)
	for _, u := range us {
		if u.Name == name {
			return true, nil
		}
	}
	return false, err
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func userUsage() string {
	var s []string
	for _, a := range userActions {
		s = append(s, strings.TrimSpace(a.name+" "+a.args))
	}
	return strings.Join(s, " | ")
}
