//go:build linux

package failover_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/internal/testenv"
	"github.com/lvsconsole/lvsconsole/internal/tlscert"
	"github.com/lvsconsole/lvsconsole/lvs/internal/netns"
)

// The pair tests run two directors, each a real `lvsconsole serve` process
// in a network namespace of its own, and a client namespace, all on one
// bridge (in a fourth namespace): what an admin's two LVS directors and a
// router on their LAN are. No IPVS is needed: these tests are about
// heartbeats, addresses, announcements and configuration sync.

const (
	primaryAddr = "10.50.0.1"
	backupAddr  = "10.50.0.2"
	clientAddr  = "10.50.0.100"
	vip         = "10.50.0.10"
)

// pairOpts are what the pair tests change in the directors' lvs.cf.
type pairOpts struct {
	serial, weight int
	preempt        bool
	deadtime       string // seconds; "" is 0.6
	monitorLinks   bool
	network        string // "" is direct
	// activeCmd and inactiveCmd replace the commands that echo the role.
	activeCmd, inactiveCmd string
}

// pairConfig is both directors' lvs.cf: keepalive 0.2 s, deadtime 0.6 s
// (the benchmark figures), one virtual server on eth0:1, and
// commands that say which role a director took.
func pairConfig(o pairOpts) string {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	if o.deadtime == "" {
		o.deadtime = "0.6"
	}
	if o.network == "" {
		o.network = "direct"
	}
	if o.serial == 0 {
		o.serial = 1
	}
	if o.weight == 0 {
		o.weight = 1
	}
	if o.activeCmd == "" {
		o.activeCmd = `"/usr/bin/echo now active"`
	}
	if o.inactiveCmd == "" {
		o.inactiveCmd = `"/usr/bin/echo now standby"`
	}
	return fmt.Sprintf(`serial_no = %d
primary = %s
service = lvs
backup_active = 1
backup = %s
heartbeat = 1
heartbeat_port = 539
keepalive = 0.2
deadtime = %s
network = %s
monitor_links = %d
preempt = %d
preempt_delay = 1
active_cmd = %s
inactive_cmd = %s
virtual web {
     active = 1
     address = %s eth0:1
     vip_nmask = 255.255.255.0
     port = 80
     scheduler = wlc
     timeout = 6
     server web1 {
         address = 10.50.0.200
         active = 1
         weight = %d
     }
}
`, o.serial, primaryAddr, backupAddr, o.deadtime, o.network, b(o.monitorLinks), b(o.preempt), o.activeCmd, o.inactiveCmd, vip, o.weight)
}

// lab is the namespaces and the directors' files.
type lab struct {
	t        testing.TB
	bin, dir string
	ns       map[string]string // role -> namespace name
	mac      map[string]string // director -> MAC of its eth0
	secret   string
}

