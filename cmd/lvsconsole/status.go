package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

func runStatus(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("lvsconsole status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	stats := fs.Bool("stats", false, "show counters (as ipvsadm -Ln --stats)")
	rate := fs.Bool("rate", false, "show rates (as ipvsadm -Ln --rate)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("status takes no arguments, got %q", fs.Args())
	}
	c, err := ipvs.Dial(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	t, err := engine.ReadTable(ctx, c, nil)
	if err != nil {
		return err
	}
	mode := engine.TextTable
	switch {
	case *stats:
		mode = engine.TextStats
	case *rate:
		mode = engine.TextRate
	}
	return t.WriteText(e.stdout, info, mode)
}
