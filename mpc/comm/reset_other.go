//go:build !unix

package comm

func isConnReset(err error) bool { return false }
