// Package guest boots Debian's own kernel, which has IPVS, under qemu so
// that tests can exercise a real IPVS table: the machines this project
// builds on run a kernel without IPVS.
//
// A test builds its guest-side program as a static test binary (BuildTest),
// and Run boots a throwaway VM whose initramfs holds busybox, iproute2's ip,
// ipvsadm, the IPVS modules and the given binaries, runs a shell script and
// reports its exit status. The kernel comes from `make guest`
// (lvs/guest/prepare.sh); see docs/guest-kernel.md.
//
// The guest is made of the host's own Linux programs, so it needs a Linux
// host: elsewhere Prepared and Run fail with an error that matches
// errors.ErrUnsupported.
//
// Emulation is TCG (no KVM: nested virtualisation hangs here): a boot plus a
// short test takes several seconds, so tests batch their checks into one
// boot.
//
// A guest has no NIC unless Options.Forward asks for one: then qemu's user
// network (slirp) forwards ports of the host's loopback to it, as make demo
// (lvs/guest/internal/demo) does for the console.
package guest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options describe one boot.
type Options struct {
	// Cache is where prepare.sh put the kernel: the directory holding
	// kernel/, or that kernel directory itself. Default: $LVS_GUEST_CACHE
	// (prepare.sh's kernel directory) if set, else <repo>/out/guest. The
	// initramfs's fixed part is cached beside the kernel.
	Cache string
	// Binaries maps a name in the guest's /bin to a program on the host.
	// They must be static (BuildTest and BuildStaticTest make such test
	// binaries).
	Binaries map[string]string
	// Programs maps a path in the guest to a dynamically linked program on
	// the host, copied with the libraries ldd says it needs: a peer to
	// compare against, such as keepalived.
	Programs map[string]string
	// Files are extra files by guest path (mode 0755). Not under /proc,
	// /sys, /dev, /tmp or /run, which /init mounts over.
	Files map[string][]byte
	// Script is run by /bin/sh once modules are loaded and lo is up, in
	// /root with stdin from /dev/null. Its exit status is the verdict.
	// Call iproute2 as ip (a function provided) or /sbin/ip; ipvsadm is in
	// PATH; busybox applets are everything else.
	Script string
	// Memory in MiB; default 768.
	Memory int
	// Timeout for qemu, from its start; default 3 minutes. qemu is killed
	// after it.
	Timeout time.Duration
	// Stdout receives the serial console as it comes, one whole line
	// (ending in "\n", without "\r" or terminal escapes) per Write. See
	// LogWriter.
	Stdout io.Writer
	// Forward gives the guest a NIC on qemu's user network (slirp) and
	// forwards these host ports, on the host's loopback only, to the
	// guest. The guest's eth0 is up at GuestAddr before Script starts.
	// None (the default): no NIC at all.
	Forward []PortForward
}

// PortForward forwards TCP connections to 127.0.0.1:Host on the host to
// Port on the guest's NIC address (GuestAddr).
type PortForward struct {
	Host, Guest uint16
}

// GuestAddr is the guest's address on qemu's user network: slirp's fixed
// one, so that the guest needs no DHCP client. Its gateway is 10.0.2.2.
const GuestAddr = "10.0.2.15"

// Result of a boot that reached the end of its script.
type Result struct {
	ExitCode int           // the script's exit status
	Output   []byte        // the whole console output, as passed to Stdout
	Duration time.Duration // from starting qemu to its exit
}

const (
	defaultMemory  = 768
	defaultTimeout = 3 * time.Minute
	// After GUEST-EXIT the guest powers off at once; if qemu is still
	// there after this, something hangs in shutdown and it is killed (the
	// verdict is already known).
	exitGrace = 15 * time.Second
	tailLines = 50
)

