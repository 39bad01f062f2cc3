package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

// The usage is made from the flags the commands parse; the package comment
// must say the same, so that it cannot drift from them again.
func TestUsageInDocComment(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc []string
	for _, line := range strings.Split(string(src), "\n") {
		if l, ok := strings.CutPrefix(line, "//\tlvsconsole "); ok {
			doc = append(doc, "lvsconsole "+l)
		}
	}
	var want []string
	for _, c := range commands {
		if c.help == "" {
			continue
		}
		fs := c.flagSet(&bytes.Buffer{})
		c.setup(fs)
		want = append(want, c.synopsis(fs))
	}
	if strings.Join(doc, "\n") != strings.Join(want, "\n") {
		t.Errorf("main.go's usage comment differs from the commands' flags; it should read:\n\t%s\nnot:\n\t%s",
			strings.Join(want, "\n\t"), strings.Join(doc, "\n\t"))
	}
}

// Each command explains its flags with -h, without doing anything.
func TestCommandHelp(t *testing.T) {
	for _, c := range commands {
		if c.help == "" {
			continue
		}
		var stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr}
		err := run(t.Context(), e, []string{c.name, "-h"})
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: %v, want flag.ErrHelp", c.name, err)
		}
		if !strings.HasPrefix(stderr.String(), "usage: lvsconsole "+c.name) || !strings.Contains(stderr.String(), c.help) {
			t.Errorf("%s -h says:\n%s", c.name, stderr.String())
		}
	}
	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr}
	if err := run(t.Context(), e, []string{"export", "extra"}); err == nil || !strings.Contains(err.Error(), "export takes no arguments") {
		t.Errorf("export extra: %v", err)
	}
}