func ipRun(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newLab builds lvsconsole and the network: namespaces sw (a bridge), a
// (primary), b (backup) and c (client), each host with an eth0 on the
// bridge.
func newLab(t testing.TB) *lab {
	testenv.NetNS(t)
	testenv.Commands(t, "nft")
	l := &lab{t: t, dir: t.TempDir(), ns: map[string]string{}, mac: map[string]string{}}
	l.bin = filepath.Join(l.dir, "lvsconsole")
	if out, err := exec.Command("go", "build", "-o", l.bin, "github.com/lvsconsole/lvsconsole/cmd/lvsconsole").CombinedOutput(); err != nil {
		t.Fatalf("building lvsconsole: %v\n%s", err, out)
	}
	id := os.Getpid() % 100000
	for _, role := range []string{"sw", "a", "b", "c"} {
		name := fmt.Sprintf("lvp%d%s", id, role)
		ipRun(t, "netns", "add", name)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		l.ns[role] = name
	}
	ipRun(t, "-n", l.ns["sw"], "link", "add", "br0", "type", "bridge")
	ipRun(t, "-n", l.ns["sw"], "link", "set", "br0", "up")
	for role, addr := range map[string]string{"a": primaryAddr, "b": backupAddr, "c": clientAddr} {
		port := "p" + role
		ipRun(t, "-n", l.ns["sw"], "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", l.ns[role])
		ipRun(t, "-n", l.ns["sw"], "link", "set", port, "master", "br0", "up")
		ipRun(t, "-n", l.ns[role], "addr", "add", addr+"/24", "dev", "eth0")
		ipRun(t, "-n", l.ns[role], "link", "set", "eth0", "up")
		ipRun(t, "-n", l.ns[role], "link", "set", "lo", "up")
		if role != "c" {
			out := ipRun(t, "-n", l.ns[role], "-o", "link", "show", "eth0")
			i := strings.Index(out, "link/ether ")
			l.mac[role] = strings.Fields(out[i+len("link/ether "):])[0]
		}
	}
	for _, role := range []string{"a", "b"} {
		// A directory each, as on two machines: the console's self-signed
		// certificate is made beside the database.
		if err := os.Mkdir(filepath.Dir(l.db(role)), 0o700); err != nil {
			t.Fatal(err)
		}
		l.cli(role, pairConfig(pairOpts{}), "import", "-db", l.db(role), "-")
		l.cli(role, "admin-password\nadmin-password\n", "passwd", "-db", l.db(role))
	}
	l.secret = strings.TrimSpace(l.cli("a", "", "secret", "-generate", "-db", l.db("a")))
	l.cli("b", l.secret+"\n", "secret", "-set", "-db", l.db("b"))
	return l
}

func (l *lab) db(role string) string { return filepath.Join(l.dir, role, "lvsconsole.db") }

// cli runs an lvsconsole command (not a server) with stdin.
func (l *lab) cli(role, stdin string, args ...string) string {
	l.t.Helper()
	cmd := exec.Command(l.bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		l.t.Fatalf("lvsconsole %s (%s): %v\n%s%s", strings.Join(args, " "), role, err, out.String(), errb.String())
	}
	return out.String()
}

// director is one running `lvsconsole serve`.
type director struct {
	role string
	cmd  *exec.Cmd
	mu   sync.Mutex
	cond *sync.Cond
	log  []logLine
	done chan struct{}
}

type logLine struct {
	at   time.Time
	text string
}

// start runs serve for role ("a" or "b") in its namespace.
func (l *lab) start(role string) *director {
	l.t.Helper()
	addr := map[string]string{"a": primaryAddr, "b": backupAddr}[role]
	cmd := exec.Command("ip", "netns", "exec", l.ns[role], l.bin, "serve", "-db", l.db(role), "-listen", addr+":3636")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	d := &director{role: role, cmd: cmd, done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.mu.Lock()
			d.log = append(d.log, logLine{time.Now(), sc.Text()})
			d.cond.Broadcast()
			d.mu.Unlock()
			if testing.Verbose() {
				fmt.Fprintf(os.Stderr, "[%s] %s\n", role, sc.Text())
			}
		}
		cmd.Wait()
		d.mu.Lock()
		close(d.done)
		d.cond.Broadcast()
		d.mu.Unlock()
	}()
	l.t.Cleanup(func() { d.kill() })
	return d
}

// kill sends SIGKILL (no goodbye, no standing down) and waits for the end.
func (d *director) kill() time.Time {
	at := time.Now()
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
	return at
}

// stop asks serve to stop, as a service manager does.
func (d *director) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	<-d.done
}

// awaitPeer polls role's serve (lvsconsole status) until its Peer line
// says what.
func (l *lab) awaitPeer(role, what string, within time.Duration) {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for {
		out := l.cli(role, "", "status", "-db", l.db(role))
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "Peer: ") && strings.Contains(line, what) {
				return
			}
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s's peer is not %q within %v; status:\n%s", role, what, within, out)
		}
		<-time.After(20 * time.Millisecond) // a poll's pace, not a wait for a state
	}
}

// mark is a position in a director's log.
func (d *director) mark() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.log)
}

// await waits for a log line after position from that contains every one
// of words, and returns when it was written.
func (d *director) await(t testing.TB, from int, timeout time.Duration, words ...string) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { d.mu.Lock(); d.cond.Broadcast(); d.mu.Unlock() })
	defer timer.Stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := from; ; {
		for ; i < len(d.log); i++ {
			if containsAll(d.log[i].text, words) {
				return d.log[i].at
			}
		}
		select {
		case <-d.done:
			t.Fatalf("director %s ended before logging %q", d.role, words)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("director %s did not log %q within %v; its log:\n%s", d.role, words, timeout, d.text(from))
		}
		d.cond.Wait()
	}
}

