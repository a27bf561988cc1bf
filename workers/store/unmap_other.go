//go:build !linux

package store

// dropMapped is a no-op where the resident memory of file mappings is not
// measured the way Linux does.
func (s *BoltStore) dropMapped() {}
