//go:build !linux

package comm

import "errors"

const fdLimitEnv = "GOMPLAB_COMM_TEST_FDLIMIT"

func limitFiles(string) error { return errors.New("file limits are set by the Linux tests only") }
