// Package run holds the Go file of the README's `gomplab run` example.
// Its function Product runs as synchronized MPC parties, each on a worker
// of its own that holds a private vector under the tag "x": the parties
// multiply the two vectors element by element under encryption and reveal
// only the product. From the repository's root:
//
//	bin/gomplab run --load 0:x=examples/run/alice.npy --load 1:x=examples/run/bob.npy --entry Product examples/run/product.go
//
// alice.npy holds [1 2 3] and bob.npy [4 5 6]; every rank prints
// [ 4. 10. 18.].
package run

import "github.com/gomplab/gomplab/mpc"

// Product returns rank 0's x times rank 1's x, element by element,
// computed on secret shares.
func Product() (any, error) {
	a, err := mpc.Load("x", 0) // alice's vector, as shares
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("x", 1) // bob's
	if err != nil {
		return nil, err
	}
	return a.Mul(b).GetPlainText()
}
