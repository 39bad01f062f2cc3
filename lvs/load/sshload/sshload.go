// Package sshload reads a real server's load averages over SSH: piranha's
// "uptime" load monitor (lvs.cf load_monitor = uptime), where nanny ran
// uptime on each real server through rsh or ssh and took the load from
// its output.
//
// It connects with golang.org/x/crypto/ssh as the user the admin names,
// with the private key the admin gives (ReadKey: ed25519, ECDSA or RSA,
// refused if group or others may read it, as ssh(1) refuses it), and runs
// one fixed command, Command: no pseudo-terminal, nothing of the input in
// it. It reads at most MaxOutput bytes of its output within the context's
// deadline and parses the three load averages of /proc/loadavg (proc(5):
// the 1, 5 and 15 minute averages, runnable/total scheduling entities, the
// last PID).
//
// The server runs a command through the user's shell, whatever the client
// sends; a key for this monitor is best restricted on the real server, in
// authorized_keys: restrict,command="cat /proc/loadavg" ssh-ed25519 AAAA...
//
// Host keys are trusted on first use and pinned: the caller's HostKeys
// stores, per address, the SHA256 fingerprint of the key the server first
// offered (as `ssh-keygen -lf` prints it, "SHA256:..."); a later different
// key is refused with a HostKeyError naming both. The client offers the
// same host key algorithms in the same order every time, so a server with
// several host keys shows the same one.
package sshload

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/lvsconsole/lvsconsole/lvs/load/internal/netctx"
)

// Command is the only command run on the real server.
const Command = "cat /proc/loadavg"

// MaxOutput bounds the command's output: more is an error.
const MaxOutput = 4 << 10

// MaxKeyFile bounds a private key file.
const MaxKeyFile = 64 << 10

// MinRSABits is the smallest RSA key ReadKey accepts.
const MinRSABits = 2048

// HostKeys keeps the host key pins: the SHA256 fingerprint ("SHA256:...")
// of each server's key, by address (host:port, as in Config.Addr).
type HostKeys interface {
	// Pinned returns the fingerprint pinned for host, false if none is.
	Pinned(host string) (fingerprint string, ok bool)
	// Pin records the fingerprint of a host seen for the first time. An
	// error refuses the connection: nothing is trusted that is not kept.
	Pin(host, fingerprint string) error
}

// Config says where and as whom to read the load.
type Config struct {
	// Addr is the real server's SSH address, host:port (port 22 if none).
	Addr string
	// User is the user to log in as.
	User string
	// Signer is the client's private key (ReadKey).
	Signer ssh.Signer
	// Keys holds the host key pins.
	Keys HostKeys
}

// HostKeyError is a server offering another key than the one pinned.
type HostKeyError struct {
	Host    string
	Pinned  string // the fingerprint pinned
	Offered string // the fingerprint of the key offered now
}

func (e *HostKeyError) Error() string {
	return fmt.Sprintf("host key of %s changed: pinned %s, offered %s (refused: if the server's key was replaced on purpose, remove its pin)",
		e.Host, e.Pinned, e.Offered)
}

// Load logs in to the server, runs Command and returns the 1, 5 and 15
// minute load averages. The context bounds the whole exchange.
func Load(ctx context.Context, c Config) ([3]float64, error) {
	var zero [3]float64
	addr, err := c.check()
	if err != nil {
		return zero, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return zero, fmt.Errorf("ssh %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Cancellation unblocks the handshake and reads, here and in the
	// client's own goroutines, which end when the connection does.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	cfg := &ssh.ClientConfig{
		User:            c.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(c.Signer)},
		HostKeyCallback: c.pinning(addr),
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return zero, hk
		}
		return zero, fmt.Errorf("ssh %s as %s: %w", addr, c.User, netctx.Err(ctx, err))
	}
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	out, err := run(client)
	if err != nil {
		return zero, fmt.Errorf("ssh %s as %s: %q: %w", addr, c.User, Command, netctx.Err(ctx, err))
	}
	loads, err := ParseLoadavg(out)
	if err != nil {
		return zero, fmt.Errorf("ssh %s as %s: %w", addr, c.User, err)
	}
	return loads, nil
}

// check says everything missing from c at once, and returns the address
// with its port.
func (c Config) check() (string, error) {
	var errs []error
	addr := c.Addr
	if addr == "" {
		errs = append(errs, errors.New("the server's address (Addr) is missing"))
	} else if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "22")
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("the server's address (Addr) %q is not host or host:port", c.Addr))
		}
	}
	if c.User == "" {
		errs = append(errs, errors.New("the user to log in as (User) is missing"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("the private key (Signer) is missing"))
	}
	if c.Keys == nil {
		errs = append(errs, errors.New("the host key pins (Keys) are missing"))
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("sshload: %w", err)
	}
	return addr, nil
}

