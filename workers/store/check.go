package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/gomplab/gomplab/internal/boltfile"
)

// checkLocked runs boltfile.Check on the store file at path while holding
// the lock bbolt takes (shared when readOnly), so that no other process
// writes it meanwhile. The lock is released before bbolt opens the file.
func checkLocked(path string, readOnly bool, wait time.Duration) (*boltfile.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	defer f.Close()
	if err := lockFile(f, path, readOnly, wait); err != nil {
		return nil, err
	}
	rep, err := boltfile.Check(path)
	if err != nil {
		return nil, fmt.Errorf("check store %s: %w", path, err)
	}
	return rep, nil
}

// lockFile takes the flock bbolt takes on its file (shared when shared),
// waiting up to wait; it is released when f is closed.
func lockFile(f *os.File, path string, shared bool, wait time.Duration) error {
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	until := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("lock store %s: %w", path, err)
		}
		if time.Now().After(until) {
			return fmt.Errorf("open store %s: %w", path, ErrLocked)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
