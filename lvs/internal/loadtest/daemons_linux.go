package loadtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
)

// StartRstatd starts Debian's rpcbind and rpc.rstatd in the host and
// returns once rpcbind lists rstatd (rpcinfo -p): a monitor then reaches
// them at h.Addr (rpcbind's port 111, rstatd's registered port), and the
// host's own 127.0.0.1 in h.NS. rpcbind's socket, through which rstatd
// registers, is in the host's /run: a machine's own rpcbind is never seen.
func (h *Host) StartRstatd() {
	tb := h.tb
	tb.Helper()
	testenv.Commands(tb, "rpcbind", "rpc.rstatd", "rpcinfo")
	rpcbind := h.Command("rpcbind", "-f")
	log := &syncBuffer{}
	rpcbind.Stdout, rpcbind.Stderr = log, log
	if err := rpcbind.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rpcbind.Process.Kill(); rpcbind.Wait() })
	err := poll(15*time.Second, func() error { return h.Command("rpcinfo", "-p", "127.0.0.1").Run() })
	if err != nil {
		tb.Fatalf("rpcbind in %s never answered: %v\n%s", h.NS, err, log)
	}
	// rpc.rstatd forks and its parent exits; the daemon keeps no pipe of
	// ours open (its output goes to a file), so that Run returns. The
	// host's cleanup kills it with every process of the namespace.
	logf, err := os.Create(filepath.Join(h.dir, "rstatd.log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()
	rstatd := h.Command("rpc.rstatd")
	rstatd.Stdout, rstatd.Stderr = logf, logf
	if err := rstatd.Run(); err != nil {
		tb.Fatalf("rpc.rstatd: %v", err)
	}
	err = poll(15*time.Second, func() error {
		out, err := h.Command("rpcinfo", "-p", "127.0.0.1").Output()
		if err == nil && !strings.Contains(string(out), "rstatd") && !strings.Contains(string(out), " 100001 ") {
			err = fmt.Errorf("rstatd not registered:\n%s", out)
		}
		return err
	})
	if err != nil {
		b, _ := os.ReadFile(logf.Name())
		tb.Fatalf("rpc.rstatd in %s never registered: %v\n%s%s", h.NS, err, log, b)
	}
}

// Rwhod is Debian's rwhod in a host, broadcasting on its veth (-b) to
// h.Broadcast, port 513.
type Rwhod struct {
	h     *Host
	spool string
	log   *os.File
}

// StartRwhod starts rwhod. It broadcasts its status (the kernel's load,
// from sysinfo(2): SetLoad does not change it) when it starts, then every 3 minutes: a test
// that wants another broadcast sooner calls Restart. What it hears goes to
// a directory of the test's, bind-mounted on /var/spool/rwho in the host.
func (h *Host) StartRwhod() *Rwhod {
	tb := h.tb
	tb.Helper()
	testenv.Commands(tb, "rwhod")
	r := &Rwhod{h: h, spool: filepath.Join(h.dir, "rwho")}
	if err := os.Mkdir(r.spool, 0o755); err != nil {
		tb.Fatal(err)
	}
	if u, err := user.Lookup("rwhod"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		os.Chown(r.spool, uid, -1)
	}
	h.Run("mount", "--bind", r.spool, "/var/spool/rwho")
	var err error
	if r.log, err = os.Create(filepath.Join(h.dir, "rwhod.log")); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.log.Close() })
	r.start()
	return r
}

func (r *Rwhod) start() {
	r.h.tb.Helper()
	// rwhod forks; its output goes to a file, not a pipe Run would wait on.
	cmd := r.h.Command("rwhod", "-b")
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Run(); err != nil {
		r.h.tb.Fatalf("rwhod: %v", err)
	}
}

// Restart kills rwhod and starts it again, so that it broadcasts now.
func (r *Rwhod) Restart() {
	r.h.tb.Helper()
	for _, p := range r.h.processes("rwhod") {
		p.Kill()
	}
	// The old one must be gone, or the new one cannot bind port 513.
	err := poll(10*time.Second, func() error {
		if n := len(r.h.processes("rwhod")); n > 0 {
			return fmt.Errorf("%d rwhod still run", n)
		}
		return nil
	})
	if err != nil {
		r.h.tb.Fatal(err)
	}
	r.start()
}

