package attack

import (
	"context"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/jobs"
	"github.com/gomplab/gomplab/workers/store"
)

const srcPrintln = `package job

import "github.com/gomplab/gomplab/mpc"

func Println(tag string) (any, error) {
	x, err := mpc.Load(tag, 0)
	if err != nil {
		return nil, err
	}
	t, err := x.GetPlainText()
	if err != nil {
		return nil, err
	}
	for _, v := range t.Data() {
		println(v)
		print(v, "\n")
	}
	return t, nil
}
`

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
		{"builtin println (standard error)", srcPrintln, "Println"},
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

const srcFill = `package job

import (
	"fmt"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

func Fill(n int, prefix string) (any, error) {
	for i := 0; i < n; i++ {
		if err := mpc.Save(fmt.Sprintf("%s-%d", prefix, i), tensor.Zeros(1)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}
`

// TestSaveQuota: mpc.Save has a per-job quota (issue 11, Deliver 6): a
// job of the attacker's, on its own worker sessions, that saves past it
// fails naming the quota; within it, the saves are stored.
func TestSaveQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	c := Shared(t)
	n := int(jobs.DefaultSaveQuota.Count)
	for _, tc := range []struct {
		saves int
		fails bool
	}{{n + 1, true}, {3, false}} {
		prefix := "att-fill-" + store.NewID()[:8]
		err := RunJob(NewEvidence(), []syft.Worker{c.Connect("alice", Attacker)}, srcFill, "Fill", tc.saves, prefix)
		stored := 0
		var free []string
		infos, lerr := c.Connect("alice", Attacker).List()
		if lerr != nil {
			t.Fatal(lerr)
		}
		for _, in := range infos {
			for _, tag := range in.Tags {
				if strings.HasPrefix(tag, prefix+"-") {
					stored++
					free = append(free, in.ID)
				}
			}
		}
		var rep workers.FreeReply
		c.Raw("alice", Attacker).Call(context.Background(), workers.MsgFree, &workers.FreeRequest{IDs: free}, &rep)
		switch {
		case tc.fails && (err == nil || !strings.Contains(err.Error(), "save quota")):
			t.Errorf("%d saves: %v, want a failure naming the save quota", tc.saves, err)
		case tc.fails && stored > n:
			t.Errorf("%d saves: %d stored, past the quota of %d", tc.saves, stored, n)
		case !tc.fails && (err != nil || stored != tc.saves):
			t.Errorf("%d saves: %d stored, %v", tc.saves, stored, err)
		}
	}
}
