package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/lvsconsole/lvsconsole/store"
)

// pruneEvery is how often serve drops the audit entries older than the
// retention.
const pruneEvery = 24 * time.Hour

// auditRetention is the stage that keeps the audit trail to retention:
// at start, then every interval. A failure is logged and tried again at the
// next turn: the trail growing is no reason to stop serving.
func auditRetention(st *store.Store, retention, every time.Duration, now func() time.Time, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			n, err := st.PruneAudit(ctx, now().Add(-retention))
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("pruning the audit trail", "err", err)
			case n > 0:
				log.Info("pruned the audit trail", "entries", n, "older_than", retention)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}
}
