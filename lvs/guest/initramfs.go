package guest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// staticVersion changes whenever the layout of the static part changes, so
// that caches built by an older harness are not reused.
const staticVersion = "lvs-guest-static-4"

// Host programs copied into the guest.
const (
	hostBusybox = "/bin/busybox"
	hostIPVSAdm = "/usr/sbin/ipvsadm"
)

// hostIP is iproute2's ip; with merged /usr it may be reached through
// /sbin, /usr/sbin or /bin.
func hostIP() string {
	for _, p := range []string{"/sbin/ip", "/usr/sbin/ip", "/bin/ip", "/usr/bin/ip"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return "/sbin/ip"
}

// Modules the guest gets, relative to lib/modules/KVER. Their dependencies
// (from modules.dep) come along. Entries missing from the kernel are
// skipped unless required.
var (
	moduleGlobs = []string{"kernel/net/netfilter/ipvs/*.ko"}
	moduleFiles = []string{
		"kernel/crypto/crc32c_generic.ko",
		"kernel/drivers/net/veth.ko",
		"kernel/drivers/net/dummy.ko",
		"kernel/net/bridge/bridge.ko",
		"kernel/net/ipv4/ipip.ko",
	}
	requiredModules = []string{
		"kernel/net/netfilter/ipvs/ip_vs.ko",
		"kernel/net/netfilter/ipvs/ip_vs_rr.ko",
		"kernel/crypto/crc32c_generic.ko",
		"kernel/drivers/net/veth.ko",
		"kernel/net/bridge/bridge.ko",
	}
	// In the archive for modprobe, not loaded at boot: they hook
	// application protocols (FTP, SIP) and so change what a service does.
	notPreloaded = []string{"ip_vs_ftp.ko", "ip_vs_pe_"}
	// crc32c_generic provides "crc32c", a soft dependency of libcrc32c that
	// modules.dep does not list: without it libcrc32c fails with unknown
	// symbols. It goes first.
	loadFirst = "kernel/crypto/crc32c_generic.ko"
	// The NIC's driver (Options.Forward): in the archive, loaded only when
	// the guest has a NIC.
	nicModules = []string{
		"kernel/drivers/virtio/virtio_pci.ko",
		"kernel/drivers/net/virtio_net.ko",
	}
	// Module parameters at boot. dummy would otherwise create dummy0 in
	// the initial namespace, which tests then trip over.
	moduleParams = map[string]string{"kernel/drivers/net/dummy.ko": "numdummies=0"}
)

// Metadata files for the guest's modprobe (busybox reads the text forms).
var moduleMeta = []string{
	"modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
	"modules.softdep", "modules.symbols", "modules.symbols.bin",
	"modules.builtin", "modules.builtin.bin", "modules.order",
}

// kernel describes a prepared kernel: see prepare.sh for the layout.
type kernel struct {
	dir     string // the cache dir holding VERSION
	version string
}

func (k kernel) root() string    { return filepath.Join(k.dir, k.version) }
func (k kernel) vmlinuz() string { return filepath.Join(k.root(), "boot", "vmlinuz-"+k.version) }
func (k kernel) modDir() string {
	return filepath.Join(k.root(), "lib", "modules", k.version)
}

// parseModulesDep reads modules.dep into module -> direct and indirect deps.
func parseModulesDep(data []byte) map[string][]string {
	deps := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
	}
	return deps
}

