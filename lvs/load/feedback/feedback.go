// Package feedback is a client of Loadbalancer.org's feedback agent: a
// small service on each real server that answers the server's idle
// percentage, 0 (busy) to 100 (idle), so that the director can scale the
// server's weight by it.
//
// Two ways to ask, as Loadbalancer.org's appliance offers them:
//
//   - TCP (Idle): connect to the agent's port (DefaultPort, 3333) and read
//     what it writes until it closes the connection or ends a line;
//   - HTTP (IdleHTTP): GET a URL whose body is the number.
//
// The answer is one whole number from 0 to 100, optionally followed by
// '%' (Loadbalancer.org's current agent, go-feedback-agent, writes "85%\n";
// its older scripts a bare number), with white space around it. Sources:
// Loadbalancer.org's article "Open Source Windows service for reporting
// server load back to HAProxy (load balancer feedback agent)" (port 3333,
// the idle percentage) and the agent's source (loadbalancerorg/
// go-feedback-agent, handler.go: what it writes).
//
// The same agent also speaks HAProxy's agent protocol: in its drain or
// halt modes it answers "drain" or "down", and its first answer after it
// starts is "up ready 85%". Those are not idle percentages: Idle says so
// in its error, and such agents are for the agent monitor (lvs/load/agent),
// which understands every word.
package feedback

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/load/internal/netctx"
)

// DefaultPort is the feedback agent's TCP port.
const DefaultPort = 3333

// MaxTCP bounds what Idle reads from the agent; MaxHTTP bounds the HTTP
// body IdleHTTP reads. More is an error, not a truncation.
const (
	MaxTCP  = 64
	MaxHTTP = 4 << 10
)

// Idle connects to the feedback agent at addr (host:port) and returns the
// idle percentage it answers. The context bounds the whole exchange.
func Idle(ctx context.Context, addr string) (int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("feedback agent %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	body, err := readLine(conn, MaxTCP)
	if err != nil {
		return 0, fmt.Errorf("feedback agent %s: %w", addr, netctx.Err(ctx, err))
	}
	n, err := Parse(body)
	if err != nil {
		return 0, fmt.Errorf("feedback agent %s: %w", addr, err)
	}
	return n, nil
}

// IdleHTTP GETs url and returns the idle percentage its body holds. Only a
// 200 answer counts; redirects are not followed (an agent's URL is the
// admin's, not the server's to change); no proxy from the environment is
// used and no connection is kept: each check is one connection, closed.
func IdleHTTP(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("feedback URL %q: %w", url, err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return 0, fmt.Errorf("feedback URL %q: the scheme must be http or https", url)
	}
	client := &http.Client{
		Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("feedback %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("feedback %s: HTTP status %s, want 200 OK", url, resp.Status)
	}
	body, err := readAll(resp.Body, MaxHTTP)
	if err != nil {
		return 0, fmt.Errorf("feedback %s: %w", url, netctx.Err(ctx, err))
	}
	n, err := Parse(body)
	if err != nil {
		return 0, fmt.Errorf("feedback %s: %w", url, err)
	}
	return n, nil
}

// readLine reads r up to its first '\n' or its end, failing past limit
// bytes: an agent that ends its line but keeps the connection open is
// answered as soon as the line is.
func readLine(r io.Reader, limit int) ([]byte, error) {
	buf := make([]byte, limit+1)
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		if i := bytes.IndexByte(buf[n:n+m], '\n'); i >= 0 {
			return buf[:n+i], nil
		}
		n += m
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
	}
	return nil, fmt.Errorf("the answer is longer than %d bytes", limit)
}

// readAll reads r to its end, failing if it holds more than limit bytes.
func readAll(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("the answer is longer than %d bytes", limit)
	}
	return b, nil
}

// isAgentWord reports whether w is a word of HAProxy's agent protocol
// that a feedback agent may answer instead of a number.
func isAgentWord(w string) bool {
	switch w {
	case "up", "down", "drain", "maint", "ready", "fail", "stopped":
		return true
	}
	return false
}

// Parse reads an agent's answer: a whole number from 0 to 100, with an
// optional '%', white space around it.
func Parse(b []byte) (int, error) {
	s := string(bytes.TrimSpace(b))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return 0, fmt.Errorf("the answer has byte %#02x at %d: want an idle percentage, a whole number from 0 to 100", c, i+1)
		}
	}
	num := strings.TrimSuffix(s, "%")
	if num == "" || strings.Trim(num, "0123456789") != "" {
		for _, w := range strings.Fields(strings.ToLower(s)) {
			if isAgentWord(w) {
				return 0, fmt.Errorf("the answer %q is in HAProxy's agent protocol (%q), not an idle percentage: use the agent monitor for this agent", s, w)
			}
		}
		return 0, fmt.Errorf("the answer %q is not an idle percentage: want a whole number from 0 to 100", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n > 100 {
		return 0, fmt.Errorf("the idle percentage %s is out of range: want 0 to 100", num)
	}
	return n, nil
}
