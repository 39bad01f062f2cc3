package keepalived

import (
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.conf")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("virtual_server 1.2.3.4 80\n{\n}\n}\n{")
	f.Add("a \"b { c\" {\n d } e\n")
	f.Fuzz(func(t *testing.T, src string) {
		// Without includes: the fuzzer must not read the machine's files.
		c, _, err := Import("fuzz.conf", []byte(src), Options{})
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Import accepted a configuration Validate refuses: %v", err)
		}
	})
}