// loadOrder returns roots and all their dependencies, every module after
// the modules it depends on (so plain insmod works), roots in the given
// order otherwise.
func loadOrder(deps map[string][]string, roots []string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(m string, from []string) error
	visit = func(m string, from []string) error {
		switch state[m] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("module dependency cycle: %s -> %s", strings.Join(from, " -> "), m)
		}
		d, ok := deps[m]
		if !ok {
			return fmt.Errorf("module %s is not in modules.dep", m)
		}
		state[m] = 1
		for _, dep := range d {
			if err := visit(dep, append(from, m)); err != nil {
				return err
			}
		}
		state[m] = 2
		order = append(order, m)
		return nil
	}
	for _, r := range roots {
		if err := visit(r, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// modulePlan decides which modules go into the archive and which /init
// loads, in order.
func modulePlan(k kernel) (files, load, nic []string, err error) {
	depData, err := os.ReadFile(filepath.Join(k.modDir(), "modules.dep"))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w (run make guest)", err)
	}
	deps := parseModulesDep(depData)
	var want []string
	for _, g := range moduleGlobs {
		m, _ := filepath.Glob(filepath.Join(k.modDir(), g))
		sort.Strings(m)
		for _, p := range m {
			want = append(want, filepath.ToSlash(strings.TrimPrefix(p, k.modDir()+"/")))
		}
	}
	for _, f := range moduleFiles {
		if _, ok := deps[f]; ok {
			want = append(want, f)
		}
	}
	for _, r := range requiredModules {
		if _, ok := deps[r]; !ok {
			return nil, nil, nil, fmt.Errorf("kernel %s has no %s", k.version, r)
		}
	}
	for _, m := range nicModules {
		if _, ok := deps[m]; !ok {
			return nil, nil, nil, fmt.Errorf("kernel %s has no %s", k.version, m)
		}
	}
	files, err = loadOrder(deps, append(append([]string{}, want...), nicModules...))
	if err != nil {
		return nil, nil, nil, err
	}
	var preload []string
	for _, m := range want {
		skip := m == loadFirst
		for _, n := range notPreloaded {
			skip = skip || strings.HasPrefix(path.Base(m), n)
		}
		if !skip {
			preload = append(preload, m)
		}
	}
	rest, err := loadOrder(deps, preload)
	if err != nil {
		return nil, nil, nil, err
	}
	load = append([]string{loadFirst}, rest...)
	// The NIC's modules and those of their dependencies not loaded at boot
	// already.
	all, err := loadOrder(deps, nicModules)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, m := range all {
		if !slices.Contains(load, m) {
			nic = append(nic, m)
		}
	}
	return files, load, nic, nil
}

// sharedLibs lists the libraries and the dynamic loader a program needs, as
// ldd reports them (absolute paths, as the loader looks for them).
func sharedLibs(prog string) ([]string, error) {
	out, err := exec.Command("ldd", prog).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", prog, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0]) // the loader: "/lib64/ld-linux-x86-64.so.2 (0x...)"
		}
	}
	return libs, nil
}