// text is the log from position from; d.mu is held.
func (d *director) text(from int) string {
	var b strings.Builder
	for _, l := range d.log[min(from, len(d.log)):] {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

// lines returns the log lines after from that contain every one of words.
func (d *director) lines(from int, words ...string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, l := range d.log[min(from, len(d.log)):] {
		if containsAll(l.text, words) {
			out = append(out, l.text)
		}
	}
	return out
}

// awaitVIPs waits until a and b hold the VIP as wanted, failing with what
// after 5 s. A director logs a role change before its addresses change, so
// the addresses are polled, not read at the instant of a log line.
func (l *lab) awaitVIPs(what string, onA, onB bool) {
	l.t.Helper()
	if !l.vipsWithin(5*time.Second, onA, onB) {
		l.t.Fatalf("%s: VIP on a %v, on b %v; want on a %v, on b %v", what, l.hasVIP("a"), l.hasVIP("b"), onA, onB)
	}
}

// awaitVIP waits until role holds the VIP or not, as wanted.
func (l *lab) awaitVIP(what, role string, on bool) {
	l.t.Helper()
	if !l.poll(5*time.Second, func() bool { return l.hasVIP(role) == on }) {
		l.t.Fatalf("%s: VIP on %s %v, want %v", what, role, !on, on)
	}
}

// vipsWithin reports whether a and b come to hold the VIP as wanted
// within d.
func (l *lab) vipsWithin(d time.Duration, onA, onB bool) bool {
	return l.poll(d, func() bool { return l.hasVIP("a") == onA && l.hasVIP("b") == onB })
}

// poll checks cond until it holds or d has passed.
func (l *lab) poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-time.After(10 * time.Millisecond) // a poll's pace, not a wait for a state
	}
	return true
}

// hasVIP reports whether role's eth0 holds the VIP.
func (l *lab) hasVIP(role string) bool {
	return strings.Contains(ipRun(l.t, "-n", l.ns[role], "-o", "-4", "addr", "show", "dev", "eth0"), " "+vip+"/24")
}

// neighbours follows the client's neighbour table (ip monitor), so that a
// test can await the VIP's entry moving to a MAC.
type neighbours struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	cond  *sync.Cond
	lines []logLine
}

func (l *lab) watchNeighbours() *neighbours { return l.watch("c", "neigh") }

// watch follows `ip monitor what` in role's namespace.
func (l *lab) watch(role, what string) *neighbours {
	l.t.Helper()
	cmd := exec.Command("ip", "-n", l.ns[role], "monitor", what)
	out, err := cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	n := &neighbours{cmd: cmd}
	n.cond = sync.NewCond(&n.mu)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			n.mu.Lock()
			n.lines = append(n.lines, logLine{time.Now(), sc.Text()})
			n.cond.Broadcast()
			n.mu.Unlock()
		}
	}()
	l.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return n
}

// since returns the events after from that mention word.
func (n *neighbours) since(from int, word string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, l := range n.lines[min(from, len(n.lines)):] {
		if strings.Contains(l.text, word) {
			out = append(out, l.text)
		}
	}
	return out
}

func (n *neighbours) mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.lines)
}

// await waits for an event after from saying the VIP is at mac.
func (n *neighbours) await(t testing.TB, from int, mac string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { n.mu.Lock(); n.cond.Broadcast(); n.mu.Unlock() })
	defer timer.Stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := from; ; {
		for ; i < len(n.lines); i++ {
			f := strings.Fields(n.lines[i].text)
			if len(f) > 0 && f[0] == vip && slices.Contains(f, mac) && !slices.Contains(f, "Deleted") {
				return n.lines[i].at
			}
		}
		if time.Now().After(deadline) {
			var all []string
			for _, l := range n.lines[from:] {
				all = append(all, l.text)
			}
			t.Fatalf("the client's entry for %s did not move to %s within %v; events: %q", vip, mac, timeout, all)
		}
		n.cond.Wait()
	}
}

// ping makes the client talk to the VIP, so that it has a neighbour
// entry: a TCP connect, refused by the director's kernel, is enough.
func (l *lab) ping() {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := nsDialer(l.ns["c"])(ctx, "tcp", net.JoinHostPort(vip, "9"))
	if err == nil {
		c.Close()
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		l.t.Fatalf("the client cannot reach the VIP: %v", err)
	}
}

