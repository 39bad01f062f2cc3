package sshload

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A key path the admin points at a FIFO (or a device) is refused without
// being opened: opening a FIFO for reading waits for a writer, and would
// hold the reading, and its goroutine, forever.
func TestReadKeyRefusesAFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadKey(fifo); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("a FIFO: %v, want refused as not a regular file", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadKey of a FIFO still waits after 10 s: it opened it")
	}
}
