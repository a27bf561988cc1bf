package mpc

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

func TestShapeOps(t *testing.T) {
	a := tensor.RandN(60, 2, 3, 4)
	for _, n := range parties {
		run(t, n, func(p *Party) *tensor.Tensor {
			x := p.Encrypt(a, 0)
			check := func(name string, got *CrypTensor, want *tensor.Tensor) {
				assertClose(t, fmt.Sprintf("%d parties %s", n, name), reveal(got), want, 2*ulp)
			}
			check("permute", x.Permute(2, 0, 1), a.Permute(2, 0, 1))
			check("transpose dims", x.Transpose(0, 2), a.Permute(2, 1, 0))
			check("transpose all", x.Transpose(), a.Transpose())
			check("flatten from", x.FlattenFrom(1), a.FlattenFrom(1))
			check("unsqueeze", x.Unsqueeze(1), a.Unsqueeze(1))
			check("squeeze", x.Unsqueeze(0).Squeeze(), a)
			check("index", x.Index(1, -1), a.Index(1, -1))
			check("index select", x.IndexSelect(2, []int{3, 0, 3}), a.IndexSelect(2, []int{3, 0, 3}))
			check("slice step", x.Slice(2, 0, 4, 2), a.Slice(2, 0, 4, 2))
			parts := x.Split(1, 1, 2)
			want := a.Split(1, 1, 2)
			check("split 0", parts[0], want[0])
			check("split 1", parts[1], want[1])
			check("sum all", x.SumAll(), tensor.Scalar(a.SumAll()))
			// The division truncates: off by up to one unit per party
			// (docs/mpc.md), on top of the inputs' encoding error.
			assertClose(t, fmt.Sprintf("%d parties mean all", n), reveal(x.MeanAll()), tensor.Scalar(a.MeanAll()), float64(n+1)*ulp)
			check("argmin one-hot", x.ArgminOneHot(2), tensor.OneHot(a.Argmin(2, false), 4))
			check("clone", x.Clone(), a)
			if x.Dims() != 3 || x.Dim(-1) != 4 || x.Size() != 24 {
				t.Errorf("dims %d dim(-1) %d size %d", x.Dims(), x.Dim(-1), x.Size())
			}
			return nil
		})
	}
}

func FuzzDecodeShape(f *testing.F) {
	f.Add(encodeShape([]int{2, 3}))
	f.Add(encodeShape(nil))
	f.Add([]byte{1, 'e', 'r', 'r'})
	f.Fuzz(func(t *testing.T, b []byte) {
		shape, err := decodeShape(b)
		if err != nil {
			return
		}
		n := 1
		for _, d := range shape {
			if d < 0 {
				t.Fatalf("negative dim in %v", shape)
			}
			n *= d
		}
		if n > maxInputElements {
			t.Fatalf("shape %v exceeds the bound", shape)
		}
		if got, _ := decodeShape(encodeShape(shape)); !tensor.SameShape(got, shape) {
			t.Fatalf("re-encoding %v gives %v", shape, got)
		}
	})
}
