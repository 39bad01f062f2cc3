// Package netctx is what the load monitors' clients share about
// connections bounded by a context.
package netctx

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Err prefers the context's error (deadline, cancellation) to the socket's
// timeout it caused: a client's socket deadlines are only ever its
// context's, and the socket's timer may fire before the context's.
func Err(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}
