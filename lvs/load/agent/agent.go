// Package agent is a client of HAProxy's agent check: it connects to a
// real server's agent over TCP, sends the configured string if any, and
// reads the one line the agent answers, which says the server's state and
// the share of its weight it wants.
//
// The protocol is the one HAProxy's configuration manual defines under the
// server keyword "agent-check" (doc/configuration.txt, section 5.2 "Server
// and default-server options", with "agent-send"), checked against how
// HAProxy parses the line (tcpcheck_agent_expect_reply in src/tcpcheck.c
// and server_parse_weight_change_request in src/server.c, HAProxy 3.x):
//
//   - the line ends at the first '\r' or '\n'; Query also takes the end of
//     the connection as its end (HAProxy ignores a line cut by it), and
//     reads at most MaxLine bytes;
//   - words are separated by spaces, tabs or commas, in any order, and are
//     matched without regard to case;
//   - "75%": the weight as a percentage of the configured one;
//   - "weight:75%" is the same, "weight:20" an absolute weight (0 to 256);
//   - "maxconn:30": the server's connection limit;
//   - "ready", "drain", "maint": the administrative state;
//   - "up", "down", "fail", "stopped": the operating state; a description
//     may follow after a '#' (the rest of the line). HAProxy sees the '#'
//     only at the start of a word ("down #disk full"); Parse also splits
//     "down#disk full" there, as the manual's wording allows.
//
// Words of one kind (weight, administrative state, operating state) that
// appear more than once: the last one wins, as in HAProxy. What the agent
// does not say is left as it was: Answer says Unsaid for it, and the
// caller keeps what it had (an agent that said "drain" stays drained until
// it says "ready"). An unknown or malformed word is not an error: it is
// reported in Answer.Warnings and ignored, as HAProxy reports and ignores
// it.
package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/load/internal/netctx"
)

// MaxLine bounds the agent's line, its end included: a longer line is an
// error, not a truncation.
const MaxLine = 512

// MaxSend bounds the string sent to the agent.
const MaxSend = 512

// Health is the operating state an agent reports.
type Health int

const (
	HealthUnsaid Health = iota // no "up", "down", "fail" or "stopped"
	HealthUp                   // "up"
	HealthDown                 // "down", "fail" or "stopped"
)

// Admin is the administrative state an agent asks for.
type Admin int

const (
	AdminUnsaid Admin = iota // no "ready", "drain" or "maint"
	AdminReady               // "ready": cancels drain and maint
	AdminDrain               // "drain": weight 0, existing connections go on
	AdminMaint               // "maint": out of service
)

// State is an answer's states reduced to one, for a caller that wants a
// single verdict. The rule, out of service first:
//
//	Down  if the operating state is down (down, fail, stopped);
//	Maint else if the administrative state is maint;
//	Drain else if the administrative state is drain;
//	Up    else if the agent said up or ready;
//	None  else (the agent said neither: only a weight, or nothing).
type State int

const (
	None State = iota
	Up
	Drain
	Maint
	Down
)

func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Drain:
		return "drain"
	case Maint:
		return "maint"
	case Down:
		return "down"
	}
	return "none"
}

// Answer is what an agent said.
type Answer struct {
	Health Health
	// HealthWord is the operating state's word as the agent said it, in
	// lower case ("up", "down", "fail", "stopped"), "" if unsaid: HAProxy
	// shows it, as it tells expected from unexpected.
	HealthWord string
	Admin      Admin
	// Percent is the weight as a percentage of the configured one ("75%",
	// "weight:75%"), -1 if the agent gave none. Values above MaxPercent
	// are lowered to it.
	Percent int
	// Weight is an absolute weight ("weight:20", 0 to 256), -1 if none.
	// At most one of Percent and Weight is set: the last weight word wins.
	Weight int
	// MaxConn is the connection limit ("maxconn:30"), -1 if none.
	MaxConn int
	// Reason is the text after '#', trimmed.
	Reason string
	// Warnings lists the words ignored and why.
	Warnings []string
}

// MaxPercent is the largest percentage kept, as HAProxy caps it.
const MaxPercent = 25600

// MaxWeight is the largest absolute weight, HAProxy's.
const MaxWeight = 256

// State reduces the answer's states to one (see State for the rule).
func (a Answer) State() State {
	switch {
	case a.Health == HealthDown:
		return Down
	case a.Admin == AdminMaint:
		return Maint
	case a.Admin == AdminDrain:
		return Drain
	case a.Health == HealthUp || a.Admin == AdminReady:
		return Up
	}
	return None
}

