//go:build unix

package conf

import (
	"path/filepath"
	"syscall"
	"testing"
)

// A configuration that names a FIFO (or a device) must fail at once, not
// block Load waiting for a writer.
func TestReadFileRefusesFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "server.crt")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := readFile(fifo); err == nil || err.Error() != "not a regular file" {
		t.Errorf("readFile(fifo) = %v, want \"not a regular file\"", err)
	}
}
