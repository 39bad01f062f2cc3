package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/lvsconsole/lvsconsole/lvs/load/sshload"
)

// directorKeyFile is the file of the director's own SSH key for the uptime
// load monitor, beside the database (the load monitors make it on their
// first uptime reading that needs it).
const directorKeyFile = "load_ed25519"

// directorKey is handlers.LoadKey: the public half of the director's own
// SSH key, for the VIRTUAL SERVER tab to show the line to install.
type directorKey struct{ path string }

func (k directorKey) PublicKey() (string, error) {
	signer, err := sshload.ReadKey(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", errors.New("the director makes its key (" + k.path + ") at the first reading of an uptime monitor: look again after it")
	}
	if err != nil {
		return "", err
	}
	comment := "lvsconsole"
	if h, err := os.Hostname(); err == nil && h != "" {
		comment += "@" + h
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " " + comment, nil
}
