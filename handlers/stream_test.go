package handlers

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/store"
)

// sseEvent is one server-sent event as a browser's EventSource sees it.
type sseEvent struct {
	name, data string
}

// sseReader parses a text/event-stream as the HTML standard says: a line
// ends at CR, LF or CRLF; "data" fields are joined with LF; an empty line
// dispatches the event.
type sseReader struct {
	r       *bufio.Reader
	afterCR bool
}

func (s *sseReader) line() (string, error) {
	var b strings.Builder
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		if s.afterCR {
			s.afterCR = false
			if c == '\n' {
				continue
			}
		}
		switch c {
		case '\r':
			s.afterCR = true
			return b.String(), nil
		case '\n':
			return b.String(), nil
		}
		b.WriteByte(c)
	}
}

func (s *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data []string
	for {
		line, err := s.line()
		if err != nil {
			return ev, err
		}
		if line == "" {
			if data == nil {
				continue
			}
			ev.data = strings.Join(data, "\n")
			return ev, nil
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.name = value
		case "data":
			data = append(data, value)
		}
	}
}

// TestStreamSplitsCR: a bare CR in what the dashboard shows (here a
// revision's note) is a line break of the event's data, not the end of a
// line that cuts the rest of the fragment off.
func TestStreamSplitsCR(t *testing.T) {
	e := newEnv(t, true)
	if _, err := e.store.Update(context.Background(), store.Change{Role: store.ScopeAdmin, Author: "test", Note: "first\rsecond\r\nthird"},
		func(c *config.Config) error { c.Global.TCPTimeout = 99; return nil }); err != nil {
		t.Fatal(err)
	}
	c := e.login(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/control/stream?every=1", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sr := &sseReader{r: bufio.NewReader(resp.Body)}
	for i := range 2 {
		ev, err := sr.next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.name != "update" {
			t.Errorf("event %d is %q", i, ev.name)
		}
		if !strings.Contains(ev.data, "first\nsecond\nthird: ") {
			t.Errorf("event %d lost the note's lines: %q", i, ev.data)
		}
		if !strings.HasSuffix(strings.TrimSpace(ev.data), ">") || strings.Count(ev.data, "<") != strings.Count(ev.data, ">") {
			t.Errorf("event %d is cut: ...%q", i, ev.data[max(0, len(ev.data)-200):])
		}
	}
}

// TestEventDataLineBreaks: every kind of line break starts a new data
// line, also when a CRLF is split between two writes.
func TestEventDataLineBreaks(t *testing.T) {
	for _, tc := range []struct {
		writes []string
		want   string
	}{
		{[]string{"a\nb"}, "a\ndata: b"},
		{[]string{"a\rb"}, "a\ndata: b"},
		{[]string{"a\r\nb"}, "a\ndata: b"},
		{[]string{"a\r", "\nb"}, "a\ndata: b"},
		{[]string{"a\r", "b"}, "a\ndata: b"},
		{[]string{"a\r", "\r", "\nb"}, "a\ndata: \ndata: b"},
		{[]string{"a\n\rb"}, "a\ndata: \ndata: b"},
		{[]string{"\r\n"}, "\ndata: "},
		{[]string{"a", "b", ""}, "ab"},
	} {
		var b bytes.Buffer
		ev := &eventData{w: &b}
		for _, w := range tc.writes {
			if n, err := io.WriteString(ev, w); n != len(w) || err != nil {
				t.Fatalf("%q: Write = %d, %v", tc.writes, n, err)
			}
		}
		if b.String() != tc.want {
			t.Errorf("%q: wrote %q, want %q", tc.writes, b.String(), tc.want)
		}
	}
}
