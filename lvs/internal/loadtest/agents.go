package loadtest

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Agent is an HAProxy agent-check server, as a real server runs one
// (HAProxy's configuration manual, "agent-check"): to each connection it
// writes the line the test last set, then reads what the checker sent
// (agent-send) until the checker closes.
type Agent struct {
	mu      sync.Mutex
	line    string
	sent    string
	queries int
}

// ServeAgent serves l as an agent answering line until the test ends.
func ServeAgent(tb testing.TB, l net.Listener, line string) *Agent {
	tb.Helper()
	a := &Agent{line: line}
	serve(tb, l, a.handle)
	return a
}

// Set changes the agent's answer from the next connection on.
func (a *Agent) Set(line string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.line = line
}

// Queries is how many connections the agent answered.
func (a *Agent) Queries() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.queries
}

// Sent is what the last checker sent before it closed.
func (a *Agent) Sent() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sent
}

func (a *Agent) handle(c net.Conn) {
	a.mu.Lock()
	line := a.line
	a.mu.Unlock()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, line+"\n")
	// Read to the checker's end before closing: closing with unread bytes
	// would reset the connection, and the checker might lose the line.
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	b, _ := io.ReadAll(io.LimitReader(c, 4096))
	a.mu.Lock()
	a.sent = string(b)
	a.queries++
	a.mu.Unlock()
}

// Feedback is Loadbalancer.org's feedback agent as a test runs it: over
// TCP it writes its answer and closes (as go-feedback-agent does), over
// HTTP it is the body of a GET of its path.
type Feedback struct {
	mu      sync.Mutex
	answer  string
	queries int
}

// ServeFeedback serves l as a feedback agent over TCP answering answer
// ("100%", "30", ...) until the test ends.
func ServeFeedback(tb testing.TB, l net.Listener, answer string) *Feedback {
	tb.Helper()
	f := &Feedback{answer: answer}
	serve(tb, l, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, f.take()+"\n")
	})
	return f
}

// ServeFeedbackHTTP serves l as a feedback agent over HTTP, at path (other
// paths are 404), until the test ends.
func ServeFeedbackHTTP(tb testing.TB, l net.Listener, path, answer string) *Feedback {
	tb.Helper()
	f := &Feedback{answer: answer}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, f.take()+"\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	tb.Cleanup(func() { srv.Close(); <-done })
	return f
}

func (f *Feedback) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	return f.answer
}

// Set changes the answer from the next query on.
func (f *Feedback) Set(answer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = answer
}

// Queries is how many queries the agent answered.
func (f *Feedback) Queries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.queries
}

// serve accepts connections on l and handles each in a goroutine, until
// the test's cleanup closes l and waits for them.
func serve(tb testing.TB, l net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	tb.Cleanup(func() { l.Close(); wg.Wait() })
}
