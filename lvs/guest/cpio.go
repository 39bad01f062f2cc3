package guest

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// cpioWriter writes the "newc" cpio format the kernel unpacks an initramfs
// from. Written here rather than by piping to cpio(1) so that archives are
// byte-for-byte reproducible (fixed mtimes, no host owners) and need no
// staging tree on disk.
type cpioWriter struct {
	w    io.Writer
	ino  uint32
	dirs map[string]bool // directories already in this archive
	err  error
}

func newCPIO(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, ino: 1, dirs: map[string]bool{"": true, ".": true}}
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
	modeChr  = 0o020000
)

// cleanName turns "/bin/sh" into "bin/sh", the form initramfs archives use.
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (c *cpioWriter) write(p []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(p)
	}
}

func pad4(n int) int { return (4 - n%4) % 4 }

func (c *cpioWriter) entry(name string, mode uint32, nlink uint32, rdevMajor, rdevMinor uint32, data []byte) {
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write(append([]byte(name), 0))
	c.write(make([]byte, pad4(len(hdr)+len(name)+1)))
	c.write(data)
	c.write(make([]byte, pad4(len(data))))
}

// mkdirAll adds name and its missing parents as directories. Re-adding a
// directory that an earlier archive of the same initramfs holds is harmless:
// the kernel ignores EEXIST for directories.
func (c *cpioWriter) mkdirAll(name string) {
	name = cleanName(name)
	if c.dirs[name] {
		return
	}
	c.mkdirAll(path.Dir(name))
	c.dirs[name] = true
	c.entry(name, modeDir|0o755, 2, 0, 0, nil)
}

func (c *cpioWriter) file(name string, perm uint32, data []byte) {
	name = cleanName(name)
	c.mkdirAll(path.Dir(name))
	c.entry(name, modeFile|perm, 1, 0, 0, data)
}

func (c *cpioWriter) symlink(name, target string) {
	name = cleanName(name)
	c.mkdirAll(path.Dir(name))
	c.entry(name, modeLink|0o777, 1, 0, 0, []byte(target))
}

func (c *cpioWriter) charDev(name string, perm, major, minor uint32) {
	name = cleanName(name)
	c.mkdirAll(path.Dir(name))
	c.entry(name, modeChr|perm, 1, major, minor, nil)
}

// close writes the trailer. Several closed archives may be concatenated
// (each gzipped on its own): the kernel unpacks them in order.
func (c *cpioWriter) close() error {
	c.entry("TRAILER!!!", 0, 1, 0, 0, nil)
	return c.err
}
