package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func answer(f func(*Answer)) Answer {
	a := Answer{Percent: -1, Weight: -1, MaxConn: -1}
	if f != nil {
		f(&a)
	}
	return a
}

// TestParse: the manual's words and examples, their combinations, and
// HAProxy's rules (last of a kind wins, case ignored, unknown words
// ignored but said).
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		line  string
		want  Answer
		state State
		warns int
	}{
		{"", answer(nil), None, 0},
		{"75%", answer(func(a *Answer) { a.Percent = 75 }), None, 0},
		{"0%", answer(func(a *Answer) { a.Percent = 0 }), None, 0},
		{"maxconn:30", answer(func(a *Answer) { a.MaxConn = 30 }), None, 0},
		{"weight:20", answer(func(a *Answer) { a.Weight = 20 }), None, 0},
		{"weight:50%", answer(func(a *Answer) { a.Percent = 50 }), None, 0},
		{"ready", answer(func(a *Answer) { a.Admin = AdminReady }), Up, 0},
		{"drain", answer(func(a *Answer) { a.Admin = AdminDrain }), Drain, 0},
		{"maint", answer(func(a *Answer) { a.Admin = AdminMaint }), Maint, 0},
		{"up", answer(func(a *Answer) { a.Health, a.HealthWord = HealthUp, "up" }), Up, 0},
		{"down", answer(func(a *Answer) { a.Health, a.HealthWord = HealthDown, "down" }), Down, 0},
		{"fail", answer(func(a *Answer) { a.Health, a.HealthWord = HealthDown, "fail" }), Down, 0},
		{"stopped #backup in progress", answer(func(a *Answer) {
			a.Health, a.HealthWord, a.Reason = HealthDown, "stopped", "backup in progress"
		}), Down, 0},
		{"down#disk full", answer(func(a *Answer) { a.Health, a.HealthWord, a.Reason = HealthDown, "down", "disk full" }), Down, 0},
		// Separators: spaces, tabs, commas, in any number.
		{"up,\t 80% ,maxconn:10", answer(func(a *Answer) {
			a.Health, a.HealthWord, a.Percent, a.MaxConn = HealthUp, "up", 80, 10
		}), Up, 0},
		// Loadbalancer.org's agent's first answer after it starts.
		{"up ready 99%", answer(func(a *Answer) {
			a.Health, a.HealthWord, a.Admin, a.Percent = HealthUp, "up", AdminReady, 99
		}), Up, 0},
		// Case is ignored; the word is kept in lower case.
		{"DOWN Drain", answer(func(a *Answer) { a.Health, a.HealthWord, a.Admin = HealthDown, "down", AdminDrain }), Down, 0},
		// Two axes: drained but up; the out-of-service state wins.
		{"up drain", answer(func(a *Answer) { a.Health, a.HealthWord, a.Admin = HealthUp, "up", AdminDrain }), Drain, 0},
		{"maint up", answer(func(a *Answer) { a.Health, a.HealthWord, a.Admin = HealthUp, "up", AdminMaint }), Maint, 0},
		// Last of a kind wins.
		{"down up", answer(func(a *Answer) { a.Health, a.HealthWord = HealthUp, "up" }), Up, 0},
		{"drain ready", answer(func(a *Answer) { a.Admin = AdminReady }), Up, 0},
		{"50% weight:7", answer(func(a *Answer) { a.Weight = 7 }), None, 0},
		{"weight:7 50%", answer(func(a *Answer) { a.Percent = 50 }), None, 0},
		// HAProxy caps percentages at 25600%.
		{"99999999999999999999%", answer(func(a *Answer) { a.Percent = MaxPercent }), None, 0},
		{"000150%", answer(func(a *Answer) { a.Percent = 150 }), None, 0},
		// Ignored, said in Warnings, the rest kept.
		{"hello 60%", answer(func(a *Answer) { a.Percent = 60 }), None, 1},
		{"75.5% up", answer(func(a *Answer) { a.Health, a.HealthWord = HealthUp, "up" }), Up, 1},
		{"weight:257", answer(nil), None, 1},
		{"weight:-1", answer(nil), None, 1},
		{"maxconn:", answer(nil), None, 1},
		{"maxconn:x1", answer(nil), None, 1},
		{"maxconn:99999999999", answer(nil), None, 1},
		{"75", answer(nil), None, 1},
		{"-5%", answer(nil), None, 1},
	} {
		got, err := Parse(tc.line)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.line, err)
			continue
		}
		if len(got.Warnings) != tc.warns {
			t.Errorf("Parse(%q) warnings %q, want %d", tc.line, got.Warnings, tc.warns)
		}
		got.Warnings = nil
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.line, got, tc.want)
		}
		if s := got.State(); s != tc.state {
			t.Errorf("Parse(%q).State() = %v, want %v", tc.line, s, tc.state)
		}
	}
}

