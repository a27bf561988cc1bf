package store

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// dropMapped drops the store file's pages from this process's page
// tables (madvise MADV_DONTNEED on bbolt's read-only shared mapping): the
// data stays in the file and the kernel's page cache, and a later read
// faults it back in. bbolt reads every value of a leaf it rewrites
// through its mapping, so without this each large object written or
// removed would stay counted in the daemon's resident memory.
func (s *BoltStore) dropMapped() {
	// Inside a read transaction bbolt cannot remap the file.
	s.db.View(func(tx *bolt.Tx) error {
		start, size := s.db.Info().Data, tx.Size()
		if start == 0 || size <= 0 {
			return nil
		}
		syscall.Syscall(syscall.SYS_MADVISE, start, uintptr(size), syscall.MADV_DONTNEED)
		return nil
	})
}
