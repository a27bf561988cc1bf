// Package logfile is an append-only log file that rotates by size: when a
// write would take it past its bound, the file becomes name.1 (older ones
// move to name.2 and so on, the oldest dropped) and a new one starts. A
// log that clients can make grow, such as a worker's access log, then
// takes at most (Keep+1) times the bound on disk.
package logfile

import (
	"fmt"
	"os"
	"sync"
)

// File is a rotating log file; it is safe for concurrent use.
type File struct {
	path string
	max  int64
	keep int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (appending) the log at path, rotating once it would exceed
// maxBytes and keeping keep old files (at least 1).
func Open(path string, maxBytes int64, keep int) (*File, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("logfile %s: bound of %d bytes", path, maxBytes)
	}
	l := &File{path: path, max: maxBytes, keep: max(keep, 1)}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *File) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("logfile: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("logfile: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Write appends p (one record, never split across files), rotating first
// when it would take the file past the bound.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate shifts name.i to name.i+1, name to name.1, and starts afresh.
func (l *File) rotate() error {
	l.f.Close()
	l.f = nil
	for i := l.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("logfile: rotate %s: %w", l.path, err)
	}
	return l.open()
}

// Sync flushes the file to disk.
func (l *File) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return os.ErrClosed
	}
	return l.f.Sync()
}

// Close closes the file; later writes fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
