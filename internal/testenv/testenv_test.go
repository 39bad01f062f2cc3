package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

// fakeT records how a need ended a test: Fatalf or Skip, each of which
// ends the goroutine as testing.T's do.
type fakeT struct {
	testing.TB // for what is not overridden; never called
	name       string
	fatal      string
	skip       string
}

func (f *fakeT) Helper()      {}
func (f *fakeT) Name() string { return f.name }
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeT) Skip(args ...any) {
	f.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls s.need as a test named name would, and reports how it ended.
func run(s *skipped, name string, all bool, what, how string) *fakeT {
	f := &fakeT{name: name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.need(f, all, what, how)
	}()
	<-done
	return f
}

// TestNeed: with LVSCONSOLE_TEST_ALL=1 a missing need fails the test,
// saying what is missing and how to get it, and is not recorded as
// skipped; without it, the test is skipped with the same words and
// recorded for the summary.
func TestNeed(t *testing.T) {
	var s skipped
	f := run(&s, "TestA", true, "root", HowToRunAll)
	if f.skip != "" || f.fatal != "needs root: run `make test` as root (LVSCONSOLE_TEST_ALL=1: every test must run)" {
		t.Errorf("with %s=1: fatal %q, skip %q; want a failure saying what is missing", AllVar, f.fatal, f.skip)
	}
	if got := s.list(); len(got) != 0 {
		t.Errorf("with %s=1 the failure was recorded as a skip: %v", AllVar, got)
	}

	f = run(&s, "TestB", false, "root", HowToRunAll)
	if f.fatal != "" || f.skip != "needs root: run `make test` as root" {
		t.Errorf("without %s: fatal %q, skip %q; want a skip saying what is missing", AllVar, f.fatal, f.skip)
	}
	if got := s.list(); len(got) != 1 || got[0] != (skip{"TestB", "root", HowToRunAll}) {
		t.Errorf("recorded %v, want TestB's skip", got)
	}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		skips []skip
		want  string
	}{
		{"none", nil, ""},
		{"one", []skip{{"TestA", "root", "how"}}, "lvs/x: did not run 1 test that needs root (TestA): how\n"},
		{"grouped by need, in order of first skip", []skip{
			{"TestA", "root", "run make test"},
			{"TestB", "chromium", "install it"},
			{"TestC/sub", "root", "run make test"},
			{"TestC/sub", "root", "run make test"}, // a test asking twice counts once
		}, "lvs/x: did not run 2 tests that need root (TestA, TestC/sub): run make test\n" +
			"lvs/x: did not run 1 test that needs chromium (TestB): install it\n"},
		{"long lists cut", []skip{
			{"T1", "root", "h"}, {"T2", "root", "h"}, {"T3", "root", "h"}, {"T4", "root", "h"},
			{"T5", "root", "h"}, {"T6", "root", "h"}, {"T7", "root", "h"}, {"T8", "root", "h"},
		}, "lvs/x: did not run 8 tests that need root (T1, T2, T3, T4, T5, T6 and 2 more): h\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary("lvs/x", tc.skips); got != tc.want {
				t.Errorf("summary =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestPkgName: the summary names the package by its directory in the
// module.
func TestPkgName(t *testing.T) {
	if got := pkgName(); got != "internal/testenv" {
		t.Errorf("pkgName() = %q, want internal/testenv", got)
	}
}

// TestMissingCommands: a command that is not in PATH is named with the
// Debian package it comes in.
func TestMissingCommands(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if missing, pkgs := missingCommands("ip", "nft", "ipvsadm"); missing != "ip and nft and ipvsadm" || pkgs != "iproute2 nftables ipvsadm" {
		t.Errorf("missingCommands = %q, %q", missing, pkgs)
	}
	if _, pkgs := missingCommands("sshd", "ssh-keygen"); pkgs != "openssh-server openssh-client" {
		t.Errorf("missingCommands(sshd, ssh-keygen) names packages %q", pkgs)
	}
	t.Setenv("PATH", "/usr/bin:/bin")
	if missing, pkgs := missingCommands("sh"); missing != "" || pkgs != "" {
		t.Errorf("missingCommands(sh) = %q, %q; want none missing", missing, pkgs)
	}
}

// TestRunEndToEnd runs go test on a package with a test whose need no
// machine meets: with LVSCONSOLE_TEST_ALL=1 it fails saying what is
// missing; without, the package passes and Run writes its summary where
// SummaryVar says.
func TestRunEndToEnd(t *testing.T) {
	Commands(t, "go")
	t.Parallel()
	gotest := func(all string) (string, string, error) {
		summary := filepath.Join(t.TempDir(), "summary")
		cmd := exec.Command("go", "test", "-count=1", "./testdata/fixture")
		cmd.Env = append(os.Environ(), AllVar+"="+all, SummaryVar+"="+summary)
		out, err := cmd.CombinedOutput()
		b, _ := os.ReadFile(summary)
		return string(out), string(b), err
	}

	out, summary, err := gotest("1")
	if err == nil || !strings.Contains(out, "--- FAIL: TestNeedsTheImpossible") ||
		!strings.Contains(out, "needs lvsconsole-no-such-command: apt-get install lvsconsole-no-such-command, or") {
		t.Errorf("with %s=1: %v\n%s", AllVar, err, out)
	}
	if summary != "" {
		t.Errorf("with %s=1 a summary of skips: %q", AllVar, summary)
	}

	out, summary, err = gotest("")
	if err != nil {
		t.Errorf("without %s: %v\n%s", AllVar, err, out)
	}
	want := "internal/testenv/testdata/fixture: did not run 1 test that needs lvsconsole-no-such-command (TestNeedsTheImpossible): " +
		"apt-get install lvsconsole-no-such-command, or run `make test` as root (it installs them)\n"
	if summary != want {
		t.Errorf("summary %q, want %q", summary, want)
	}
}