// isStatic reports whether an ELF program has no interpreter.
func isStatic(prog string) (bool, error) {
	f, err := elf.Open(prog)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// The /init of every guest. Module list and kernel version are filled in.
// Markers are whole lines so that Run can find them in the console stream.
const initTemplate = `#!/bin/sh
# /init of an lvs/guest initramfs (generated; see lvs/guest/initramfs.go).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TMPDIR=/tmp
# The serial console is a tty: output sits in its buffer until sent, and
# poweroff -f does not wait. stty with a setting calls tcsetattr(TCSADRAIN),
# which returns only once everything written has left the UART.
drain() { stty -F /dev/console cs8 >/dev/null 2>&1; }
fail() { echo "GUEST-SETUP-FAILED: $*"; drain; poweroff -f; }
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
mount -t tmpfs tmpfs /tmp || fail "mount /tmp"
mount -t tmpfs tmpfs /run || fail "mount /run"
mount --bind /run /var/run || fail "mount /var/run"
# insmod in dependency order (computed on the host from modules.dep): it
# does not depend on busybox modprobe's handling of soft dependencies.
M=/lib/modules/%[1]s
%[2]s
/sbin/ip link set lo up || fail "ip link set lo up"
# A NIC on qemu's user network when the host asked for one (Options.Forward):
# slirp's fixed address, no DHCP.
if [ -e /etc/guest/nic ]; then
%[3]s
	/sbin/ip link set eth0 up || fail "ip link set eth0 up"
	/sbin/ip addr add %[4]s/24 dev eth0 || fail "ip addr add %[4]s"
	/sbin/ip route add default via 10.0.2.2 || fail "ip route add default"
fi
cd /root
echo "GUEST: ready"
/bin/sh /etc/guest/script.sh </dev/null
rc=$?
echo "GUEST-EXIT: $rc"
drain
poweroff -f
`

// scriptPrelude goes before Options.Script. Debian's busybox runs its own
// applets before searching PATH, so a bare "ip" would be busybox's (no
// netns); a function wins over applets.
const scriptPrelude = `# lvs/guest prelude: iproute2's ip, not busybox's applet.
ip() { /sbin/ip "$@"; }
`

var etcFiles = map[string]string{
	"/etc/passwd":        "root:x:0:0:root:/root:/bin/sh\n",
	"/etc/group":         "root:x:0:\n",
	"/etc/hosts":         "127.0.0.1 localhost\n::1 localhost\n",
	"/etc/nsswitch.conf": "hosts: files dns\n",
}

// staticPart returns the path of the gzipped cpio archive holding what does
// not change between runs (busybox, ip, ipvsadm, libraries, modules, /init),
// building it on first use. It is cached under the kernel cache, keyed by
// kernel version and a hash of its inputs.
func staticPart(k kernel) (string, error) {
	files, load, nic, err := modulePlan(k)
	if err != nil {
		return "", err
	}
	ipPath := hostIP()
	progs := []string{hostBusybox, ipPath, hostIPVSAdm}
	static, err := isStatic(hostBusybox)
	if err != nil {
		return "", fmt.Errorf("%s: %w (apt-get install busybox-static)", hostBusybox, err)
	}
	if !static {
		return "", fmt.Errorf("%s is dynamically linked: install busybox-static (make guest)", hostBusybox)
	}
	var libs []string
	for _, p := range progs[1:] {
		l, err := sharedLibs(p)
		if err != nil {
			return "", err
		}
		libs = append(libs, l...)
	}
	sort.Strings(libs)
	libs = dedup(libs)
	var insmods strings.Builder
	for _, m := range load {
		fmt.Fprintf(&insmods, "insmod $M/%s %s|| fail \"insmod %s\"\n", m, withSpace(moduleParams[m]), m)
	}
	var nicInsmods strings.Builder
	for _, m := range nic {
		fmt.Fprintf(&nicInsmods, "\tinsmod $M/%s || fail \"insmod %s\"\n", m, m)
	}
	initScript := fmt.Sprintf(initTemplate, k.version, strings.TrimSpace(insmods.String()),
		strings.TrimRight(nicInsmods.String(), "\n"), GuestAddr)

	// The key covers every input: a package upgrade on the host or a new
	// kernel gives a new archive.
	h := sha256.New()
	fmt.Fprintln(h, staticVersion, k.version, initScript)
	inputs := append(append([]string{}, progs...), libs...)
	inputs = append(inputs, filepath.Join(k.modDir(), "modules.dep"))
	for _, p := range inputs {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		fmt.Fprintln(h, p, fi.Size(), fi.ModTime().UnixNano())
	}
	for _, f := range files {
		fmt.Fprintln(h, f)
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	dir := filepath.Join(k.dir, "initramfs")
	out := filepath.Join(dir, "static-"+k.version+"-"+key+".cpio.gz")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}

	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	c := newCPIO(zw)
	// Mount points and fixed dirs. None is a symlink, so that later
	// archives (Options.Files) can add parents without replacing a link.
	for _, d := range []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/lib", "/lib64", "/proc", "/sys", "/dev", "/tmp", "/run", "/var/run", "/root", "/etc/guest", "/srv"} {
		c.mkdirAll(d)
	}
	// Without /dev/console the kernel starts /init with no stdin/stdout.
	c.charDev("/dev/console", 0o600, 5, 1)
	bb, err := os.ReadFile(hostBusybox)
	if err != nil {
		return "", err
	}
	c.file("/bin/busybox", 0o755, bb)
	applets, err := exec.Command(hostBusybox, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list: %w", err)
	}
	for _, a := range strings.Fields(string(applets)) {
		// ip is iproute2's; busybox and the init script are placed apart.
		if a == "ip" || a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		c.symlink("/bin/"+a, "busybox")
	}
	// The kernel runs /sbin/modprobe for request_module (e.g. a scheduler
	// that was not loaded); busybox's reads modules.dep.
	c.symlink("/sbin/modprobe", "../bin/busybox")
	c.symlink("/usr/bin/env", "../../bin/busybox")
	for guestPath, host := range map[string]string{"/sbin/ip": ipPath, "/sbin/ipvsadm": hostIPVSAdm} {
		data, err := os.ReadFile(host)
		if err != nil {
			return "", err
		}
		c.file(guestPath, 0o755, data)
	}
	for _, l := range libs {
		data, err := os.ReadFile(l) // follows the soname symlink
		if err != nil {
			return "", err
		}
		c.file(l, 0o755, data)
	}
	md := "/lib/modules/" + k.version
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(k.modDir(), f))
		if err != nil {
			return "", err
		}
		c.file(md+"/"+f, 0o644, data)
	}
	for _, f := range moduleMeta {
		data, err := os.ReadFile(filepath.Join(k.modDir(), f))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return "", err
		}
		c.file(md+"/"+f, 0o644, data)
	}
	for _, p := range sortedKeys(etcFiles) {
		c.file(p, 0o644, []byte(etcFiles[p]))
	}
	c.file("/init", 0o755, []byte(initScript))
	if err := c.close(); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Write then rename: parallel test binaries may build it at once.
	tmp, err := os.CreateTemp(dir, ".static-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	// Archives for other inputs (an older kernel or host package) are
	// never used again.
	old, _ := filepath.Glob(filepath.Join(dir, "static-*.cpio.gz"))
	for _, p := range old {
		if p != out {
			_ = os.Remove(p)
		}
	}
	return out, nil
}