func TestParseWarningNamesWord(t *testing.T) {
	a, err := Parse("up bogus")
	if err != nil || len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], `"bogus"`) || !strings.Contains(a.Warnings[0], "unknown word") {
		t.Fatalf("Parse: %+v, %v; want one warning naming \"bogus\"", a, err)
	}
}

func TestParseRefusesNonASCII(t *testing.T) {
	for _, line := range []string{"up\x00", "up é", "\x1b[31mup"} {
		if _, err := Parse(line); err == nil || !strings.Contains(err.Error(), "printable ASCII") {
			t.Errorf("Parse(%q): %v, want an error about printable ASCII", line, err)
		}
	}
}

// FuzzParse: any line gives an answer or an error, never a panic, and the
// answer's numbers stay in their ranges.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"75%", "up ready 99%", "down #x", "weight:256", "maxconn:30,drain", "weight:%", "0%%", "#", "", "\t,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		a, err := Parse(line)
		if err != nil {
			return
		}
		if a.Percent < -1 || a.Percent > MaxPercent || a.Weight < -1 || a.Weight > MaxWeight || a.MaxConn < -1 {
			t.Fatalf("Parse(%q) out of range: %+v", line, a)
		}
		if a.Percent >= 0 && a.Weight >= 0 {
			t.Fatalf("Parse(%q) set both a percentage and a weight: %+v", line, a)
		}
		_ = a.State()
	})
}

// agentServer is an agent written for the test: it answers each
// connection with the current answer, after reading what was sent (up to
// a newline) when expect is set; it records what it received.
type agentServer struct {
	ln       net.Listener
	answer   atomic.Value // string
	received atomic.Value // string
	expect   bool
}

func startAgent(t *testing.T, first string, expect bool) *agentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &agentServer{ln: ln, expect: expect}
	s.answer.Store(first)
	s.received.Store("")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if s.expect {
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				s.received.Store(string(buf[:n]))
			}
			fmt.Fprint(c, s.answer.Load().(string))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestQueryRealSocket: an agent over a real socket that changes its
// answer; what was configured to be sent reaches it.
func TestQueryRealSocket(t *testing.T) {
	s := startAgent(t, "up 80%\n", true)
	addr := s.ln.Addr().String()
	for _, step := range []struct {
		answer string
		state  State
		pct    int
		reason string
	}{
		{"up 80%\n", Up, 80, ""},
		{"drain\r\n", Drain, -1, ""},
		{"down #maintenance window\n", Down, -1, "maintenance window"},
		{"ready,up,weight:100%", Up, 100, ""}, // ended by the close
	} {
		s.answer.Store(step.answer)
		a, err := Query(ctx(t), addr, "web1\n")
		if err != nil {
			t.Fatalf("answer %q: %v", step.answer, err)
		}
		if a.State() != step.state || a.Percent != step.pct || a.Reason != step.reason {
			t.Errorf("answer %q: %+v (state %v), want state %v, percent %d, reason %q", step.answer, a, a.State(), step.state, step.pct, step.reason)
		}
		if got := s.received.Load().(string); got != "web1\n" {
			t.Errorf("the agent received %q, want %q", got, "web1\n")
		}
	}
}

func TestQueryErrors(t *testing.T) {
	long := startAgent(t, strings.Repeat("x", MaxLine)+"\n", false)
	if _, err := Query(ctx(t), long.ln.Addr().String(), ""); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("a line of %d bytes: %v, want an error about its length", MaxLine, err)
	}
	empty := startAgent(t, "", false)
	if _, err := Query(ctx(t), empty.ln.Addr().String(), ""); err == nil || !strings.Contains(err.Error(), "without answering") {
		t.Errorf("no answer: %v", err)
	}
	binary := startAgent(t, "up\x00\n", false)
	if _, err := Query(ctx(t), binary.ln.Addr().String(), ""); err == nil || !strings.Contains(err.Error(), "printable ASCII") {
		t.Errorf("a NUL byte: %v", err)
	}
	if _, err := Query(ctx(t), long.ln.Addr().String(), strings.Repeat("x", MaxSend+1)); err == nil {
		t.Error("a string to send longer than MaxSend was sent")
	}
}

// TestQuerySilentAgent: an agent that accepts and says nothing is cut by
// the context's deadline, and the error says so.
func TestQuerySilentAgent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			held <- c
		}
	}()
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Query(c, ln.Addr().String(), "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a silent agent: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Query returned after %v, past the 200ms deadline", d)
	}
	(<-held).Close()
}

// TestQueryCancel: cancelling a context without a deadline ends a read.
func TestQueryCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := Query(c, ln.Addr().String(), ""); errc <- err }()
	conn := <-accepted // the query is connected: now cancel it
	defer conn.Close()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled query: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Query did not return after its context was cancelled")
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("up ready 75% maxconn:30 #steady"); err != nil {
			b.Fatal(err)
		}
	}
}
