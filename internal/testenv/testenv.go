// Package testenv says what a test needs of the machine beyond Go: root,
// network namespaces and the tools that build them, Debian's chromium, the
// qemu guest. Every such test asks here first.
//
// `make test` runs as root and sets LVSCONSOLE_TEST_ALL=1: there, a test
// whose need is not met fails, saying what is missing, so that nothing is
// counted as passed without having run. Without it (`go test ./...` as an
// ordinary user) the test is skipped, saying what it needs, and Run prints
// at the end which tests did not run and how to run them.
package testenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// AllVar is the environment variable that makes every need a requirement:
// with AllVar=1 a test fails when the machine lacks what it needs.
const AllVar = "LVSCONSOLE_TEST_ALL"

// SummaryVar names a file to which Run appends its summary instead of
// writing it to the terminal, for a script that shows the summaries of
// many packages together (testuser.sh).
const SummaryVar = "LVSCONSOLE_TEST_SUMMARY"

// HowToRunAll is how to run every test.
const HowToRunAll = "run `make test` as root"

// Root: the test needs root (network namespaces, raw sockets, files given
// to other owners, real-time priority).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 { // -1 on Windows: never root
		need(t, "root", HowToRunAll)
	}
}

// Linux: the test needs Linux's kernel (netlink, raw sockets with socket
// filters, ppoll, SCHED_RR) and compiles elsewhere.
func Linux(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		need(t, "Linux", "run it on Linux")
	}
}

// NetNS: the test builds network namespaces with ip(8): Linux, root and
// iproute2.
func NetNS(t testing.TB) {
	t.Helper()
	Linux(t)
	Root(t)
	Commands(t, "ip")
}

// Commands: the test runs these programs, found in PATH. `make test`
// installs them (as root, with apt-get).
func Commands(t testing.TB, names ...string) {
	t.Helper()
	if missing, pkgs := missingCommands(names...); missing != "" {
		need(t, missing, "apt-get install "+pkgs+", or "+HowToRunAll+" (it installs them)")
	}
}

// missingCommands names those of the commands that are not in PATH ("ip
// and nft") and the Debian packages they come in ("iproute2 nftables").
func missingCommands(names ...string) (missing, pkgs string) {
	var cmds, ps []string
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			cmds, ps = append(cmds, name), append(ps, debianPackage(name))
		}
	}
	return strings.Join(cmds, " and "), strings.Join(ps, " ")
}

// debianPackage names the Debian package a command comes in.
func debianPackage(cmd string) string {
	switch cmd {
	case "ip":
		return "iproute2"
	case "nft":
		return "nftables"
	case "sshd":
		return "openssh-server"
	case "ssh-keygen":
		return "openssh-client"
	case "rpc.rstatd":
		return "rstatd"
	case "nsenter", "unshare":
		return "util-linux"
	case "rpcinfo":
		return "rpcbind"
	case "sleep", "nice":
		return "coreutils"
	case "bird", "birdc":
		return "bird2"
	case "vtysh":
		return "frr"
	}
	return cmd
}

// ChromiumPath is Debian's chromium, which the browser tests drive.
const ChromiumPath = "/usr/bin/chromium"

// Chromium: the test drives a headless chromium; it returns its path.
func Chromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		need(t, "chromium at "+ChromiumPath, "apt-get install chromium, or "+HowToRunAll+" (it installs it)")
	}
	return ChromiumPath
}

// Guest: the test boots Debian's kernel under qemu (lvs/guest); prepared
// is lvs/guest's Prepared answer, nil when the kernel and tools are there.
func Guest(t testing.TB, prepared error) {
	t.Helper()
	if prepared != nil {
		t.Logf("%v", prepared)
		need(t, "the qemu guest", "run `make guest` (as root) once, or "+HowToRunAll)
	}
}

// Missing: the test needs what, which is not there (a file a make target
// builds, such as the Debian package); how says how to make it.
func Missing(t testing.TB, what, how string) {
	t.Helper()
	need(t, what, how)
}

