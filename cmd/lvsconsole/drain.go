package main

import (
	"context"
	"log/slog"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/drain"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/failover"
	"github.com/lvsconsole/lvsconsole/store"
)

// drainStage ends the drains of real servers (lvs/drain) while this
// director is the active one, or always without failover (director nil).
func drainStage(st *store.Store, eng *engine.Engine, director *failover.Director, log *slog.Logger) stage {
	d := drain.New(drain.Options{
		Source: st,
		Kernel: eng,
		Store:  drainWriter{st},
		Active: func() bool {
			return director == nil || director.Status().Role == failover.Active || director.Status().Role == failover.Cluster
		},
		Log: log,
	})
	return stage{"drains", d.Run}
}

// drainWriter is the store as lvs/drain writes it.
type drainWriter struct{ st *store.Store }

func (w drainWriter) Update(ctx context.Context, author, note string, fn func(*config.Config) error) error {
	_, err := w.st.Update(ctx, store.Change{Role: store.ScopeOperator, Author: author, Note: note}, fn) // it only ends drains: an operator's change
	return err
}
