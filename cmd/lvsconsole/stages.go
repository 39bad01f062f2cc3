package main

import (
	"context"
	"errors"
	"fmt"
)

// stage is one long-running part of serve: run runs it until its ctx
// ends, then stops it and returns.
type stage struct {
	name string
	run  func(ctx context.Context) error
}

// runStages starts the stages in order, each with its own context, and
// runs them until ctx ends or one of them returns (a failure, or a server
// that stopped by itself). Then it stops them in the reverse order, each
// only once the one after it has returned: what was started last, and
// depends on what came before, is stopped first. It returns the stages'
// errors, each with its stage's name.
func runStages(ctx context.Context, stages ...stage) error {
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
		err    error
	}
	rs := make([]*running, len(stages))
	ended := make(chan struct{}, len(stages))
	for i, s := range stages {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := &running{cancel: cancel, done: make(chan struct{})}
		rs[i] = r
		go func() {
			defer close(r.done)
			if err := s.run(sctx); err != nil {
				r.err = fmt.Errorf("%s: %w", s.name, err)
			}
			ended <- struct{}{}
		}()
	}
	select {
	case <-ctx.Done():
	case <-ended:
	}
	var errs []error
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i].cancel()
		<-rs[i].done
		errs = append(errs, rs[i].err)
	}
	return errors.Join(errs...)
}
