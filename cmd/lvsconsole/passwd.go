package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"golang.org/x/term"

	"github.com/lvsconsole/lvsconsole/store"
)

func passwdCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	user := fs.String("user", "admin", "console user `name`")
	return func(ctx context.Context, e *env, args []string) error {
		ctx = store.WithActor(ctx, store.Actor{Name: cliAuthor()}) // for the audit trail
		if err := store.ValidateUserName(*user); err != nil {
			return err
		}
		pw, err := readNewPassword(e, *user)
		if err != nil {
			return err
		}
		st, err := e.openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.SetPassword(ctx, *user, pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "password of %s set in %s\n", *user, *db)
		return nil
	}
}

// readNewPassword asks twice: without echo on a terminal, or as two lines
// of a pipe.
func readNewPassword(e *env, user string) (string, error) {
	var first, second string
	if term.IsTerminal(e.stdinFd) {
		read := func(prompt string) (string, error) {
			fmt.Fprint(e.stderr, prompt)
			b, err := term.ReadPassword(e.stdinFd)
			fmt.Fprintln(e.stderr)
			return string(b), err
		}
		var err error
		if first, err = read(fmt.Sprintf("New password for %s: ", user)); err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if err := store.ValidatePassword(first); err != nil {
			return "", err
		}
		if second, err = read("Again: "); err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
	} else {
		sc := bufio.NewScanner(e.stdin)
		lines := make([]string, 0, 2)
		for len(lines) < 2 && sc.Scan() {
			lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
		}
		if err := sc.Err(); err != nil {
			return "", fmt.Errorf("reading the password from stdin: %w", err)
		}
		if len(lines) < 2 {
			return "", errors.New("stdin is not a terminal: give the new password on two lines")
		}
		first, second = lines[0], lines[1]
	}
	if first != second {
		return "", errors.New("the two passwords differ; nothing was changed")
	}
	if err := store.ValidatePassword(first); err != nil {
		return "", err
	}
	return first, nil
}
