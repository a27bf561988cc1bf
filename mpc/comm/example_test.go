package comm_test

import (
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
