package sshload

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// EnsureKey returns the private key in path, generating an ed25519 key
// there first if the file does not exist (mode 0600, written to a
// temporary file and renamed, so that a half-written key is never read).
// An existing file is read as ReadKey reads it, its mode checked.
func EnsureKey(path string) (ssh.Signer, error) {
	s, err := ReadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the director's SSH key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "lvsconsole load monitor")
	if err != nil {
		return nil, fmt.Errorf("generating the director's SSH key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("writing the director's SSH key: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("writing the director's SSH key: %w", err)
	}
	if _, err := tmp.Write(pem.EncodeToMemory(block)); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("writing the director's SSH key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("writing the director's SSH key: %w", err)
	}
	// Link, not rename: a key another process made meanwhile wins.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("writing the director's SSH key: %w", err)
	}
	return ReadKey(path)
}

// AuthorizedLine is the line to put in a real server's authorized_keys
// for publicKey (in authorized_keys' form, with its comment): restricted
// to the one command the monitor runs.
func AuthorizedLine(publicKey string) string {
	return `restrict,command="` + Command + `" ` + strings.TrimSpace(publicKey)
}