// Parse reads one line of an agent (without its end). It fails only on a
// line that is not printable ASCII (tabs allowed); every word it does not
// know goes to Warnings.
func Parse(line string) (Answer, error) {
	a := Answer{Percent: -1, Weight: -1, MaxConn: -1}
	for i := 0; i < len(line); i++ {
		if c := line[i]; (c < 0x20 || c > 0x7e) && c != '\t' {
			return a, fmt.Errorf("agent: byte %d of the line is %#02x: only printable ASCII and tabs are allowed", i+1, c)
		}
	}
	words, reason, hasReason := strings.Cut(line, "#")
	if hasReason {
		a.Reason = strings.TrimSpace(reason)
	}
	for w := range strings.FieldsFuncSeq(words, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' }) {
		lw := strings.ToLower(w)
		switch lw {
		case "up":
			a.Health, a.HealthWord = HealthUp, lw
			continue
		case "down", "fail", "stopped":
			a.Health, a.HealthWord = HealthDown, lw
			continue
		case "ready":
			a.Admin = AdminReady
			continue
		case "drain":
			a.Admin = AdminDrain
			continue
		case "maint":
			a.Admin = AdminMaint
			continue
		}
		var err error
		switch {
		case strings.HasPrefix(lw, "maxconn:"):
			var n int
			if n, err = number(lw[len("maxconn:"):], maxConnLimit); err == nil {
				a.MaxConn = n
			}
		case strings.HasPrefix(lw, "weight:"):
			v := lw[len("weight:"):]
			if p, ok := strings.CutSuffix(v, "%"); ok {
				var n int
				if n, err = percent(p); err == nil {
					a.Percent, a.Weight = n, -1
				}
			} else {
				var n int
				if n, err = number(v, MaxWeight); err == nil {
					a.Weight, a.Percent = n, -1
				}
			}
		case lw[0] >= '0' && lw[0] <= '9' && strings.HasSuffix(lw, "%"):
			var n int
			if n, err = percent(lw[:len(lw)-1]); err == nil {
				a.Percent, a.Weight = n, -1
			}
		default:
			err = errors.New("unknown word (known: N%, weight:N, weight:N%, maxconn:N, ready, drain, maint, up, down, fail, stopped)")
		}
		if err != nil {
			a.Warnings = append(a.Warnings, fmt.Sprintf("%q ignored: %v", w, err))
		}
	}
	return a, nil
}

// maxConnLimit bounds maxconn to what fits in an int32.
const maxConnLimit = 1<<31 - 1

// number parses a decimal integer from 0 to limit.
func number(s string, limit int) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > limit {
		return 0, fmt.Errorf("%s is above %d", s, limit)
	}
	return n, nil
}

// percent parses the number of a percentage, capped at MaxPercent.
func percent(s string) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a whole percentage", s+"%")
	}
	s = strings.TrimLeft(s, "0")
	if len(s) > len(strconv.Itoa(MaxPercent)) {
		return MaxPercent, nil
	}
	n, _ := strconv.Atoi(s) // "" (all zeros) is 0
	return min(n, MaxPercent), nil
}

// Query connects to the agent at addr (host:port), writes send (if not
// empty), and parses the line it answers. The context bounds the whole
// exchange; a context without a deadline is still cancellable.
func Query(ctx context.Context, addr string, send string) (Answer, error) {
	if len(send) > MaxSend {
		return Answer{}, fmt.Errorf("agent %s: the string to send is %d bytes, more than %d", addr, len(send), MaxSend)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Answer{}, fmt.Errorf("agent %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Cancellation unblocks a read or write in progress.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if send != "" {
		if _, err := io.WriteString(conn, send); err != nil {
			return Answer{}, fmt.Errorf("agent %s: sending: %w", addr, netctx.Err(ctx, err))
		}
	}
	line, err := readLine(conn)
	if err != nil {
		return Answer{}, fmt.Errorf("agent %s: %w", addr, netctx.Err(ctx, err))
	}
	a, err := Parse(line)
	if err != nil {
		return Answer{}, fmt.Errorf("agent %s: %w", addr, err)
	}
	return a, nil
}

// readLine reads up to the first '\r' or '\n', or the end of the stream,
// at most MaxLine bytes.
func readLine(r io.Reader) (string, error) {
	buf := make([]byte, MaxLine)
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		if i := bytes.IndexAny(buf[n:n+m], "\r\n"); i >= 0 {
			return string(buf[:n+i]), nil
		}
		n += m
		if err == io.EOF {
			if n == 0 {
				return "", errors.New("the agent closed the connection without answering")
			}
			return string(buf[:n]), nil
		}
		if err != nil {
			return "", fmt.Errorf("reading the answer: %w", err)
		}
	}
	return "", fmt.Errorf("the agent's line is longer than %d bytes", MaxLine-1)
}
