package lvscf

import (
	"errors"
	"strings"
	"testing"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// TestLocate: field errors found after Parse (by the store) are placed at
// the keys that set the values, as Validate's are; other errors pass.
func TestLocate(t *testing.T) {
	cf := "primary = 192.0.2.1\ninactive_cmd = /bin/x\nvirtual www {\n  address = 192.0.2.10 eth0:1\n  send_program = \"/bin/y %h\"\n}\n"
	cfg, err := Parse(strings.NewReader(cf))
	if err != nil {
		t.Fatal(err)
	}
	refused := &config.ValidationError{Fields: []*config.FieldError{
		config.Programs(cfg)[1].FieldError("bad program"),
		config.Programs(cfg)[0].FieldError("bad command"),
	}}
	var es Errors
	if !errors.As(Locate([]byte(cf), refused), &es) || len(es) != 2 {
		t.Fatalf("Locate = %v", Locate([]byte(cf), refused))
	}
	if es[0].Line != 2 || es[0].Key != "inactive_cmd" || es[0].Msg != "bad command" || es[1].Line != 5 || es[1].Col != 3 || es[1].Key != "send_program" {
		t.Errorf("placed at %v", es)
	}
	other := errors.New("not a field error")
	if Locate([]byte(cf), other) != other {
		t.Error("an error without field errors was not returned as it was")
	}
}
