// Command demo is `make demo`, a development tool and not part of
// lvsconsole: it boots the qemu guest of lvs/guest (Debian's kernel, which
// has IPVS) with lvsconsole serve inside, a NAT virtual server in front of
// two real servers, a client sending it steady traffic, and web2 stopped
// for 30 s every two minutes; it forwards the console to
// http://127.0.0.1:PORT on this machine and runs until Ctrl-C.
//
// It lives under lvs/guest/internal because it needs the checkout (the Go
// toolchain to build lvsconsole for the guest, and the kernel make guest
// prepared): make builds it into out/ and runs it, it is never installed,
// and lvsconsole stays the project's one binary.
//
// Usage:
//
//	make demo [DEMO_PORT=N]   (runs: out/demo [-port N])
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	port := flag.Uint("port", 3636, "host `port` (on 127.0.0.1) the console is forwarded to")
	flag.Parse()
	if *port == 0 || *port > 65535 {
		fmt.Fprintf(os.Stderr, "demo: -port %d: give a port from 1 to 65535\n", *port)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, uint16(*port), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// readyTimeout bounds the boot: under TCG with a loaded machine the
// console answers in well under a minute.
const readyTimeout = 5 * time.Minute

func run(ctx context.Context, port uint16, out io.Writer) error {
	dir, err := os.MkdirTemp("", "lvsconsole-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(out, "demo: building lvsconsole for the guest and booting it (under emulation: about a minute)")
	start := time.Now()
	lab, err := StartLab(ctx, LabOptions{Port: port, Console: prefixed(out, "guest| "), Dir: dir})
	if err != nil {
		return err
	}
	defer lab.Stop()
	if err := lab.WaitReady(ctx, readyTimeout); err != nil {
		if ctx.Err() != nil {
			return nil // Ctrl-C while booting
		}
		return err
	}
	fmt.Fprintf(out, `
demo: ready: built in %s, booted in %s
demo:
demo:   open %s and log in as %s / %s
demo:
demo: CONTROL/MONITORING shows the virtual server www (192.0.2.100:80, NAT, rr)
demo: with web1 and web2, their health, the IPVS counters and the charts.
demo: Every two minutes web2 is stopped for 30 s: watch it go down and come back.
demo: Ctrl-C stops the lab (nothing is kept).

`, lab.Booted.Sub(start).Round(time.Second), time.Since(lab.Booted).Round(time.Second), lab.URL, User, Password)
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "demo: stopping the guest")
		return nil
	case <-lab.Done():
		if ctx.Err() != nil || stopped(lab.Err()) {
			return nil
		}
		return lab.Err()
	}
}

// prefixed writes each line (lvs/guest writes whole ones) to w after p.
func prefixed(w io.Writer, p string) io.Writer {
	return lineWriter(func(line []byte) {
		bw := bufio.NewWriter(w)
		bw.WriteString(p)
		bw.Write(line)
		_ = bw.Flush()
	})
}

type lineWriter func([]byte)

func (f lineWriter) Write(b []byte) (int, error) {
	f(b)
	return len(b), nil
}