// clientMAC returns the MAC the client's neighbour table has for the VIP.
func (l *lab) clientMAC() string {
	out := ipRun(l.t, "-n", l.ns["c"], "neigh", "show", vip)
	f := strings.Fields(out)
	for i, w := range f {
		if w == "lladdr" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return ""
}

// partition drops the heartbeat both ways in b's namespace (nftables).
func (l *lab) partition(on bool) {
	l.t.Helper()
	if !on {
		if out, err := exec.Command("ip", "netns", "exec", l.ns["b"], "nft", "delete", "table", "inet", "lvstest").CombinedOutput(); err != nil {
			l.t.Fatalf("nft delete: %v\n%s", err, out)
		}
		return
	}
	rules := `table inet lvstest {
	chain in { type filter hook input priority 0; udp dport 539 drop; }
	chain out { type filter hook output priority 0; udp dport 539 drop; }
}
`
	cmd := exec.Command("ip", "netns", "exec", l.ns["b"], "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.t.Fatalf("nft: %v\n%s", err, out)
	}
}

// edit logs in to role's console and imports cfg there, as an admin
// uploading lvs.cf on the HISTORY tab does. The consoles listen on the
// LAN, so over HTTPS, with the certificate each made for itself: the
// client takes the one in role's directory, as an admin who compared the
// fingerprint does.
func (l *lab) edit(role, cfg string) {
	l.t.Helper()
	c, base := l.console(role)
	resp, err := c.PostForm(base+"/login", url.Values{"user": {"admin"}, "password": {"admin-password"}})
	if err != nil {
		l.t.Fatal(err)
	}
	resp.Body.Close()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "lvs.cf")
	io.WriteString(fw, cfg)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err = c.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
		l.t.Fatalf("import on %s: %s\n%s", role, resp.Status, b)
	}
	// The import is a pending change, shown on REVIEW: APPLY it.
	m := regexp.MustCompile(`name="draft" value="(\d+)"`).FindSubmatch(b)
	if m == nil {
		l.t.Fatalf("import on %s: REVIEW offers no APPLY:\n%s", role, b)
	}
	resp, err = c.PostForm(base+"/review/apply", url.Values{"draft": {string(m[1])}, "rollback": {"0"}})
	if err != nil {
		l.t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("Applied as serial")) {
		l.t.Fatalf("APPLY on %s: %s\n%s", role, resp.Status, b)
	}
}

// console returns a client of role's console, from the client's
// namespace, that trusts the certificate in role's directory and follows
// redirects, and the console's URL.
func (l *lab) console(role string) (*http.Client, string) {
	l.t.Helper()
	base := "https://" + map[string]string{"a": primaryAddr, "b": backupAddr}[role] + ":3636"
	pem, err := os.ReadFile(filepath.Join(filepath.Dir(l.db(role)), "console.crt"))
	if err != nil {
		l.t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: nsDialer(l.ns["c"]), TLSClientConfig: &tls.Config{RootCAs: roots}}}, base
}

// login logs in to role's console as user and returns the answer's status
// and where it sends the browser: 303 to /control is a login.
func (l *lab) login(role, user, password string) (int, string) {
	l.t.Helper()
	c, base := l.console(role)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(base+"/login", url.Values{"user": {user}, "password": {password}})
	if err != nil {
		l.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// exported returns role's configuration as lvs.cf (read beside the
// running server: SQLite's WAL lets readers in).
func (l *lab) exported(role string) string {
	return l.cli(role, "", "export", "-db", l.db(role))
}

// replaceCert puts a new self-signed pair in role's directory, each file
// renamed into place, as a renewal does.
func (l *lab) replaceCert(role string) {
	l.t.Helper()
	dir := filepath.Dir(l.db(role))
	c, k, err := tlscert.Make(tlscert.Names{IPs: []netip.Addr{netip.MustParseAddr(map[string]string{"a": primaryAddr, "b": backupAddr}[role])}}, time.Now())
	if err != nil {
		l.t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"console.key", k}, {"console.crt", c}} {
		tmp := filepath.Join(dir, "new-"+f.name)
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			l.t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			l.t.Fatal(err)
		}
	}
}

