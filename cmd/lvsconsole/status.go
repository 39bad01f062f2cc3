package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/handlers"
	"github.com/lvsconsole/lvsconsole/lvs/engine"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
)

// statusCommand prints the IPVS table as ipvsadm -Ln does and the director's
// state, as the running serve sees them (through its local socket); with
// no serve running, the table straight from the kernel.
func statusCommand(fs *flag.FlagSet) runFunc {
	db := dbFlag(fs)
	stats := fs.Bool("stats", false, "show counters (as ipvsadm -Ln --stats)")
	rate := fs.Bool("rate", false, "show rates (as ipvsadm -Ln --rate)")
	return func(ctx context.Context, e *env, args []string) error {
		mode := engine.TextTable
		switch {
		case *stats:
			mode = engine.TextStats
		case *rate:
			mode = engine.TextRate
		}
		sock := localSocket(*db)
		st, err := fetchLocal(ctx, sock)
		if err == nil {
			return writeStatus(e.stdout, st, mode)
		}
		if !errors.Is(err, errNotServing) {
			return err
		}
		if err := kernelStatus(ctx, e, mode); err != nil {
			return fmt.Errorf("lvsconsole serve is not running (nothing answers on %s), and reading the kernel failed: %w", sock, err)
		}
		// On stderr: stdout stays exactly what ipvsadm -Ln prints.
		fmt.Fprintln(e.stderr, "(lvsconsole serve is not running: table read from the kernel)")
		return nil
	}
}

// kernelStatus prints the kernel's table, read over netlink.
func kernelStatus(ctx context.Context, e *env, mode engine.TextMode) error {
	c, err := e.dialIPVS()
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
	return t.WriteText(e.stdout, info, mode)
}

// writeStatus prints what serve answered: the kernel's table (or, without
// IPVS, why not and the table it would program), then the engine's and the
// director's state.
func writeStatus(w io.Writer, st *handlers.LocalStatus, mode engine.TextMode) error {
	var b bytes.Buffer
	eng := st.Engine
	switch {
	case eng == nil:
		b.WriteString("Engine: not running in lvsconsole serve\n")
	case eng.Available && eng.Kernel != nil:
		var info ipvs.Info
		if st.IPVS != nil {
			info = *st.IPVS
		}
		if err := eng.Kernel.WriteText(&b, info, mode); err != nil {
			return err
		}
	default:
		fmt.Fprintf(&b, "IPVS: %s\n", orElse(eng.Reason, "not read yet"))
		if eng.Desired != nil {
			b.WriteString("The table it would program:\n")
			var t bytes.Buffer
			if err := eng.Desired.WriteText(&t, ipvs.Info{}, mode); err != nil {
				return err
			}
			// Without IPVS there is no version to show.
			_, rest, _ := strings.Cut(t.String(), "\n")
			b.WriteString(rest)
		}
	}
	b.WriteString("\n")
	if eng != nil {
		state := "programming IPVS"
		switch {
		case !eng.Running:
			state = "stopped"
		case !eng.Available:
			state = "IPVS not available"
		}
		fmt.Fprintf(&b, "Engine: %s, serial %d applied", state, eng.Serial)
		if eng.Serial != st.Serial {
			fmt.Fprintf(&b, " (accepted: %d)", st.Serial)
		}
		if !eng.LastRun.IsZero() {
			fmt.Fprintf(&b, ", last run %s", clock(eng.LastRun, st.Time))
		}
		b.WriteString("\n")
		for _, e := range eng.Errors {
			fmt.Fprintf(&b, "Engine error: %s\n", e)
		}
	}
	writeDirector(&b, st)
	_, err := w.Write(b.Bytes())
	return err
}

func writeDirector(b *bytes.Buffer, st *handlers.LocalStatus) {
	f := st.Failover
	if f == nil {
		fmt.Fprintf(b, "Director: failover is off (lvsconsole serve -failover=false), configuration serial %d\n", st.Serial)
		return
	}
	fmt.Fprintf(b, "Director: %s", f.Role)
	if f.Self.IsValid() {
		switch {
		case f.Primary:
			fmt.Fprintf(b, " (primary %s)", f.Self)
		case f.Pair:
			fmt.Fprintf(b, " (backup %s)", f.Self)
		default:
			fmt.Fprintf(b, " (%s)", f.Self)
		}
	}
	if !f.Since.IsZero() {
		fmt.Fprintf(b, " since %s", clock(f.Since, st.Time))
	}
	if f.Reason != "" {
		fmt.Fprintf(b, ": %s", f.Reason)
	}
	b.WriteString("\n")
	if f.Pair {
		p := f.Pulse.Peer
		b.WriteString("Peer: ")
		if p.Addr.IsValid() {
			b.WriteString(p.Addr.String() + " ")
		}
		// Measured against serve's clock, not this one.
		ago := st.Time.Sub(p.LastHeard).Seconds()
		switch {
		case p.LastHeard.IsZero():
			b.WriteString("never heard")
		case p.Heard:
			fmt.Fprintf(b, "%s, last heartbeat %s ago", p.Role, age(ago))
		default:
			fmt.Fprintf(b, "silent for %s (was %s)", age(ago), p.Role)
		}
		if !p.LastHeard.IsZero() {
			fmt.Fprintf(b, ", serial %d", p.Serial)
			if p.Serial == f.Serial {
				b.WriteString(" (same)")
			} else {
				fmt.Fprintf(b, " (ours: %d)", f.Serial)
			}
		}
		b.WriteString("\n")
		k := f.Pulse.Counters
		if refused := k.Malformed + k.UnknownSource + k.BadAuth + k.Replayed; refused > 0 {
			fmt.Fprintf(b, "Heartbeats refused: %d bad authentication, %d unknown source, %d replayed, %d malformed\n",
				k.BadAuth, k.UnknownSource, k.Replayed, k.Malformed)
		}
		if k.Stale > 0 { // a peer's first heartbeats after a start are stale: no alarm
			fmt.Fprintf(b, "Heartbeats stale (no answer to a recent challenge): %d\n", k.Stale)
		}
	}
	fmt.Fprintf(b, "Addresses: %s\n", orElse(strings.Join(f.VIPs, ", "), "none"))
	for _, w := range f.Warnings {
		fmt.Fprintf(b, "Warning: %s\n", w)
	}
}

// clock writes t as a time of day, with the date when it is not today.
func clock(t, now time.Time) string {
	t = t.Local()
	if y, m, d := t.Date(); y == now.Local().Year() && m == now.Local().Month() && d == now.Local().Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04:05")
}

// age writes seconds as "0.15s" below a minute, "3m20s" above.
func age(s float64) string {
	if s < 60 {
		return strconv.FormatFloat(float64(int64(s*100+0.5))/100, 'f', -1, 64) + "s"
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

func orElse(s, instead string) string {
	if s == "" {
		return instead
	}
	return s
}
