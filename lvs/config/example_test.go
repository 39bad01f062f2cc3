package config_test

import (
	"fmt"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

func ExampleParseNetmask() {
	m, _ := config.ParseNetmask("255.255.255.0")
	fmt.Println(m.Bits(), m.Format(false), m.String())
	m, _ = config.ParseNetmask("/64")
	fmt.Println(m.Bits(), m.Format(true))
	_, err := config.ParseNetmask("255.0.255.0")
	fmt.Println(err)
	// Output:
	// 24 255.255.255.0 /24
	// 64 64
	// "255.0.255.0" is not a contiguous netmask (ones followed by zeros)
}

func ExampleSplitArgs() {
	args, _ := config.SplitArgs(`/usr/bin/check --url "/a b" 'it'\''s'`)
	fmt.Printf("%q\n", args)
	// Output:
	// ["/usr/bin/check" "--url" "/a b" "it's"]
}

func ExampleConfig_Validate() {
	c := config.Default()
	vs := config.NewVirtual("web")
	vs.Active = true
	vs.Port = 0
	c.Virtuals = append(c.Virtuals, vs)
	fmt.Println(c.Validate())
	// Output:
	// 2 invalid values: virtual web: address: 0.0.0.0 is a placeholder; an active entry needs a real address; virtual web: port: 0 is out of range: use 1-65535
}
