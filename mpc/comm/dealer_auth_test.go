package comm

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A job's dealer (the trusted third party, rank Size) is authenticated
// like every party: a worker other than the one the job pins for the
// dealer's rank cannot take its place, and the real dealer still joins.
func TestDealerImpostorRefused(t *testing.T) {
	w := testWorkerCerts()
	job := newJob(t, 2, true, 5*time.Second)
	impostor := job.Config(2)
	pinned(t)(t, &impostor)
	// Worker 5 signs for the dealer's rank: the job pins it to worker 2.
	impostor.Key, impostor.Credential = credentialFor(t, w[5], impostor.JobID, 2)
	impostor.Identities = append([]string(nil), impostor.Identities...)
	impostor.Identities[2] = Fingerprint(w[5].Certificate[0])
	impostor.Timeout = 2 * time.Second
	var ierr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := Dial(context.Background(), impostor)
		if c != nil {
			c.Close()
		}
		ierr = err
	}()
	cs, errs := dialAll(t, job, []int{0, 1, 2}, func(c *Config) {
		pinned(t)(t, c)
		if c.Rank != 0 {
			time.Sleep(300 * time.Millisecond)
		}
	})
	<-done
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	if ierr == nil || !strings.Contains(ierr.Error(), "credential signed by worker") {
		t.Fatalf("the dealer's impostor: %v", ierr)
	}
	if !cs[2].(*tcpComm).world.TTP || cs[2].Rank() != 2 {
		t.Fatal("rank 2 is not the dealer")
	}
	// The dealer's link to each party works: it sends, they receive.
	runParties(t, cs, func(c Comm) error {
		if c.Rank() == 2 {
			for r := range 2 {
				if err := c.Send(r, []byte("seed")); err != nil {
					return err
				}
				if err := Flush(c, r); err != nil {
					return err
				}
			}
			return nil
		}
		m, err := c.Recv(2)
		if err == nil && string(m) != "seed" {
			t.Errorf("rank %d got %q from the dealer", c.Rank(), m)
		}
		return err
	})
}
