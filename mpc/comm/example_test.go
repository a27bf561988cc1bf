package comm_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/gomplab/gomplab/mpc/comm"
)

// Three parties open an additively shared secret: each holds a share, and
// one AllReduce (one round) gives everyone the sum mod 2^64.
func ExampleAllReduce() {
	parties := comm.NewMemWorld(3, false)
	shares := [][]uint64{{40, 1}, {1, ^uint64(0)}, {1, 5}} // secret (42, 5)
	opened := make([][]uint64, 3)
	var wg sync.WaitGroup
	for rank, c := range parties {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := append([]uint64(nil), shares[rank]...)
			if err := comm.AllReduce(c, v); err != nil {
				panic(err)
			}
			opened[rank] = v
		}()
	}
	wg.Wait()
	fmt.Println(opened[0], opened[1], opened[2])
	fmt.Printf("%+v\n", parties[0].Stats().Total())
	// Output:
	// [42 5] [42 5] [42 5]
	// {BytesSent:32 BytesReceived:32 Messages:2 Rounds:1}
}

// Two parties on loopback TCP: a LocalJob binds the rendezvous on a free
// port, each party dials with its rank, and they exchange ring tensors.
// Child processes would get the same settings through job.Prepare and
// comm.DialEnv.
func ExampleDial() {
	job, err := comm.NewLocalJob(2, false)
	if err != nil {
		panic(err)
	}
	defer job.Close()
	got := make([][]uint64, 2)
	var wg sync.WaitGroup
	for rank := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := comm.Dial(context.Background(), job.Config(rank))
			if err != nil {
				panic(err)
			}
			defer c.Close()
			out, err := comm.Exchange(c, []uint64{uint64(10 * (rank + 1))})
			if err != nil {
				panic(err)
			}
			got[rank] = out[1-rank]
		}()
	}
	wg.Wait()
	fmt.Println("rank 0 got", got[0], "rank 1 got", got[1])
	// Output:
	// rank 0 got [20] rank 1 got [10]
}