// SSHD is Debian's sshd in a host.
type SSHD struct {
	h    *Host
	cmd  *exec.Cmd
	done chan struct{}
	log  *syncBuffer
}

// SSHDConfig is what a test's sshd needs.
type SSHDConfig struct {
	// Listen is sshd's ListenAddress: host:port; h.AddrPort(22) if empty.
	Listen string
	// HostKey is the host's private key's file (WriteKey).
	HostKey string
	// AuthorizedKeys is the content of authorized_keys, for every user.
	AuthorizedKeys string
}

// StartSSHD starts sshd (-D -e, as root, no PAM, keys only) and returns
// once it says it listens.
func (h *Host) StartSSHD(cfg SSHDConfig) *SSHD {
	tb := h.tb
	tb.Helper()
	testenv.Commands(tb, "sshd")
	if cfg.Listen == "" {
		cfg.Listen = h.AddrPort(22)
	}
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		tb.Fatal(err)
	}
	if sshd, err = filepath.Abs(sshd); err != nil { // sshd re-executes itself: it wants a full path
		tb.Fatal(err)
	}
	dir, err := os.MkdirTemp(h.dir, "sshd")
	if err != nil {
		tb.Fatal(err)
	}
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, []byte(cfg.AuthorizedKeys), 0o600); err != nil {
		tb.Fatal(err)
	}
	conf := filepath.Join(dir, "sshd_config")
	text := strings.Join([]string{
		"ListenAddress " + cfg.Listen,
		"HostKey " + cfg.HostKey,
		"AuthorizedKeysFile " + keys,
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		// The temporary directory is under /tmp, which others may write.
		"StrictModes no",
		"PidFile none",
		"PrintMotd no",
		"LogLevel VERBOSE",
		"",
	}, "\n")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &SSHD{h: h, cmd: h.Command(sshd, "-D", "-e", "-f", conf), done: make(chan struct{}), log: &syncBuffer{}}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	host, port, _ := strings.Cut(cfg.Listen, ":")
	listening := make(chan struct{})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			fmt.Fprintln(s.log, sc.Text())
			if !said && strings.Contains(sc.Text(), "Server listening on "+host+" port "+port) {
				said = true
				close(listening)
			}
		}
		io.Copy(io.Discard, stderr)
		s.cmd.Wait()
	}()
	tb.Cleanup(s.Stop)
	select {
	case <-listening:
	case <-s.done:
		tb.Fatalf("sshd ended before it listened:\n%s", s.log)
	case <-time.After(10 * time.Second):
		tb.Fatalf("sshd did not say it listens on %s within 10s:\n%s", cfg.Listen, s.log)
	}
	return s
}

// Stop kills sshd and waits for it.
func (s *SSHD) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Log is what sshd said so far.
func (s *SSHD) Log() string { return s.log.String() }

// Hog is busy loops in a host: runnable processes, which the kernel's
// load average (global, not per namespace) counts.
type Hog struct {
	cmds []*exec.Cmd
}

// StartHog starts n busy loops (sh), at the lowest priority: they count in
// the load average as any runnable process does, and leave the machine's
// CPUs to the rest. Stop or the test's cleanup ends them.
func (h *Host) StartHog(n int) *Hog {
	h.tb.Helper()
	testenv.Commands(h.tb, "nice", "sh")
	g := &Hog{}
	for range n {
		c := h.Command("nice", "-n", "19", "sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			g.Stop()
			h.tb.Fatal(err)
		}
		g.cmds = append(g.cmds, c)
	}
	h.tb.Cleanup(g.Stop)
	return g
}

// Stop kills the loops and waits for them.
func (g *Hog) Stop() {
	for _, c := range g.cmds {
		c.Process.Kill()
		c.Wait()
	}
	g.cmds = nil
}