// need fails or skips t for a missing need, and records a skip for Run's
// summary.
func need(t testing.TB, what, how string) {
	t.Helper()
	skips.need(t, os.Getenv(AllVar) == "1", what, how)
}

// skipped holds the tests of this test binary that were skipped, for Run:
// one list per process, as there is one summary per process.
type skipped struct {
	mu    sync.Mutex
	needs []skip
}

type skip struct{ test, what, how string }

// need fails t when all tests must run, else records it and skips it.
func (s *skipped) need(t testing.TB, all bool, what, how string) {
	t.Helper()
	msg := "needs " + what + ": " + how
	if all {
		t.Fatalf("%s (%s=1: every test must run)", msg, AllVar)
	}
	s.mu.Lock()
	s.needs = append(s.needs, skip{t.Name(), what, how})
	s.mu.Unlock()
	t.Skip(msg)
}

func (s *skipped) list() []skip {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.needs)
}

// skips is what this test binary skipped. The one package-level variable
// here: the tests of a binary and its TestMain share nothing else.
var skips skipped

// Run runs the tests and benchmarks of m, then says which were skipped for
// what they need, and returns m.Run's exit code. A package whose tests
// call this package has
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
//
// `go test ./...` shows a passing package's output only with -v, so
// without -v the summary also goes to the terminal, when there is one and
// the output is not already going there; or to the file SummaryVar names.
func Run(m *testing.M) int {
	code := m.Run()
	s := summary(pkgName(), skips.list())
	if s == "" {
		return code
	}
	fmt.Fprint(os.Stdout, s)
	switch {
	case os.Getenv(SummaryVar) != "":
		if err := appendFile(os.Getenv(SummaryVar), os.O_CREATE, s); err != nil {
			fmt.Fprintf(os.Stdout, "testenv: %s: %v\n", SummaryVar, err)
			return max(code, 1)
		}
	case !testing.Verbose() && !isTerminal(os.Stdout):
		appendFile("/dev/tty", 0, s) // without a terminal it is in the output only
	}
	return code
}

// appendFile writes s at the end of file; flag may add os.O_CREATE.
func appendFile(name string, flag int, s string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|flag, 0o644)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, s)
	return errors.Join(err, f.Close())
}

// maxNames bounds the test names a summary line lists.
const maxNames = 6

// summary says, one line per need, which tests of pkg were skipped for it
// and how to run them; "" when none was.
func summary(pkg string, skips []skip) string {
	type group struct {
		what, how string
		tests     []string
	}
	var groups []*group
	for _, s := range skips {
		i := slices.IndexFunc(groups, func(g *group) bool { return g.what == s.what })
		if i < 0 {
			groups = append(groups, &group{what: s.what, how: s.how})
			i = len(groups) - 1
		}
		if !slices.Contains(groups[i].tests, s.test) {
			groups[i].tests = append(groups[i].tests, s.test)
		}
	}
	var b strings.Builder
	for _, g := range groups {
		names := g.tests
		more := ""
		if len(names) > maxNames {
			names, more = names[:maxNames], fmt.Sprintf(" and %d more", len(g.tests)-maxNames)
		}
		fmt.Fprintf(&b, "%s: did not run %s %s (%s%s): %s\n",
			pkg, tests(len(g.tests)), g.what, strings.Join(names, ", "), more, g.how)
	}
	return b.String()
}

// tests is "1 test that needs" or "3 tests that need".
func tests(n int) string {
	if n == 1 {
		return "1 test that needs"
	}
	return fmt.Sprintf("%d tests that need", n)
}

// pkgName is the directory of the package under test relative to its
// module's root (go test runs a test binary in its package's directory),
// or the binary's name.
func pkgName() string {
	name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	dir, err := os.Getwd()
	if err != nil {
		return name
	}
	for root := dir; ; {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			if rel, err := filepath.Rel(root, dir); err == nil && rel != "." {
				return filepath.ToSlash(rel)
			}
			return name
		}
		parent := filepath.Dir(root)
		if parent == root {
			return name
		}
		root = parent
	}
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
