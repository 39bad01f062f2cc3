package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/store"
)

// secretCommand shows, generates or sets the peer secret, as the REDUNDANCY
// tab does. A secret to set is read from stdin, never from the command
// line, where other users could see it.
func secretCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	generate := fs.Bool("generate", false, "make a new secret, store it and print it")
	set := fs.Bool("set", false, "store the secret read from stdin (as the other director printed it)")
	return func(ctx context.Context, e *env, args []string) error {
		ctx = store.WithActor(ctx, store.Actor{Name: cliAuthor()}) // for the audit trail
		if *generate && *set {
			return errors.New("-generate and -set exclude each other")
		}
		st, err := e.openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer st.Close()
		switch {
		case *generate:
			key := handlers.NewSecret()
			if err := st.SetPeerSecret(ctx, key); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, handlers.EncodeSecret(key))
			fmt.Fprintf(e.stderr, "peer secret stored in %s; set the same on the other director with: lvsconsole secret -set\n", *db)
		case *set:
			sc := bufio.NewScanner(e.stdin)
			if !sc.Scan() {
				return errors.New("no secret on stdin")
			}
			key, err := handlers.DecodeSecret(sc.Text())
			if err != nil {
				return fmt.Errorf("the secret on stdin %w", err)
			}
			if err := st.SetPeerSecret(ctx, key); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "peer secret stored in %s\n", *db)
		default:
			_, at, err := st.PeerSecret(ctx)
			if errors.Is(err, store.ErrNoSecret) {
				fmt.Fprintln(e.stdout, "no peer secret is set (lvsconsole secret -generate makes one)")
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "a peer secret is set, since %s\n", at.Local().Format(time.RFC3339))
		}
		return nil
	}
}
