// Command lvsconsole is the Linux Virtual Server console: a web console on
// port 3636 in the manner of piranha, the configuration store behind it, and
// the tools to import, export and inspect it.
//
// Usage:
//
//	lvsconsole serve [-audit-retention DURATION] [-audit-syslog] [-db FILE] [-failover=false] [-insecure-http] [-listen ADDRESS] [-max-conns N] [-max-conns-per-client N] [-pam-roles ROLE=GROUP[,ROLE=GROUP]] [-pam-service SERVICE] [-rwho-listen ADDRESS] [-session-idle DURATION] [-session-max DURATION] [-tls-cert FILE] [-tls-key FILE] [-trusted-proxy CIDR[,CIDR]]
//	lvsconsole passwd [-db FILE] [-user NAME]
//	lvsconsole user [-db FILE] [-role ROLE] add|list|disable|enable|remove|passwd|role [NAME [ROLE]]
//	lvsconsole import [-check] [-db FILE] [-format FORMAT] FILE|-
//	lvsconsole export [-db FILE] [-format FORMAT] [-node NODE] [-o FILE] [-serial N]
//	lvsconsole plan [-db FILE]
//	lvsconsole adopt [-db FILE] [-yes]
//	lvsconsole secret [-db FILE] [-generate] [-set]
//	lvsconsole status [-db FILE] [-rate] [-stats]
//	lvsconsole doctor [-db FILE]
//	lvsconsole version
//
// The synopses are made from the commands' flags (see usage); a test keeps
// this comment equal to them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/pulse"
	"github.com/lvsconsole/lvsconsole/store"
)

// defaultDB is where `make run` keeps its database.
const defaultDB = "data/lvsconsole.db"

// command is one subcommand. Its flags are declared by setup on the flag
// set it is given, which returns the function that runs the command with
// them: so the usage text is made from the very flags that are parsed.
type command struct {
	name string
	args string // the positional arguments, e.g. "FILE|-"; "" takes none
	help string // one line; "" hides the command from the usage
	// setup declares the command's flags on fs and returns its body, which
	// gets the arguments left after the flags.
	setup func(fs *flag.FlagSet) runFunc
}

type runFunc func(ctx context.Context, e *env, args []string) error

var commands = []command{
	{"serve", "", "run the console, the IPVS engine, health checks and failover", serveCommand},
	{"passwd", "", "set a console user's password (asked twice, or two lines on stdin)", passwdCommand},
	{"user", "add|list|disable|enable|remove|passwd|role [NAME [ROLE]]", "manage console users: add -role viewer|operator|admin NAME, list, disable NAME, enable NAME, remove NAME, passwd NAME, role NAME ROLE", userCommand},
	{"import", "FILE|-", "load an lvs.cf file (or a keepalived.conf, or ipvsadm -S rules) as a new revision (-check: validate it and print its plan, change nothing)", importCommand},
	{"export", "", "write the configuration (or revision N) as lvs.cf, or its IPVS table as ipvsadm-save -n rules (-format ipvsadm), or a director's keepalived.conf (-format keepalived -node primary|backup)", exportCommand},
	{"plan", "", "print what the stored configuration would do to this director's IPVS table now, as ipvsadm commands", planCommand},
	{"adopt", "", "take the services in this director's IPVS table that the configuration lacks into it, for lvsconsole to manage (after showing them and asking, unless -yes)", adoptCommand},
	{"secret", "", "show, make (-generate) or set from stdin (-set) the secret the two directors share", secretCommand},
	{"status", "", "print the live IPVS table as ipvsadm -Ln does, and the director's state (from the running serve)", statusCommand},
	{"doctor", "", "check this director (IPVS, schedulers, capabilities, forwarding, devices, rp_filter, the peer, the clock, the database) and say how to fix what fails", doctorCommand},
	{"version", "", "print the version", func(*flag.FlagSet) runFunc { return runVersion }},
	// Not for people: serve runs it for its heartbeat (pulse.ServeHelper).
	{"pulse-helper", "", "", func(*flag.FlagSet) runFunc { return runPulseHelper }},
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
	// dial opens this director's IPVS; nil: ipvs.Dial. Tests give a fake
	// kernel (lvs/ipvs/ipvstest).
	dial func() (*ipvs.Client, error)
}

// dialIPVS opens this director's IPVS, for the commands that read it.
func (e *env) dialIPVS() (*ipvs.Client, error) {
	if e.dial != nil {
		return e.dial()
	}
	return ipvs.Dial(nil)
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
	case errors.Is(err, errChecksFailed):
		os.Exit(1) // the list said what failed
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
		if c.name != args[0] {
			continue
		}
		fs := c.flagSet(e.stderr)
		body := c.setup(fs)
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if c.args == "" && fs.NArg() != 0 {
			return fmt.Errorf("%s takes no arguments, got %q", c.name, fs.Args())
		}
		return body(ctx, e, fs.Args())
	}
	usage(e.stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

// flagSet returns c's flag set, without its flags, writing its usage (for
// -h or a bad flag) to w.
func (c command) flagSet(w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("lvsconsole "+c.name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "usage: %s\n\n%s\n", c.synopsis(fs), c.help)
		if hasFlags(fs) {
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// synopsis is the command's usage line, made from the flags setup
// declared on fs: "lvsconsole import [-check] [-db FILE] [-format FORMAT] FILE|-".
func (c command) synopsis(fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString("lvsconsole " + c.name)
	fs.VisitAll(func(f *flag.Flag) {
		name, _ := flag.UnquoteUsage(f)
		if isBool(f) {
			if f.DefValue == "true" {
				fmt.Fprintf(&b, " [-%s=false]", f.Name)
			} else {
				fmt.Fprintf(&b, " [-%s]", f.Name)
			}
			return
		}
		if name == "" || name == "value" {
			name = "value"
		}
		fmt.Fprintf(&b, " [-%s %s]", f.Name, strings.ToUpper(name))
	})
	if c.args != "" {
		b.WriteString(" " + c.args)
	}
	return b.String()
}

func isBool(f *flag.Flag) bool {
	bf, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && bf.IsBoolFlag()
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// usage lists the commands with their synopses, made from their flags.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lvsconsole COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		if c.help == "" {
			continue
		}
		fs := c.flagSet(io.Discard)
		c.setup(fs)
		fmt.Fprintf(w, "  %s\n      %s\n", c.synopsis(fs), c.help)
	}
	fmt.Fprintln(w, "\n'lvsconsole COMMAND -h' explains a command's flags.")
}

// dbFlag declares the -db flag every command that touches the database
// has.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", defaultDB, "SQLite database `file`")
}

// openStore opens the database for a command, saying on stderr what it had
// to repair (an older database readable by other users). Run by root on a
// database whose directory another user owns (serve's, as a service), the
// command becomes that user first, for the rest of its run (see
// becomeDBOwner).
func (e *env) openStore(ctx context.Context, path string) (*store.Store, error) {
	if _, err := becomeDBOwner(path); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	for _, r := range st.Repaired() {
		fmt.Fprintf(e.stderr, "lvsconsole: %s\n", r)
	}
	return st, nil
}
