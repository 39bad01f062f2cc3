package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// serialNote says where an imported revision's serial came from: the
// file's serial_no is kept when it is ahead of the database's.
func serialNote(file, old, saved int64) string {
	switch {
	case file == 0:
		return ""
	case saved == file:
		return " (the file's serial_no)"
	}
	return fmt.Sprintf(" (the file's serial_no %d is behind this database's %d)", file, old)
}

// secretNote warns when the configuration has a backup director but this
// one has no peer secret: serve then stays "starting" and brings nothing
// up, and a piranha admin would not know why.
func secretNote(ctx context.Context, w io.Writer, name string, st *store.Store, c *config.Config) error {
	if !c.Redundancy.BackupActive {
		return nil
	}
	_, _, err := st.PeerSecret(ctx)
	if !errors.Is(err, store.ErrNoSecret) {
		return err
	}
	fmt.Fprintf(w, "%s: warning: backup_active = 1, but this director has no peer secret: lvsconsole serve will stay "+
		"\"starting\" and bring nothing up until both directors share one. Run \"lvsconsole secret -generate\" on one "+
		"director and give what it prints to \"lvsconsole secret -set\" on the other (or use GENERATE A NEW SECRET "+
		"on the REDUNDANCY tab), then start serve.\n", name)
	return nil
}
