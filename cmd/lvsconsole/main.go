// Command lvsconsole is the Linux Virtual Server console: a web console on
// port 3636 in the manner of piranha, the configuration store behind it, and
// the tools to import, export and inspect it.
//
// Usage:
//
//	lvsconsole serve    [-db FILE] [-listen ADDR] [-failover=false]
//	lvsconsole passwd   [-db FILE] [-user NAME]
//	lvsconsole import   [-db FILE] [-check] FILE|-
//	lvsconsole export   [-db FILE] [-serial N] [-o FILE]
//	lvsconsole secret   [-db FILE] [-generate | -set]
//	lvsconsole status   [-db FILE] [-stats | -rate]
//	lvsconsole version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

// defaultDB is where `make run` keeps its database.
const defaultDB = "data/lvsconsole.db"

type command struct {
	name, args, help string
	run              func(ctx context.Context, env *env, args []string) error
}

var commands = []command{
	{"serve", "[-db FILE] [-listen ADDR] [-failover=false]", "run the console, the IPVS engine, health checks and failover", runServe},
	{"passwd", "[-db FILE] [-user NAME]", "set a console user's password (asked twice, or two lines on stdin)", runPasswd},
	{"import", "[-db FILE] [-check] FILE|-", "load an lvs.cf file as a new revision (-check: validate only)", runImport},
	{"export", "[-db FILE] [-serial N] [-o FILE]", "write the configuration (or revision N) as lvs.cf", runExport},
	{"secret", "[-db FILE] [-generate | -set]", "show, make (-generate) or set from stdin (-set) the secret the two directors share", runSecret},
	{"status", "[-db FILE] [-stats | -rate]", "print the live IPVS table as ipvsadm -Ln does, and the director's state (from the running serve)", runStatus},
	{"version", "", "print the version", runVersion},
	// Not for people: serve runs it for its heartbeat (pulse.ServeHelper).
	{"pulse-helper", "", "", runPulseHelper},
}

// runPulseHelper is the heartbeat's helper process. It ignores ctx: on
// SIGTERM, serve stops it after the goodbye; if serve dies, its stdin
// closes.
func runPulseHelper(context.Context, *env, []string) error {
	return pulse.ServeHelper(os.Stdin, os.Stdout)
}

// env is what a command may touch of the outside world, so that tests can
// run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdinFd is stdin's descriptor: on a terminal, passwords are read
	// without echo.
	stdinFd int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stdinFd: int(os.Stdin.Fd())}
	err := run(ctx, e, os.Args[1:])
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "lvsconsole:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr)
		return flag.ErrHelp
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	usage(e.stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lvsconsole COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		if c.help == "" {
			continue
		}
		fmt.Fprintf(w, "  %-8s %s\n           %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintln(w, "\n'lvsconsole COMMAND -h' lists a command's flags.")
}

// newFlags returns a flag set for a command, with the -db flag every
// command that touches the database shares.
func newFlags(e *env, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("lvsconsole "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	db := fs.String("db", defaultDB, "SQLite database `file`")
	return fs, db
}

// openStore opens the database for a command, saying on stderr what it had
// to repair (an older database readable by other users).
func (e *env) openStore(ctx context.Context, path string) (*store.Store, error) {
	st, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	for _, r := range st.Repaired() {
		fmt.Fprintf(e.stderr, "lvsconsole: %s\n", r)
	}
	return st, nil
}
