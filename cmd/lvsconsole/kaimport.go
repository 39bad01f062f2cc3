package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"

	"github.com/lvsconsole/lvsconsole/lvs/config"
	"github.com/lvsconsole/lvsconsole/lvs/keepalived"
	"github.com/lvsconsole/lvsconsole/lvs/lvscf"
)

// Import formats.

// importFormat is the format of an imported file: the one asked for, or
// the one its content shows.
func importFormat(asked string, data []byte) (string, error) {
	switch asked {
	case formatLvscf, formatKeepalived, formatIpvsadm:
		return asked, nil
	case "":
		switch {
		case looksIpvsadm(data):
			return formatIpvsadm, nil
		case keepalived.Looks(data):
			return formatKeepalived, nil
		}
		return formatLvscf, nil
	}
	return "", fmt.Errorf("-format: %q is not a format to import: use %s, %s or %s", asked, formatLvscf, formatKeepalived, formatIpvsadm)
}

// readImport reads data, named name, in format: the configuration, a
// function printing the warnings, and one placing the store's refusals at
// the file's lines.
func readImport(ctx context.Context, format, name string, data []byte) (*config.Config, func(io.Writer), func(error) error, error) {
	if format == formatKeepalived {
		// Includes are relative to the file; stdin's to the current
		// directory.
		path := name
		if name == "-" {
			path = "stdin"
		}
		cfg, warns, err := keepalived.Import(path, data, keepalived.Options{Include: true})
		notes := func(w io.Writer) {
			for _, wn := range warns {
				fmt.Fprintf(w, "warning: %s\n", wn)
			}
		}
		return cfg, notes, func(err error) error { return err }, err
	}
	cfg, warns, err := lvscf.Import(ctx, bytes.NewReader(data), lvscf.Options{Resolver: net.DefaultResolver})
	notes := func(w io.Writer) { printWarnings(w, name, warns) }
	return cfg, notes, func(err error) error { return lvscf.Locate(data, err) }, err
}