// nsDialer dials from namespace ns: the consoles are on the lab's network.
func nsDialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := netns.Do(ns, func() (err error) {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// TestPairFailover walks a pair through what the issue asks, with
// keepalive 0.2 s and deadtime 0.6 s:
//
//   - started together, the primary is active (it holds the VIP) and the
//     backup standby;
//   - kill -9 the primary: the backup brings the VIP up and the client's
//     neighbour entry for the VIP moves to the backup's MAC;
//   - the old primary restarted stays standby;
//   - an edit on the active (the backup now) reaches the standby;
//   - the heartbeat cut both ways (nftables): both go active; restored:
//     exactly one stays active;
//   - an edit made on the new active while the other is down reaches it
//     when it comes back;
//   - with preempt on, a restarted primary takes over after the delay.
func TestPairFailover(t *testing.T) {
	l := newLab(t)
	neigh := l.watchNeighbours()
	a, b := l.start("a"), l.start("b")
	a.await(t, 0, 20*time.Second, "msg=role", "role=active")
	b.await(t, 0, 20*time.Second, "msg=role", "role=standby")
	l.awaitVIPs("after start", true, false)
	a.await(t, 0, 10*time.Second, "ran active_cmd", `stdout="now active"`)
	b.await(t, 0, 10*time.Second, "ran inactive_cmd", `stdout="now standby"`)
	l.ping()
	if got := l.clientMAC(); got != l.mac["a"] {
		t.Fatalf("the client reaches the VIP at %s, want the primary's %s", got, l.mac["a"])
	}

	// kill -9 the active.
	mb, mn := b.mark(), neigh.mark()
	killed := a.kill()
	up := b.await(t, mb, 10*time.Second, "msg=\"address up\"", vip)
	moved := neigh.await(t, mn, l.mac["b"], 10*time.Second)
	t.Logf("kill -9 of the primary: VIP up on the backup after %v, client's entry moved after %v", up.Sub(killed).Round(time.Millisecond), moved.Sub(killed).Round(time.Millisecond))
	l.awaitVIP("the backup logged the VIP up", "b", true)

	// The old primary comes back: standby, and the backup stays active.
	a = l.start("a")
	a.await(t, 0, 20*time.Second, "msg=role", "role=standby")
	l.awaitVIPs("after the primary's return", false, true)

	// An edit on the active reaches the standby within a second.
	ma := a.mark()
	edited := time.Now()
	l.edit("b", pairConfig(pairOpts{weight: 5}))
	synced := a.await(t, ma, 5*time.Second, "configuration taken from the active director")
	t.Logf("edit on the active reached the standby after %v", synced.Sub(edited).Round(time.Millisecond))
	if got := l.exported("a"); !strings.Contains(got, "weight = 5") {
		t.Errorf("the standby's configuration after sync:\n%s", got)
	}
	if d := synced.Sub(edited); d > time.Second {
		t.Errorf("the edit took %v to reach the standby, want under 1 s", d)
	}
	// Over HTTPS, pinned to the certificate b's heartbeat told.
	if got := a.lines(ma, "configuration taken from the active director", "peer=https://"+backupAddr+":3636"); len(got) == 0 {
		t.Errorf("the standby did not take the configuration over HTTPS: %q", a.lines(ma, "configuration taken"))
	}
	// A user added on the active (b) logs in on the standby (a), which
	// takes the active's users with their password hashes, without any
	// configuration change; its own audit trail, naming it, says so.
	ma = a.mark()
	l.cli("b", "carol's password\ncarol's password\n", "user", "add", "-role", "operator", "-db", l.db("b"), "carol")
	a.await(t, ma, 10*time.Second, "users and API tokens taken from the active director", "added carol as operator")
	if code, to := l.login("a", "carol", "carol's password"); code != http.StatusSeeOther || to != "/control" {
		t.Errorf("carol, added on the active, logging in on the standby: %d to %q, want 303 to /control", code, to)
	}
	if code, to := l.login("a", "carol", "not carol's password"); code == http.StatusSeeOther {
		t.Errorf("a wrong password for carol on the standby: %d to %q", code, to)
	}
	// b's certificate is replaced (renewed, or another put in its place):
	// its heartbeat tells the new pin, and the sync goes on with it.
	mb = b.mark()
	l.replaceCert("b")
	b.await(t, mb, 5*time.Second, "the console's certificate changed")
	ma = a.mark()
	l.edit("b", pairConfig(pairOpts{weight: 6}))
	a.await(t, ma, 5*time.Second, "configuration taken from the active director", "peer=https://")
	if got := l.exported("a"); !strings.Contains(got, "weight = 6") {
		t.Errorf("the standby's configuration after b's new certificate:\n%s", got)
	}
	// An import another process writes into the active's database
	// (lvsconsole import beside serve) reaches the standby too: serve
	// follows its database (store.Follow). Before, only the engine
	// noticed it, and the heartbeats kept the old serial.
	ma = a.mark()
	l.cli("b", pairConfig(pairOpts{weight: 7}), "import", "-db", l.db("b"), "-")
	a.await(t, ma, 10*time.Second, "configuration taken from the active director")
	if got := l.exported("a"); !strings.Contains(got, "weight = 7") {
		t.Errorf("the standby's configuration after an import on the active:\n%s", got)
	}

	// Cut the heartbeat both ways: both go active.
	ma = a.mark()
	l.partition(true)
	a.await(t, ma, 10*time.Second, "msg=role", "role=active")
	l.awaitVIPs("partitioned", true, true)
	// Restore it: the backup yields to the primary.
	mb = b.mark()
	healed := time.Now()
	l.partition(false)
	yielded := b.await(t, mb, 10*time.Second, "msg=role", "role=standby")
	t.Logf("heartbeat restored: one active again after %v", yielded.Sub(healed).Round(time.Millisecond))
	l.awaitVIPs("healed", true, false)
	if got := a.lines(ma, "msg=role", "role=standby"); len(got) != 0 {
		t.Errorf("the primary also stood down after the partition: %q", got)
	}

	// The standby (b) is away; an edit on the active (a) reaches it when
	// it comes back.
	b.stop()
	l.edit("a", pairConfig(pairOpts{weight: 9, preempt: true}))
	b = l.start("b")
	b.await(t, 0, 20*time.Second, "msg=role", "role=standby")
	b.await(t, 0, 10*time.Second, "configuration taken from the active director")
	if got := l.exported("b"); !strings.Contains(got, "weight = 9") {
		t.Errorf("the returning director's configuration:\n%s", got)
	}

	// Preempt is on now: kill the primary, the backup takes over; restart
	// it and after preempt_delay (1 s) it takes back over.
	mb = b.mark()
	a.kill()
	b.await(t, mb, 10*time.Second, "msg=role", "role=active")
	mb = b.mark()
	a = l.start("a")
	back := a.await(t, 0, 20*time.Second, "msg=role", "role=standby")
	took := a.await(t, 0, 20*time.Second, "msg=role", "role=active")
	b.await(t, mb, 10*time.Second, "msg=role", "role=standby")
	t.Logf("preempt: the primary took back over %v after deciding standby (preempt_delay 1 s)", took.Sub(back).Round(time.Millisecond))
	l.awaitVIPs("after preempt", true, false)

	// A restart of the active director (a crash and a quick restart)
	// does not take its VIP down: deadtime 3 s leaves the time to come
	// back before the backup would take over.
	mb = b.mark()
	l.edit("a", pairConfig(pairOpts{weight: 9, preempt: true, deadtime: "3"}))
	b.await(t, mb, 5*time.Second, "configuration taken from the active director")
	addrs := l.watch("a", "address")
	mb, mw := b.mark(), addrs.mark()
	a.kill()
	a = l.start("a")
	a.await(t, 0, 10*time.Second, "msg=role", "role=active")
	if got := addrs.since(mw, vip); len(got) != 0 {
		t.Errorf("the VIP flapped on a restart of the active director: %q", got)
	}
	if got := b.lines(mb, "msg=role", "role=active"); len(got) != 0 {
		t.Errorf("the backup took over during a quick restart of the active: %q", got)
	}
	l.awaitVIP("the restarted active director", "a", true)

	// monitor_links: the active's link goes down: it stands by and the
	// backup takes over; it does not become active while the link is down.
	mb = b.mark()
	l.edit("a", pairConfig(pairOpts{weight: 9, monitorLinks: true}))
	b.await(t, mb, 5*time.Second, "configuration taken from the active director")
	ma, mb = a.mark(), b.mark()
	ipRun(t, "-n", l.ns["a"], "link", "set", "eth0", "down")
	a.await(t, ma, 5*time.Second, "msg=role", "role=standby", "link down")
	b.await(t, mb, 5*time.Second, "msg=role", "role=active")
	// Nothing to await here: the check is that something does not happen
	// during three deadtimes of silence from the peer.
	<-time.After(3 * 600 * time.Millisecond)
	if got := a.lines(ma, "msg=role", "role=active"); len(got) > 0 {
		t.Fatalf("the director with a link down became active: %q", got)
	}
	ipRun(t, "-n", l.ns["a"], "link", "set", "eth0", "up")
	// The pair talks again once a takes b's heartbeats: they answer a's
	// challenge. Until then b's goodbye (below) would be stale to a, which
	// would wait out the dead time instead of taking over at once.
	l.awaitPeer("a", "active, last heartbeat", 5*time.Second)

	// NAT without forwarding: the director says so.
	mb = b.mark()
	if out, err := exec.Command("ip", "netns", "exec", l.ns["b"], "sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward").CombinedOutput(); err != nil {
		t.Fatalf("turning forwarding off: %v %s", err, out)
	}
	l.edit("b", pairConfig(pairOpts{weight: 9, network: "nat"}))
	b.await(t, mb, 5*time.Second, "net.ipv4.ip_forward")

	// A clean stop of the active stands it down and hands over at once
	// (pulse's goodbye), without waiting for the deadtime.
	ma, mb = a.mark(), b.mark()
	b.stop()
	a.await(t, ma, 5*time.Second, "msg=role", "role=active", "leaving")
	if !l.vipsWithin(5*time.Second, true, false) {
		b.mu.Lock()
		blog := b.text(mb)
		b.mu.Unlock()
		t.Errorf("after a clean stop of b: VIP on a %v, on b %v; want on a only; b's log from its stop:\n%s", l.hasVIP("a"), l.hasVIP("b"), blog)
	}
}

// BenchmarkFailover is the failover time: keepalive 0.2 s, deadtime
// 0.6 s, 20 kills (-9) of the active director, each followed by its
// restart (it comes back standby, so the next kill hits the other one).
// It reports, from the kill, the VIP up on the other director (its log
// line, written once the address is added) and the client's neighbour
// entry for the VIP moving to the new active's MAC (ip monitor's event):
// median and maximum. Run it with -benchtime=1x.
func BenchmarkFailover(b *testing.B) {
	const kills = 20
	l := newLab(b)
	neigh := l.watchNeighbours()
	dirs := map[string]*director{"a": l.start("a"), "b": l.start("b")}
	dirs["a"].await(b, 0, 20*time.Second, "msg=role", "role=active")
	dirs["b"].await(b, 0, 20*time.Second, "msg=role", "role=standby")
	l.ping()
	active, standby := "a", "b"
	var vipUp, moved []time.Duration
	b.ResetTimer()
	for range kills {
		ms, mn := dirs[standby].mark(), neigh.mark()
		killed := dirs[active].kill()
		up := dirs[standby].await(b, ms, 10*time.Second, "msg=\"address up\"", vip)
		at := neigh.await(b, mn, l.mac[standby], 10*time.Second)
		vipUp, moved = append(vipUp, up.Sub(killed)), append(moved, at.Sub(killed))
		dirs[active] = l.start(active)
		dirs[active].await(b, 0, 20*time.Second, "msg=role", "role=standby")
		active, standby = standby, active
	}
	b.StopTimer()
	slices.Sort(vipUp)
	slices.Sort(moved)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(vipUp[len(vipUp)/2]), "vip-up-median-ms")
	b.ReportMetric(ms(vipUp[len(vipUp)-1]), "vip-up-max-ms")
	b.ReportMetric(ms(moved[len(moved)/2]), "neigh-moved-median-ms")
	b.ReportMetric(ms(moved[len(moved)-1]), "neigh-moved-max-ms")
	b.Logf("VIP up after kill: %v", vipUp)
	b.Logf("client's entry moved after kill: %v", moved)
}
