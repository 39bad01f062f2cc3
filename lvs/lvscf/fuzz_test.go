package lvscf

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.cf")
	more, _ := filepath.Glob("testdata/piranha/*.cf")
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		"",
		"serial_no = 0x10\r\nkeepalive = 0.25\r\ndeadtime = 1\r\n",
		"virtual v {\n address = 2001:db8::1 eth0\n vip_nmask = 64\n fwmark = 7\n server s {\n  address = 2001:db8::2\n  port = 80\n  active = 1\n }\n}\n",
		"virtual v {\n address = 192.0.2.1\n send = 'a \\' \\\\ \\x'\n expect = \"\\\"\"\n}\n",
		"nat_router = 0.0.0.0 eth1\nnat_nmask = 100\nservice = ''\n",
		"virtual v {\n address = \"192.0.2.1 eth0:1\"\n scheduler = mh\n sched_flags = port\n protocol = udp\n ops = 1\n}\n",
		"server s {\n}\n}\nvirtual {\n",
		"virtual v\n{\n address = 192.0.2.1\n port = http\n}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := Parse(bytes.NewReader([]byte(src)))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Format(&b, c); err != nil {
			t.Fatalf("Format refused what Parse accepted: %v\ninput: %q", err, src)
		}
		c2, err := Parse(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("Parse refused what Format wrote: %v\ninput: %q\nformatted:\n%s", err, src, b.String())
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the model: %s\ninput: %q\nformatted:\n%s", diff(c2, c), src, b.String())
		}
	})
}

// FuzzQuote checks that any check string Validate accepts survives export
// and import byte for byte.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{
		`GET / HTTP/1.0\r\n\r\n`, ``, `\`, `\\`, `"`, `'`, `\"`, `a\"b\\`, ` x `, `#`, `'quoted'`, "é\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !printable(s) {
			return
		}
		// A small model keeps each run cheap, so the fuzzer explores more.
		m := config.Default()
		vs := config.NewVirtual("www")
		vs.Address = netip.MustParseAddr("192.0.2.1")
		vs.Send = s
		m.Virtuals = append(m.Virtuals, vs)
		if err := m.Validate(); err != nil {
			t.Fatalf("Validate refused send %q: %v", s, err)
		}
		var b bytes.Buffer
		if err := Format(&b, m); err != nil {
			t.Fatalf("Format: %v", err)
		}
		c, err := Parse(&b)
		if err != nil {
			t.Fatalf("Parse: %v\nsend %q", err, s)
		}
		if got := c.Virtuals[0].Send; got != s {
			t.Fatalf("send %q came back as %q", s, got)
		}
	})
}
