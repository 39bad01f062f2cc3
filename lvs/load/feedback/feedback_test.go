package feedback

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		err  string // part of the error, "" for none
	}{
		{"85", 85, ""},
		{"85%\n", 85, ""},
		{" 0\r\n", 0, ""},
		{"100", 100, ""},
		{"007", 7, ""},
		{"101", 0, "out of range"},
		{"99999999999999999999999", 0, "out of range"},
		{"-1", 0, "not an idle percentage"},
		{"85.5", 0, "not an idle percentage"},
		{"", 0, "not an idle percentage"},
		{"%", 0, "not an idle percentage"},
		{"85 90", 0, "not an idle percentage"},
		{"drain", 0, "agent protocol"},
		{"up ready 85%", 0, "agent protocol"},
		{"8\x005", 0, "byte 0x00"},
	} {
		n, err := Parse([]byte(tc.in))
		switch {
		case tc.err == "" && (err != nil || n != tc.want):
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.in, n, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Parse(%q) = %d, %v; want an error with %q", tc.in, n, err, tc.err)
		}
	}
}

// tcpAgent is a feedback agent written for the test: it writes the
// current answer to each connection and closes it.
func tcpAgent(t *testing.T, answer *atomic.Value) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, answer.Load().(string))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestIdleRealSocket: an agent whose answer changes, over a real socket.
func TestIdleRealSocket(t *testing.T) {
	var answer atomic.Value
	addr := tcpAgent(t, &answer)
	for _, step := range []struct {
		answer string
		want   int
		err    string
	}{
		{"90\n", 90, ""},
		{"12%\n", 12, ""},
		{"0", 0, ""},
		{"150\n", 0, "out of range"},
		{"busy\n", 0, "not an idle percentage"},
		{"drain\n", 0, "agent protocol"},
		{strings.Repeat("9", MaxTCP+1), 0, "longer than 64 bytes"},
		{"", 0, "not an idle percentage"},
	} {
		answer.Store(step.answer)
		n, err := Idle(ctx(t), addr)
		switch {
		case step.err == "" && (err != nil || n != step.want):
			t.Errorf("agent answers %q: %d, %v; want %d", step.answer, n, err, step.want)
		case step.err != "" && (err == nil || !strings.Contains(err.Error(), step.err) || !strings.Contains(err.Error(), addr)):
			t.Errorf("agent answers %q: %d, %v; want an error naming %s with %q", step.answer, n, err, addr, step.err)
		}
	}
}

// TestIdleLineEndsAnswer: an agent that ends its line but keeps the
// connection open is answered at once.
func TestIdleLineEndsAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			fmt.Fprint(c, "60\n") // and keeps the connection
			held <- c
		}
	}()
	if n, err := Idle(ctx(t), ln.Addr().String()); err != nil || n != 60 {
		t.Fatalf("Idle = %d, %v; want 60", n, err)
	}
	(<-held).Close()
}

// TestIdleDeadline: an agent that never closes nor ends its line is cut
// at the deadline.
func TestIdleDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			fmt.Fprint(c, "50") // and never closes
			held <- c
		}
	}()
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Idle(c, ln.Addr().String()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an agent that never closes: %v, want context.DeadlineExceeded", err)
	}
	(<-held).Close()
}

func TestIdleRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Idle(ctx(t), addr); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("no agent: %v, want an error naming %s", err, addr)
	}
}

// TestIdleHTTP: an HTTP agent (httptest, a real socket) whose body changes.
func TestIdleHTTP(t *testing.T) {
	var body atomic.Value
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/load", http.StatusFound)
			return
		}
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, body.Load().(string))
	}))
	defer srv.Close()
	for _, step := range []struct {
		body   string
		status int
		path   string
		want   int
		err    string
	}{
		{"75\n", 200, "/load", 75, ""},
		{"3%", 200, "/load", 3, ""},
		{"75", 500, "/load", 0, "HTTP status 500"},
		{"75", 200, "/redirect", 0, "HTTP status 302"},
		{"<html>busy</html>", 200, "/load", 0, "not an idle percentage"},
		{strings.Repeat(" ", MaxHTTP) + "5", 200, "/load", 0, "longer than 4096 bytes"},
	} {
		body.Store(step.body)
		status.Store(int32(step.status))
		n, err := IdleHTTP(ctx(t), srv.URL+step.path)
		switch {
		case step.err == "" && (err != nil || n != step.want):
			t.Errorf("body %.20q status %d: %d, %v; want %d", step.body, step.status, n, err, step.want)
		case step.err != "" && (err == nil || !strings.Contains(err.Error(), step.err)):
			t.Errorf("body %.20q status %d %s: %d, %v; want an error with %q", step.body, step.status, step.path, n, err, step.err)
		}
	}
	if _, err := IdleHTTP(ctx(t), "file:///etc/passwd"); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("a file URL: %v, want an error about the scheme", err)
	}
}

// TestIdleHTTPDeadline: a body that never ends is cut at the deadline.
func TestIdleHTTPDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "5")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := IdleHTTP(c, srv.URL); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a body that never ends: %v, want context.DeadlineExceeded", err)
	}
}