// hiddenDirs are mounted over by /init: files placed there would vanish.
var hiddenDirs = []string{"proc", "sys", "dev", "tmp", "run", "var/run"}

// hidden reports whether n (cleanName's) is under a hidden directory.
func hidden(n string) bool {
	for _, h := range hiddenDirs {
		if n == h || strings.HasPrefix(n, h+"/") {
			return true
		}
	}
	return false
}

// dynamicPart is the per-run archive: binaries, files and the script.
func dynamicPart(o Options, level int) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, err
	}
	c := newCPIO(zw)
	for _, name := range sortedKeys(o.Binaries) {
		if name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("guest: binary name %q: want a plain file name", name)
		}
		host := o.Binaries[name]
		data, err := os.ReadFile(host)
		if err != nil {
			return nil, fmt.Errorf("guest: binary %s: %w", name, err)
		}
		if static, err := isStatic(host); err != nil || !static {
			return nil, fmt.Errorf("guest: binary %s (%s) is not a static ELF program: build it with CGO_ENABLED=0 (BuildTest does)", name, host)
		}
		c.file("/bin/"+name, 0o755, data)
	}
	var libs []string
	for _, gp := range sortedKeys(o.Programs) {
		n := cleanName(gp)
		if n == "" || n == "init" || hidden(n) {
			return nil, fmt.Errorf("guest: program %q: give a path outside /proc, /sys, /dev, /tmp and /run", gp)
		}
		data, err := os.ReadFile(o.Programs[gp])
		if err != nil {
			return nil, fmt.Errorf("guest: program %s: %w", gp, err)
		}
		l, err := sharedLibs(o.Programs[gp])
		if err != nil {
			return nil, err
		}
		libs = append(libs, l...)
		c.file(n, 0o755, data)
	}
	sort.Strings(libs)
	for _, l := range dedup(libs) {
		data, err := os.ReadFile(l) // follows the soname symlink
		if err != nil {
			return nil, err
		}
		c.file(cleanName(l), 0o755, data)
	}
	for _, p := range sortedKeys(o.Files) {
		n := cleanName(p)
		for _, h := range hiddenDirs {
			if n == h || strings.HasPrefix(n, h+"/") {
				return nil, fmt.Errorf("guest: file %s: /%s is mounted over at boot; put it elsewhere (e.g. /srv, /etc)", p, h)
			}
		}
		if n == "" || n == "init" {
			return nil, fmt.Errorf("guest: file %q is not allowed", p)
		}
		c.file(n, 0o755, o.Files[p])
	}
	if len(o.Forward) > 0 {
		c.file("/etc/guest/nic", 0o644, nil) // /init brings eth0 up
	}
	c.file("/etc/guest/script.sh", 0o755, []byte(scriptPrelude+o.Script+"\n"))
	if err := c.close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func withSpace(s string) string {
	if s == "" {
		return ""
	}
	return s + " "
}

func dedup(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
