package attack

import (
	"testing"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/workers"
)

// TestNoValuesInLogs: no log record carries values (issue 11, Deliver 6),
// not even those of a job allowed to decrypt them. The data's owner runs
// jobs that put the decrypted canary into their failure (a panic, an
// error text) and their printed output: the owner receives it, as the
// job's requester may, but neither worker's access log nor daemon log
// holds it afterwards.
func TestNoValuesInLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	dw := newDataWorld(t)
	c := dw.c
	for _, tc := range []struct{ name, src, entry string }{
		{"panic", srcPanic, "Panic"},
		{"error text", srcErrorText, "ErrorText"},
		{"printed output", srcPrint, "Print"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := c.For(t)
			for _, ws := range [][]syft.Worker{dw.owners(), {c.Connect("alice", workers.OwnerUser)}} {
				m := c.Mark()
				got := NewEvidence()
				RunJob(got, ws, tc.src, tc.entry, tagA)
				if len(got.Find(dw.canary)) == 0 {
					t.Fatalf("%d parties: the owner's job did not return the canary (the job's own failure?)", len(ws))
				}
				logs := NewEvidence()
				c.collectLogs(logs, m)
				if hits := logs.Find(dw.canary); len(hits) > 0 {
					t.Errorf("%d parties: the logs hold the decrypted values:\n  %s", len(ws), joinLines(hits))
				}
			}
		})
	}
}
