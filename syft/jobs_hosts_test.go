package syft_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/workers/jobs"
)

// freePort is a TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Every form of master address works, with daemons whose parties are
// child processes as with virtual workers: empty (the address rank 0's
// worker advertises), a host, every interface, and host:port.
func TestMasterAddressForms(t *testing.T) {
	for _, gr := range []string{"virtual", "daemon-child"} {
		t.Run(gr, func(t *testing.T) {
			var g *jobGrid
			if gr == "virtual" {
				g = virtualJobGrid(t, 3)
			} else {
				g = daemonJobGrid(t, 3, true)
			}
			forms := []string{"", "127.0.0.1", "0.0.0.0", "localhost",
				"127.0.0.1:" + strconv.Itoa(freePort(t)), "0.0.0.0:" + strconv.Itoa(freePort(t)), "127.0.0.1:0"}
			for _, addr := range forms {
				t.Run(fmt.Sprintf("%q", addr), func(t *testing.T) {
					res, err := syft.RunMultiWorkers(g.ws, addr, jobProduct, tfpBeyond2(g.ws))
					checkProduct(t, g, res, err)
				})
			}
		})
	}
}

// The parties of daemons a client reached over pinned TLS are bound to
// those daemons' identities; the worker named for a rank must be the one
// that runs it. A worker given another's rank refuses to start.
func TestJobIdentities(t *testing.T) {
	g := daemonJobGrid(t, 2, true)
	res, err := syft.RunMultiWorkers(g.ws, "", jobProduct)
	checkProduct(t, g, res, err)
	// The same two daemons, one reached under the other's fingerprint,
	// cannot even be connected to: the identity a job lists is one the
	// client verified.
	_, err = syft.Connect(g.daemons[0].Addr(), syft.Options{Token: "x", Fingerprint: g.daemons[1].Fingerprint()})
	if err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Fatalf("connecting under another worker's fingerprint: %v", err)
	}
}

// A party whose advertised address nobody can reach is named, with that
// address, by the party that tried: within seconds, not after the setup
// timeout.
func TestUnreachableParty(t *testing.T) {
	g := daemonJobGrid(t, 3, true)
	// Worker 2 advertises TEST-NET-1, where nothing answers.
	g.daemons[2].Jobs().Configure(jobs.Options{Child: partyChild(t), Advertise: "192.0.2.1"})
	j := &syft.Job{Workers: g.ws, Func: syft.SourceFunc(productSrc, "product"), Timeout: time.Minute, SetupTimeout: 40 * time.Second,
		Provider: mpc.ProviderTFP}
	start := time.Now()
	res, err := j.Run(context.Background())
	took := time.Since(start)
	t.Logf("failed after %v: %v", took, err)
	if err == nil {
		t.Fatal("the job ran with an unreachable party")
	}
	e := res.Ranks[1].Err
	if e == nil || !strings.Contains(e.Error(), "party 2") || !strings.Contains(e.Error(), "192.0.2.1:") {
		t.Errorf("rank 1: %v, want an error naming party 2 and its address", e)
	}
	if took > 30*time.Second {
		t.Errorf("took %v, about the setup timeout: the unreachable party was not named promptly", took)
	}
}

// productSrc is jobProduct as source, for jobs built by hand.
const productSrc = `package main

import "github.com/gomplab/gomplab/mpc"

func product() (any, error) {
	p, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	for r := 1; r < mpc.WorldSize(); r++ {
		x, err := mpc.Load("crypten_data", r)
		if err != nil {
			return nil, err
		}
		p = p.Mul(x)
	}
	return p.GetPlainText()
}
`

// Twenty simultaneous jobs on workers that run eight parties at once all
// complete: the others wait their turn instead of being refused.
func TestJobsWaitForSlots(t *testing.T) {
	g := daemonJobGrid(t, 2, false)
	for _, d := range g.daemons {
		d.Jobs().Configure(jobs.Options{MaxJobs: 8})
	}
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := syft.RunMultiWorkers(g.ws, "", jobProduct)
			if err == nil {
				for r := range g.ws {
					if res.Tensor(r) == nil {
						err = fmt.Errorf("rank %d returned %v", r, res.Value(r))
					}
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("job %d: %v", i, err)
		}
	}
}
