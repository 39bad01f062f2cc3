package guest

import (
	"bytes"
	"compress/gzip"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestLoadOrderPutsDependenciesFirst(t *testing.T) {
	deps := parseModulesDep([]byte(`kernel/a.ko: kernel/b.ko kernel/c.ko
kernel/b.ko: kernel/c.ko
kernel/c.ko:
kernel/d.ko: kernel/c.ko
`))
	got, err := loadOrder(deps, []string{"kernel/a.ko", "kernel/d.ko"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kernel/c.ko", "kernel/b.ko", "kernel/a.ko", "kernel/d.ko"}
	if !slices.Equal(got, want) {
		t.Fatalf("loadOrder = %q, want %q", got, want)
	}
	if _, err := loadOrder(deps, []string{"kernel/nope.ko"}); err == nil {
		t.Fatal("loadOrder of an unknown module: no error")
	}
	cyclic := parseModulesDep([]byte("x.ko: y.ko\ny.ko: x.ko\n"))
	if _, err := loadOrder(cyclic, []string{"x.ko"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("loadOrder of a cycle: err = %v", err)
	}
}

type cpioEntry struct {
	name         string
	mode         uint32
	rmaj, rmin   uint32
	data         string
	headerOffset int
}

// readCPIO parses newc archives back, checking the 4-byte alignment the
// kernel insists on.
func readCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("header at %d: %v", off, err)
		}
		return uint32(v)
	}
	for {
		if off%4 != 0 {
			t.Fatalf("header at unaligned offset %d", off)
		}
		if string(b[off:off+6]) != "070701" {
			t.Fatalf("bad magic at %d: %q", off, b[off:off+6])
		}
		e := cpioEntry{mode: field(1), rmaj: field(9), rmin: field(10), headerOffset: off}
		size, nameSize := int(field(6)), int(field(11))
		e.name = string(b[off+110 : off+110+nameSize-1])
		off += 110 + nameSize
		off += pad4(off)
		e.data = string(b[off : off+size])
		off += size
		off += pad4(off)
		if e.name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, e)
	}
}

func TestCPIOWriter(t *testing.T) {
	var buf bytes.Buffer
	c := newCPIO(&buf)
	c.file("/etc/guest/x", 0o644, []byte("hello"))
	c.symlink("/bin/sh", "busybox")
	c.charDev("/dev/console", 0o600, 5, 1)
	c.file("/etc/y", 0o755, []byte("12345678"))
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range readCPIO(t, buf.Bytes()) {
		got = append(got, e.name+" "+strconv.FormatUint(uint64(e.mode), 8)+" "+e.data)
		if e.name == "dev/console" && (e.rmaj != 5 || e.rmin != 1) {
			t.Errorf("dev/console is %d,%d, want 5,1", e.rmaj, e.rmin)
		}
	}
	want := []string{
		"etc 40755 ", "etc/guest 40755 ", "etc/guest/x 100644 hello",
		"bin 40755 ", "bin/sh 120777 busybox",
		"dev 40755 ", "dev/console 20600 ",
		"etc/y 100755 12345678",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("entries:\n%q\nwant:\n%q", got, want)
	}
}

func TestDynamicPart(t *testing.T) {
	b, err := dynamicPart(Options{Script: "exit 7", Files: map[string][]byte{"/srv/a": []byte("A")}}, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range readCPIO(t, raw) {
		files[e.name] = e.data
	}
	if files["srv/a"] != "A" || !strings.HasSuffix(files["etc/guest/script.sh"], "exit 7\n") ||
		!strings.HasPrefix(files["etc/guest/script.sh"], scriptPrelude) {
		t.Fatalf("dynamic part holds %q", files)
	}

	for _, bad := range []Options{
		{Files: map[string][]byte{"/tmp/x": nil}},     // hidden by the tmpfs mount
		{Files: map[string][]byte{"/var/run/x": nil}}, // likewise
		{Files: map[string][]byte{"/init": nil}},      // would replace /init
		{Binaries: map[string]string{"a/b": "/bin/busybox"}},
		{Binaries: map[string]string{"ipvsadm": hostIPVSAdm}}, // dynamically linked
	} {
		if _, err := dynamicPart(bad, gzip.BestSpeed); err == nil {
			t.Errorf("dynamicPart(%+v): no error", bad)
		}
	}
}

func TestConsoleLines(t *testing.T) {
	var lines []string
	c := &console{out: writerFunc(func(p []byte) { lines = append(lines, string(p)) }), exited: make(chan struct{})}
	for _, chunk := range []string{"\x1bc\x1b[?7l\x1b[2JSeaB", "IOS\r\nGUEST: ready\r\necho GUEST-EXIT: 9\r\n", "GUEST-EXIT: 3\r", "\nlast"} {
		c.Write([]byte(chunk))
	}
	c.flush()
	want := []string{"SeaBIOS\n", "GUEST: ready\n", "echo GUEST-EXIT: 9\n", "GUEST-EXIT: 3\n", "last\n"}
	if !slices.Equal(lines, want) {
		t.Fatalf("lines = %q, want %q", lines, want)
	}
	select {
	case <-c.exited:
	default:
		t.Fatal("GUEST-EXIT line not noticed")
	}
	if m := lastMatch(exitRE, c.all.Bytes()); m == nil || string(m[1]) != "3" {
		t.Fatalf("exit code match = %q, want 3", m)
	}
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// TestNICArgs: no NIC unless asked; forwards listen on the host's loopback
// only, and the guest reaches nothing through slirp.
func TestNICArgs(t *testing.T) {
	if got := strings.Join(nicArgs(nil), " "); got != "-nic none" {
		t.Errorf("without forwards: %q, want -nic none", got)
	}
	got := strings.Join(nicArgs([]PortForward{{Host: 13636, Guest: 3636}, {Host: 8080, Guest: 80}}), " ")
	want := "-netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:13636-:3636,hostfwd=tcp:127.0.0.1:8080-:80 -device virtio-net-pci,netdev=n0,romfile="
	if got != want {
		t.Errorf("with forwards:\n%s\nwant\n%s", got, want)
	}
	if _, err := Run(t.Context(), Options{Forward: []PortForward{{Host: 0, Guest: 3636}}}); err == nil || !strings.Contains(err.Error(), "give both ports") {
		t.Errorf("a forward from port 0: %v", err)
	}
}
