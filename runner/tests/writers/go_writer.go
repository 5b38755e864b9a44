// go_writer DIR [no-dir-sync]: the atomic protocol with Go's standard
// library only: os.CreateTemp in DIR, Write, Sync, Close, os.Rename to
// DIR/target, then the directory opened and Sync'ed (skipped with
// no-dir-sync, the defective twin: the rename may not survive a power loss).
// Any failure removes the temp and exits 1. Go makes raw system calls from
// its runtime, so only the seccomp backend sees this writer. Calls whose
// call site a test checks carry a "site: <name>" comment on their line.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

const content = "new content\n"

func main() {
	dir := os.Args[1]
	syncDir := len(os.Args) < 3 || os.Args[2] != "no-dir-sync"
	f, err := os.CreateTemp(dir, "target-*.tmp") // site: openat
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fail := func(err error) {
		f.Close()
		os.Remove(f.Name())
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := f.Write([]byte(content)); err != nil { // site: write
		fail(err)
	}
	if err := f.Sync(); err != nil { // site: fsync
		fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, "target")); err != nil { // site: renameat
		os.Remove(f.Name())
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if !syncDir {
		return
	}
	d, err := os.Open(dir)
	if err == nil {
		err = d.Sync() // site: fsync dir
		if cerr := d.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
