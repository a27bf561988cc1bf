package mpc

import (
	"errors"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// FuzzDecodeChild: the line a launched party process reports its result
// on, whatever it holds, decodes into a result for that rank (its error
// set when the line is not a result, a tensor only when its shape and
// data agree); it never panics.
func FuzzDecodeChild(f *testing.F) {
	f.Add([]byte(`{"rank":1,"tensor":{"shape":[2],"data":[1,2]},"stats":{},"by_op":{},"elapsed_ns":5}`))
	f.Add([]byte(`{"rank":0,"value":{"a":[1,"x"]},"error":"boom"}`))
	f.Add([]byte(`{"tensor":{"shape":[1099511627776,0],"data":[]}}`))
	f.Add([]byte(`{"tensor":{"shape":[-1],"data":[1]}}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, line []byte) {
		res := decodeChild(3, line, errors.New("exit 1"))
		if res.Rank != 3 {
			t.Fatalf("result for rank %d", res.Rank)
		}
		if tt, ok := res.Value.(*tensor.Tensor); ok && tt != nil && tt.Size() != len(tt.Data()) {
			t.Fatalf("tensor of shape %v with %d values", tt.Shape(), len(tt.Data()))
		}
	})
}
