package sshload

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/lvs/internal/loadtest"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
	"golang.org/x/crypto/ssh"
)

// The tests run Debian's sshd (openssh-server) for real, as root, in a
// host of its own (lvs/internal/loadtest: a network namespace, and a mount
// namespace where a tmpfs covers /run, holding sshd's privilege separation
// directory), with a configuration, host keys and authorized_keys in a
// temporary directory.

const sshdPort = 2222

// lab is a host with sshd listening on 127.0.0.1:2222 there and the
// client keys it knows.
type lab struct {
	t    testing.TB
	h    *loadtest.Host
	ns   string
	dir  string
	sshd *loadtest.SSHD
	keys string // authorized_keys

	// Client keys: authorized as they are (good), restricted to Command
	// (restricted), forced to run other commands (liar, chatty), unknown.
	good, ecdsaKey, restricted, liar, chatty, unknown ssh.Signer
	goodFile                                          string // good's private key
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
	testenv.Commands(t, "ssh-keygen")
	h := loadtest.NewHost(t)
	l := &lab{t: t, h: h, ns: h.NS, dir: t.TempDir()}

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
	l.keys = keys
	return l
}

// hostKey writes a new ed25519 host key (and its .pub) and returns its
// path.
func (l *lab) hostKey(name string) string {
	path, _ := loadtest.HostKey(l.t, l.dir, name)
	return path
}

// start starts sshd with host key hostKey and waits until it listens.
func (l *lab) start(hostKey string) {
	l.t.Helper()
	l.sshd = l.h.StartSSHD(loadtest.SSHDConfig{
		Listen:         "127.0.0.1:" + strconv.Itoa(sshdPort),
		HostKey:        hostKey,
		AuthorizedKeys: l.keys,
	})
}

// stop kills sshd and waits for it.
func (l *lab) stop() { l.sshd.Stop() }

// log is what sshd said.
func (l *lab) log() string { return l.sshd.Log() }

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
// shares its kernel), within what changes between two reads, then those
// of a /proc/loadavg the test sets.
func TestLoadFromSSHD(t *testing.T) {
	l := newLab(t)
	first := l.hostKey("host1")
	l.start(first)
	keys := &pins{}

	before := procLoadavg(t)
	loads, err := l.load(l.good, keys)
	after := procLoadavg(t)
	if err != nil {
		t.Fatalf("first load: %v\nsshd:\n%s", err, l.log())
	}
	// The kernel updates the averages every 5 s: Load read one of the two
	// values around it; the margin covers a slow machine.
	for i := range 3 {
		lo, hi := min(before[i], after[i])-0.5, max(before[i], after[i])+0.5
		if loads[i] < lo || loads[i] > hi {
			t.Errorf("load %d over ssh %.2f, /proc/loadavg around it %.2f and %.2f", i, loads[i], before[i], after[i])
		}
	}
	// The host's /proc/loadavg, set by the test: what the remote cat
	// reads, exactly.
	l.h.SetLoad(4.5, 2.25, 0.5)
	if loads, err := l.load(l.good, keys); err != nil || loads != [3]float64{4.5, 2.25, 0.5} {
		t.Errorf("with the host's /proc/loadavg set to 4.50 2.25 0.50, the loads over ssh are %v (%v)", loads, err)
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