// pinning is the host key check: trust on first use, then the pin only.
func (c Config) pinning(host string) ssh.HostKeyCallback {
	return func(_ string, _ net.Addr, key ssh.PublicKey) error {
		offered := ssh.FingerprintSHA256(key)
		pinned, ok := c.Keys.Pinned(host)
		if !ok {
			if err := c.Keys.Pin(host, offered); err != nil {
				return fmt.Errorf("pinning %s's host key %s: %w", host, offered, err)
			}
			return nil
		}
		if pinned != offered {
			return &HostKeyError{Host: host, Pinned: pinned, Offered: offered}
		}
		return nil
	}
}

// run runs Command in a session of its own and returns its output.
func run(client *ssh.Client) ([]byte, error) {
	s, err := client.NewSession()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	stdout, err := s.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.Start(Command); err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(stdout, MaxOutput+1))
	if err != nil {
		return nil, fmt.Errorf("reading its output: %w", err)
	}
	if len(out) > MaxOutput {
		return nil, fmt.Errorf("its output is longer than %d bytes", MaxOutput)
	}
	if err := s.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseLoadavg reads /proc/loadavg's line: three load averages, then the
// runnable and total scheduling entities and the last PID.
func ParseLoadavg(b []byte) ([3]float64, error) {
	var loads [3]float64
	s := strings.TrimSuffix(string(b), "\n")
	bad := func(why string) ([3]float64, error) {
		shown := s
		if len(shown) > 80 {
			shown = shown[:80] + "..."
		}
		return [3]float64{}, fmt.Errorf("the output %q is not /proc/loadavg's line (\"0.52 0.58 0.59 2/345 6789\"): %s", shown, why)
	}
	f := strings.Split(s, " ")
	if len(f) != 5 {
		return bad(fmt.Sprintf("%d fields, want 5", len(f)))
	}
	for i := range 3 {
		// ParseFloat would take "NaN", "Inf" and hexadecimal: the kernel
		// writes digits and a point only.
		if f[i] == "" || strings.Trim(f[i], "0123456789.") != "" {
			return bad(fmt.Sprintf("load average %d, %q, is not a decimal number", i+1, f[i]))
		}
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil || math.IsInf(v, 0) {
			return bad(fmt.Sprintf("load average %d, %q, is not a decimal number", i+1, f[i]))
		}
		loads[i] = v
	}
	run, total, ok := strings.Cut(f[3], "/")
	if !ok || !digits(run) || !digits(total) {
		return bad(fmt.Sprintf("field 4, %q, is not runnable/total", f[3]))
	}
	if !digits(f[4]) {
		return bad(fmt.Sprintf("field 5, %q, is not a PID", f[4]))
	}
	return loads, nil
}

func digits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// ReadKey reads a private key file for Config.Signer: OpenSSH's format or
// PEM (PKCS#1, PKCS#8, SEC1), ed25519, ECDSA or RSA of at least MinRSABits
// bits, without a passphrase (the monitor runs unattended). As ssh(1) does,
// it refuses a key file that its group or others may read or write.
func ReadKey(path string) (ssh.Signer, error) {
	// Looked at before it is opened: opening a FIFO waits for a writer.
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("private key %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("private key %s: not a regular file", path)
	}
	// Windows has no such mode bits: Go makes them up.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("private key %s: its mode %04o lets its group or others read or write it: chmod 600 it (ssh refuses such a key too)", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	if len(b) > MaxKeyFile {
		return nil, fmt.Errorf("private key %s: larger than %d bytes: not a key file", path, MaxKeyFile)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, fmt.Errorf("private key %s: protected by a passphrase: give a key without one (the monitor runs unattended; restrict the key on the server instead)", path)
		}
		return nil, fmt.Errorf("private key %s: not an OpenSSH or PEM private key: %v", path, err)
	}
	switch t := signer.PublicKey().Type(); t {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
	case ssh.KeyAlgoRSA:
		if ck, ok := signer.PublicKey().(ssh.CryptoPublicKey); ok {
			if rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok && rk.N.BitLen() < MinRSABits {
				return nil, fmt.Errorf("private key %s: RSA of %d bits: at least %d are needed", path, rk.N.BitLen(), MinRSABits)
			}
		}
	default:
		return nil, fmt.Errorf("private key %s: type %s: want ed25519, ECDSA or RSA", path, t)
	}
	return signer, nil
}
