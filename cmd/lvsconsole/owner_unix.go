//go:build unix

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// becomeDBOwner makes this process, when it is root, the user that owns
// the directory of the database at path (the service's user, under
// /var/lib/lvsconsole), for good: root's command would otherwise leave
// files there (the database, its -wal and -shm) that serve cannot open,
// and would open whatever that user put there with root's rights. It
// returns whom it became, "" when it did not change (not root, the
// directory root's own or not there yet).
//
// The change is the whole process's: Go's Setuid and Setgid set every
// thread (through libc's, with cgo). Whatever the command needs root for
// (reading IPVS) it does before.
func becomeDBOwner(path string) (string, error) {
	if os.Geteuid() != 0 {
		return "", nil
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("the database's directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return "", nil
	}
	uid, gid := int(st.Uid), int(st.Gid)
	if err := syscall.Setgroups(nil); err != nil {
		return "", fmt.Errorf("becoming %s's owner (uid %d): setgroups: %w", dir, uid, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return "", fmt.Errorf("becoming %s's owner (uid %d): setgid %d: %w", dir, uid, gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return "", fmt.Errorf("becoming %s's owner: setuid %d: %w", dir, uid, err)
	}
	return fmt.Sprintf("uid %d gid %d, the owner of %s", uid, gid, dir), nil
}

// fileOwner is the uid that owns the file at path (not followed).
func fileOwner(path string) (int, bool) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), ok
}
