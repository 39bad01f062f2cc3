package main

import (
	"context"
	"fmt"
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

// syslogEvery is how often -audit-syslog looks for new entries.
const syslogEvery = time.Second

// lineWriter is where -audit-syslog sends an entry: *syslog.Writer.
type lineWriter interface {
	Info(string) error
}

// auditLine is an entry as one syslog line: key=value, values quoted.
func auditLine(e store.AuditEntry) string {
	return fmt.Sprintf("audit id=%d actor=%q client=%q kind=%q detail=%q", e.ID, e.Actor, e.Client, e.Kind, e.Detail)
}

// auditToSyslog is the stage that copies each new entry of the audit
// trail, whoever wrote it (serve or a command), to w: it follows the
// trail from its newest entry at start, at most MaxAuditLimit a turn.
func auditToSyslog(st *store.Store, w lineWriter, every time.Duration, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		last, err := st.LastAudit(ctx)
		if err != nil {
			return err
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			es, err := st.AuditQuery(ctx, store.AuditFilter{After: last, Limit: store.MaxAuditLimit})
			if err != nil {
				if ctx.Err() == nil {
					log.Error("reading the audit trail for syslog", "err", err)
				}
				continue
			}
			for _, e := range es {
				if err := w.Info(auditLine(e)); err != nil {
					log.Error("writing the audit trail to syslog", "err", err)
					break
				}
				last = e.ID
			}
		}
	}
}
