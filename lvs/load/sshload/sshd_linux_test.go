package sshload

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
	"golang.org/x/crypto/ssh"
)

// The tests run Debian's sshd (openssh-server) for real, as root, in a
// network namespace of their own, with a configuration, host keys and
// authorized_keys in a temporary directory. sshd insists on its privilege
// separation directory, /run/sshd: the test runs again in a mount
// namespace of its own where a tmpfs covers /run, so nothing of the host
// changes.

// mountNSVar is set in the copy of a test that runs in its own mount
// namespace.
const mountNSVar = "LVSCONSOLE_SSHLOAD_TEST_NS"

const sshdPort = 2222

// inMountNS runs the calling test or benchmark again in a mount namespace
// of its own and checks that it passed (false: the caller returns); in
// that copy it covers /run with a tmpfs holding /run/sshd and returns true.
func inMountNS(t testing.TB) bool {
	t.Helper()
	testenv.NetNS(t)
	testenv.Commands(t, "sshd", "ssh-keygen")
	if os.Getenv(mountNSVar) == "" {
		args, passed := []string{"-test.run=^" + t.Name() + "$", "-test.count=1", "-test.v"}, "--- PASS: "+t.Name()
		if b, ok := t.(*testing.B); ok {
			if b.N != 1 {
				return false // the copy ran at the first call, with b.N = 1
			}
			bt := "1s"
			if f := flag.Lookup("test.benchtime"); f != nil {
				bt = f.Value.String()
			}
			args, passed = []string{"-test.run=^$", "-test.bench=^" + t.Name() + "$", "-test.benchmem", "-test.benchtime=" + bt}, "\nPASS\n"
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), mountNSVar+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes the mounts private
		out, err := cmd.CombinedOutput()
		t.Logf("in a mount namespace of its own:\n%s", out)
		if err != nil || !bytes.Contains(out, []byte(passed)) {
			t.Fatalf("the test in its mount namespace failed: %v", err)
		}
		return false
	}
	if err := syscall.Mount("tmpfs", "/run", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("mounting a tmpfs on /run: %v", err)
	}
	if err := os.Mkdir("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	return true
}

// lab is a network namespace with sshd listening on 127.0.0.1:2222 and
// the client keys it knows.
type lab struct {
	t    testing.TB
	ns   string
	dir  string
	sshd *exec.Cmd
	done chan struct{}
	log  *syncBuffer

	// Client keys: authorized as they are (good), restricted to Command
	// (restricted), forced to run other commands (liar, chatty), unknown.
	good, ecdsaKey, restricted, liar, chatty, unknown ssh.Signer
	goodFile                                          string // good's private key
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runCmd(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func signer(t testing.TB, key any) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newLab(t testing.TB) *lab {
	t.Helper()
	l := &lab{t: t, ns: fmt.Sprintf("lvsssh%d", os.Getpid()), dir: t.TempDir()}
	runCmd(t, "ip", "netns", "add", l.ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", l.ns).Run() })
	runCmd(t, "ip", "-n", l.ns, "link", "set", "lo", "up")

	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	l.goodFile = writeKey(t, l.dir, "client", ed, 0o600) // for OpenSSH's client
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, liar, _ := ed25519.GenerateKey(rand.Reader)
	_, chatty, _ := ed25519.GenerateKey(rand.Reader)
	_, unknown, _ := ed25519.GenerateKey(rand.Reader)
	l.good, l.ecdsaKey, l.restricted = signer(t, ed), signer(t, ec), signer(t, rs)
	l.liar, l.chatty, l.unknown = signer(t, liar), signer(t, chatty), signer(t, unknown)
	line := func(opts string, s ssh.Signer) string {
		return opts + strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(s.PublicKey())), "\n") + " lvsconsole-test\n"
	}
	keys := line("", l.good) + line("", l.ecdsaKey) +
		line(`restrict,command="cat /proc/loadavg" `, l.restricted) +
		line(`restrict,command="echo not a load average" `, l.liar) +
		line(`restrict,command="head -c 5000 /dev/zero" `, l.chatty)
	if err := os.WriteFile(filepath.Join(l.dir, "authorized_keys"), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// hostKey writes a new ed25519 host key (and its .pub) and returns its
// path.
func (l *lab) hostKey(name string) string {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	path := writeKey(l.t, l.dir, name, key, 0o600)
	pub := ssh.MarshalAuthorizedKey(signer(l.t, key).PublicKey())
	if err := os.WriteFile(path+".pub", pub, 0o644); err != nil {
		l.t.Fatal(err)
	}
	return path
}

// start starts sshd with host key hostKey and waits until it listens.
func (l *lab) start(hostKey string) {
	t := l.t
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		t.Fatal(err)
	}
	if sshd, err = filepath.Abs(sshd); err != nil { // sshd re-executes itself: it wants a full path
		t.Fatal(err)
	}
	cfg := filepath.Join(l.dir, "sshd_config")
	conf := strings.Join([]string{
		"ListenAddress 127.0.0.1:" + strconv.Itoa(sshdPort),
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + filepath.Join(l.dir, "authorized_keys"),
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
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", l.ns, sshd, "-D", "-e", "-f", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.sshd, l.done, l.log = cmd, make(chan struct{}), &syncBuffer{}
	listening := make(chan struct{})
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(stderr)
		said := false
		for sc.Scan() {
			fmt.Fprintln(l.log, sc.Text())
			if !said && strings.Contains(sc.Text(), "Server listening on 127.0.0.1 port "+strconv.Itoa(sshdPort)) {
				said = true
				close(listening)
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
	}()
	t.Cleanup(l.stop)
	select {
	case <-listening:
	case <-l.done:
		t.Fatalf("sshd ended before it listened:\n%s", l.log)
	case <-time.After(10 * time.Second):
		t.Fatalf("sshd did not say it listens within 10s:\n%s", l.log)
	}
}

// stop kills sshd and waits for it.
func (l *lab) stop() {
	if l.sshd == nil {
		return
	}
	l.sshd.Process.Kill()
	<-l.done
	l.sshd = nil
}

// load runs Load from inside the namespace as root with signer.
func (l *lab) load(s ssh.Signer, keys HostKeys) ([3]float64, error) {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var loads [3]float64
	var lerr error
	err := netns.Do(l.ns, func() error {
		loads, lerr = Load(c, Config{Addr: "127.0.0.1:" + strconv.Itoa(sshdPort), User: "root", Signer: s, Keys: keys})
		return nil
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return loads, lerr
}

// keygenFingerprint is what `ssh-keygen -lf` says of a public key file.
func keygenFingerprint(t testing.TB, pub string) string {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-lf", pub).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -lf %s: %v", pub, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 || !strings.HasPrefix(f[1], "SHA256:") {
		t.Fatalf("ssh-keygen -lf %s: %q", pub, out)
	}
	return f[1]
}

func procLoadavg(t testing.TB) [3]float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseLoadavg(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLoadFromSSHD: Load against Debian's sshd: the first connection pins
// the host key (the fingerprint ssh-keygen prints), later ones use the pin,
// a changed host key is refused naming both fingerprints, an unknown
// client key is refused, and an output that is not /proc/loadavg's, or is
// too long, is an error. The loads are this machine's (the namespace
// shares its kernel), within what changes between two reads.
func TestLoadFromSSHD(t *testing.T) {
	if !inMountNS(t) {
		return
	}
	l := newLab(t)
	first := l.hostKey("host1")
	l.start(first)
	keys := &pins{}

	before := procLoadavg(t)
	loads, err := l.load(l.good, keys)
	after := procLoadavg(t)
	if err != nil {
		t.Fatalf("first load: %v\nsshd:\n%s", err, l.log)
	}
	// The kernel updates the averages every 5 s: Load read one of the two
	// values around it; the margin covers a slow machine.
	for i := range 3 {
		lo, hi := min(before[i], after[i])-0.5, max(before[i], after[i])+0.5
		if loads[i] < lo || loads[i] > hi {
			t.Errorf("load %d over ssh %.2f, /proc/loadavg around it %.2f and %.2f", i, loads[i], before[i], after[i])
		}
	}
	want := keygenFingerprint(t, first+".pub")
	if fp, ok := keys.Pinned("127.0.0.1:2222"); !ok || fp != want || keys.pins != 1 {
		t.Fatalf("after the first connection the pin is %q (%v, %d pins), want %s as ssh-keygen -lf says", fp, ok, keys.pins, want)
	}

	for name, s := range map[string]ssh.Signer{"ecdsa": l.ecdsaKey, "rsa, restricted to the command": l.restricted} {
		if _, err := l.load(s, keys); err != nil {
			t.Errorf("%s key: %v", name, err)
		}
	}
	if keys.pins != 1 {
		t.Errorf("later connections pinned again: %d pins", keys.pins)
	}

	if _, err := l.load(l.unknown, keys); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("an unknown client key: %v, want refused", err)
	}
	if _, err := l.load(l.liar, keys); err == nil || !strings.Contains(err.Error(), "not /proc/loadavg's line") || !strings.Contains(err.Error(), "not a load average") {
		t.Errorf("a command that says something else: %v", err)
	}
	if _, err := l.load(l.chatty, keys); err == nil || !strings.Contains(err.Error(), "longer than 4096 bytes") {
		t.Errorf("a command that says 5000 bytes: %v", err)
	}

	// Another machine (a new host key) at the same address.
	l.stop()
	second := l.hostKey("host2")
	l.start(second)
	_, err = l.load(l.good, keys)
	var hk *HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("a changed host key: %v, want a HostKeyError", err)
	}
	changed := keygenFingerprint(t, second+".pub")
	if hk.Pinned != want || hk.Offered != changed || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), changed) {
		t.Errorf("a changed host key: %v, want pinned %s and offered %s named", err, want, changed)
	}
	if fp, _ := keys.Pinned("127.0.0.1:2222"); fp != want || keys.pins != 1 {
		t.Errorf("the refused key changed the pin: %s, %d pins", fp, keys.pins)
	}
	// A new store trusts the new key on first use.
	if _, err := l.load(l.good, &pins{}); err != nil {
		t.Errorf("a new store: %v", err)
	}
}

// BenchmarkLoadSSHD: one load read (connect, key exchange, public key
// login, one command) over loopback, from Debian's sshd.
func BenchmarkLoadSSHD(b *testing.B) {
	if !inMountNS(b) {
		return
	}
	l := newLab(b)
	l.start(l.hostKey("host"))
	keys := &pins{}
	for b.Loop() {
		if _, err := l.load(l.good, keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenSSHClient: the same read by OpenSSH's client, for scale.
func BenchmarkOpenSSHClient(b *testing.B) {
	if !inMountNS(b) {
		return
	}
	testenv.Commands(b, "ssh")
	l := newLab(b)
	l.start(l.hostKey("host"))
	for b.Loop() {
		out, err := exec.Command("ip", "netns", "exec", l.ns, "ssh", "-F", "none", "-i", l.goodFile, "-p", strconv.Itoa(sshdPort),
			"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
			"root@127.0.0.1", Command).CombinedOutput()
		if err != nil {
			b.Fatalf("ssh: %v\n%s", err, out)
		}
		if _, err := ParseLoadavg(out); err != nil {
			b.Fatal(err)
		}
	}
}
