package engine

import (
	"context"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// Preview is what a reconcile of cfg would send to the kernel now, before
// anything is saved: the plan of cfg's table, with the verdicts of the
// running checks (a real server they do not know yet is taken as up, as
// Observed takes it), against the kernel's table as the engine last read
// it, changing only the services this director made. The console's
// REVIEW shows it as ipvsadm lines.
func (e *Engine) Preview(ctx context.Context, cfg *config.Config) (*Plan, error) {
	st := e.Status()
	e.mu.Lock()
	applied := e.cfg
	e.mu.Unlock()
	var w Weigher = Configured{}
	if applied != nil && st.Desired != nil {
		w = Observed(applied, st.Desired)
	}
	owned := map[string]bool{}
	if e.o.Ledger != nil {
		var err error
		if owned, err = e.o.Ledger.OwnedServices(ctx); err != nil {
			return nil, err
		}
	}
	have := st.Kernel
	if have == nil {
		have = &Table{}
	}
	return Desired(cfg, w).Plan(have, owned), nil
}