var (
	// Anchored: the script's own output may quote the marker.
	exitRE  = regexp.MustCompile(`(?m)^GUEST-EXIT: (-?[0-9]+)$`)
	setupRE = regexp.MustCompile(`(?m)^GUEST-SETUP-FAILED: .*$`)
	// SeaBIOS clears the screen and such; useless in a log.
	escapeRE = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_c])`)
)

// Run boots the guest and runs o.Script. It returns an error when the guest
// did not report an exit status (setup failed, kernel panic, timeout), with
// the last console lines; a script that fails is not an error: check
// Result.ExitCode.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Memory <= 0 {
		o.Memory = defaultMemory
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	for _, f := range o.Forward {
		if f.Host == 0 || f.Guest == 0 {
			return Result{}, fmt.Errorf("guest: forward %d to %d: give both ports (1-65535)", f.Host, f.Guest)
		}
	}
	if err := linuxHost(); err != nil {
		return Result{}, err
	}
	k, err := findKernel(o.Cache)
	if err != nil {
		return Result{}, err
	}
	if err := hostTools(); err != nil {
		return Result{}, err
	}
	static, err := staticPart(k)
	if err != nil {
		return Result{}, fmt.Errorf("guest: building the initramfs: %w", err)
	}
	// BestSpeed: the per-run part is mostly test binaries, rebuilt each
	// time; the guest decompresses either level about as fast.
	dyn, err := dynamicPart(o, gzip.BestSpeed)
	if err != nil {
		return Result{}, err
	}
	initrd, err := initrdFile(static, dyn)
	if err != nil {
		return Result{}, err
	}
	defer initrd.Close()

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	args := []string{"-accel", "tcg", "-m", strconv.Itoa(o.Memory), "-smp", "1",
		"-nographic", "-no-reboot"}
	args = append(args, nicArgs(o.Forward)...)
	args = append(args, "-kernel", k.vmlinuz(), "-initrd", "/dev/fd/3",
		"-append", "console=ttyS0 panic=-1 loglevel=3 quiet")
	cmd := exec.Command("qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	con := &console{out: o.Stdout, exited: make(chan struct{})}
	exited := con.exited
	cmd.Stdout = con
	cmd.Stderr = &stderr
	cmd.ExtraFiles = []*os.File{initrd} // fd 3
	// qemu starts no children, but never wait forever on its pipes.
	cmd.WaitDelay = 5 * time.Second
	// A test binary killed by go test's -timeout must not leave a qemu
	// spinning a core behind it.
	cmd.SysProcAttr = dieWithParent()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("guest: starting qemu: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var waitErr, why error
	var grace <-chan time.Time
wait:
	for {
		select {
		case waitErr = <-done:
			break wait
		case <-ctx.Done():
			why = fmt.Errorf("timed out (Timeout %s)", o.Timeout)
			if errors.Is(ctx.Err(), context.Canceled) {
				why = ctx.Err()
			}
			_ = cmd.Process.Kill()
			waitErr = <-done
			break wait
		case <-exited:
			exited = nil // fires once
			grace = time.After(exitGrace)
		case <-grace:
			_ = cmd.Process.Kill()
			waitErr = <-done
			break wait
		}
	}
	con.flush()
	res := Result{Output: con.all.Bytes(), Duration: time.Since(start)}
	if m := lastMatch(exitRE, res.Output); m != nil {
		res.ExitCode, _ = strconv.Atoi(string(m[1]))
		return res, nil
	}
	if why == nil {
		why = fmt.Errorf("qemu ended (%v) without a GUEST-EXIT line", waitErr)
		if m := lastMatch(setupRE, res.Output); m != nil {
			why = fmt.Errorf("guest setup failed: %s", m[0])
		}
	}
	msg := fmt.Sprintf("guest: %v after %s; last console lines:\n%s", why, res.Duration.Round(time.Millisecond), tail(res.Output, tailLines))
	if s := strings.TrimSpace(stderr.String()); s != "" {
		msg += "\nqemu stderr:\n" + s
	}
	return res, errors.New(msg)
}

// nicArgs are qemu's network arguments. Without forwards, no NIC: the
// guest's networks are namespaces and veths, and the default e1000 only
// costs emulation and SeaBIOS's PXE ROM. With them, a virtio NIC on
// slirp (no root, no host interface), without a ROM (-kernel boots).
func nicArgs(fwd []PortForward) []string {
	if len(fwd) == 0 {
		return []string{"-nic", "none"}
	}
	// restrict=on: the guest reaches nothing outside; the forwards still
	// come in.
	netdev := "user,id=n0,restrict=on"
	for _, f := range fwd {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", f.Host, f.Guest)
	}
	return []string{"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0,romfile="}
}

func lastMatch(re *regexp.Regexp, out []byte) [][]byte {
	all := re.FindAllSubmatch(out, -1)
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1]
}

func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// initrdFile writes the initramfs to an already unlinked temporary file,
// handed to qemu as /dev/fd/3: nothing is left behind even when the test
// process is killed. It is two gzipped cpio archives back to back; the
// kernel unpacks both, the second adding to the first.
func initrdFile(static string, dyn []byte) (*os.File, error) {
	head, err := os.ReadFile(static)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "lvs-guest-initrd-")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name())
	if _, err := f.Write(append(head, dyn...)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// console splits qemu's stdout into lines: it keeps them all, passes each
// whole line on, and notices the GUEST-EXIT marker.
type console struct {
	out     io.Writer
	all     bytes.Buffer
	partial []byte
	exited  chan struct{}
	once    sync.Once
}

func (c *console) Write(p []byte) (int, error) {
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
	return len(p), nil
}

func (c *console) line(l []byte) {
	l = bytes.ReplaceAll(l, []byte("\r"), nil)
	l = escapeRE.ReplaceAll(l, nil)
	l = append(l, '\n')
	c.all.Write(l)
	if c.out != nil {
		_, _ = c.out.Write(l) // a failing log writer must not stop the guest
	}
	if exitRE.Match(l) {
		c.once.Do(func() { close(c.exited) })
	}
}

// flush passes on a last line that had no newline. Called after qemu's
// output is fully read.
func (c *console) flush() {
	if len(c.partial) > 0 {
		c.line(c.partial)
		c.partial = nil
	}
}

// LogWriter adapts a Logf (testing.T's) into an Options.Stdout that logs
// each console line.
func LogWriter(logf func(format string, args ...any)) io.Writer {
	return logWriter(logf)
}

type logWriter func(format string, args ...any)

func (w logWriter) Write(p []byte) (int, error) {
	w("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// findKernel locates the prepared kernel for cache (see Options.Cache).
func findKernel(cache string) (kernel, error) {
	dir, err := kernelDir(cache)
	if err != nil {
		return kernel{}, err
	}
	v, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil {
		return kernel{}, notPrepared("no kernel in %s (%v)", dir, err)
	}
	k := kernel{dir: dir, version: strings.TrimSpace(string(v))}
	for _, f := range []string{k.vmlinuz(), filepath.Join(k.modDir(), "modules.dep")} {
		if _, err := os.Stat(f); err != nil {
			return kernel{}, notPrepared("kernel %s is incomplete: %v", k.version, err)
		}
	}
	return k, nil
}

func notPrepared(format string, args ...any) error {
	return fmt.Errorf("guest: "+format+"; run `make guest` (lvs/guest/prepare.sh) to fetch Debian's kernel and the tools", args...)
}

// kernelDir: an explicit cache is the directory holding kernel/ or the
// kernel directory itself (it has VERSION); without one, $LVS_GUEST_CACHE
// (prepare.sh's kernel directory), else <repo>/out/guest/kernel.
func kernelDir(cache string) (string, error) {
	if cache != "" {
		if _, err := os.Stat(filepath.Join(cache, "VERSION")); err == nil {
			return cache, nil
		}
		return filepath.Join(cache, "kernel"), nil
	}
	if d := os.Getenv("LVS_GUEST_CACHE"); d != "" {
		return d, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "out", "guest", "kernel"), nil
}

// repoRoot is the directory of the nearest go.mod above the working
// directory (go test runs a package's tests in its directory).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("guest: no go.mod above the working directory; set Options.Cache or LVS_GUEST_CACHE")
		}
		dir = parent
	}
}

// hostTools checks the programs the initramfs is made from.
func hostTools() error {
	var missing []string
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		missing = append(missing, "qemu-system-x86_64 (qemu-system-x86)")
	}
	if _, err := exec.LookPath("ldd"); err != nil {
		missing = append(missing, "ldd (libc-bin)")
	}
	for _, p := range []string{hostBusybox, hostIP(), hostIPVSAdm} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return notPrepared("missing on this machine: %s", strings.Join(missing, ", "))
	}
	if static, err := isStatic(hostBusybox); err == nil && !static {
		return notPrepared("%s is not static (the busybox package, not busybox-static)", hostBusybox)
	}
	return nil
}

// Prepared reports whether Run can work with this cache ("" for the
// default), saying what is missing and how to fix it.
func Prepared(cache string) error {
	if err := linuxHost(); err != nil {
		return err
	}
	if _, err := findKernel(cache); err != nil {
		return err
	}
	return hostTools()
}

// BuildTest compiles the tests of package pkg (an import path, or a path
// relative to the working directory such as "./internal/smoke") into the
// static test binary out, for the guest: `go test -c` with CGO_ENABLED=0
// and the given build tags.
func BuildTest(pkg, out string, tags ...string) error {
	return buildTest(pkg, out, false, tags)
}

// BuildStaticTest is BuildTest for packages that need cgo (the SQLite
// store): the test binary is linked statically against glibc, with the
// pure-Go resolver and user lookup, and SQLite without extension loading,
// so that it needs nothing from the guest's filesystem.
func BuildStaticTest(pkg, out string, tags ...string) error {
	return buildTest(pkg, out, true, append(tags, "netgo", "osusergo", "sqlite_omit_load_extension"))
}

// BuildStatic compiles the program pkg (a main package, e.g.
// "./cmd/lvsconsole") for the guest as BuildStaticTest compiles tests:
// with cgo, linked statically.
func BuildStatic(pkg, out string, tags ...string) error {
	return goBuild("build", pkg, out, true, append(tags, "netgo", "osusergo", "sqlite_omit_load_extension"))
}

func buildTest(pkg, out string, static bool, tags []string) error {
	return goBuild("test", pkg, out, static, tags)
}

// goBuild runs go build or go test -c for the guest.
func goBuild(verb, pkg, out string, static bool, tags []string) error {
	args := []string{verb, "-o", out}
	if verb == "test" {
		args = []string{"test", "-c", "-o", out}
	}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cgo := "CGO_ENABLED=0"
	if static {
		cgo = "CGO_ENABLED=1"
		args = append(args, "-ldflags", `-linkmode external -extldflags "-static"`)
	}
	args = append(args, pkg)
	cmd := exec.Command("go", args...)
	// The guest's CPU (qemu64 under TCG) has no SSE4/AVX: stay at amd64
	// v1 whatever the caller's GOAMD64.
	cmd.Env = append(os.Environ(), cgo, "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("guest: go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	// go test -c writes nothing for a package without test files (e.g. the
	// tag was forgotten).
	if _, err := os.Stat(out); err != nil && verb == "test" {
		return fmt.Errorf("guest: go test -c wrote no %s: does %s have test files for tags %q?", out, pkg, tags)
	}
	return nil
}
