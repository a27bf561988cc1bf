package mpc

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// adaptivePlain is the definition of adaptive pooling on plaintext.
func adaptivePlain(x *tensor.Tensor, oh, ow int, avg bool) *tensor.Tensor {
	s := x.Shape()
	out := tensor.Zeros(s[0], s[1], oh, ow)
	by, bx := adaptiveBins(s[2], oh), adaptiveBins(s[3], ow)
	for n := 0; n < s[0]; n++ {
		for c := 0; c < s[1]; c++ {
			for i, a := range by {
				for j, b := range bx {
					sum, mx, cnt := 0.0, -1e300, 0
					for y := a[0]; y < a[1]; y++ {
						for xx := b[0]; xx < b[1]; xx++ {
							v := x.At(n, c, y, xx)
							sum += v
							mx = max(mx, v)
							cnt++
						}
					}
					if avg {
						out.Set(sum/float64(cnt), n, c, i, j)
					} else {
						out.Set(mx, n, c, i, j)
					}
				}
			}
		}
	}
	return out
}

func TestPooling(t *testing.T) {
	x := tensor.RandN(71, 2, 3, 7, 6)
	row := tensor.MustNew([]float64{3, -1, 4, -1, 5, -9, 2, 6, -9, 5}, 2, 5) // ties for the minimum
	for _, n := range parties {
		run(t, n, func(p *Party) *tensor.Tensor {
			ex := p.Encrypt(x, 0)
			cases := []struct {
				name string
				got  *CrypTensor
				want *tensor.Tensor
				tol  float64
			}{
				{"avg_pool2d 2x2", ex.AvgPool2d(tensor.PoolOpts{Kernel: [2]int{2, 2}}), tensor.AvgPool2d(x, tensor.PoolOpts{Kernel: [2]int{2, 2}}), 3 * ulp},
				{"avg_pool2d padded", ex.AvgPool2d(tensor.PoolOpts{Kernel: [2]int{3, 3}, Stride: [2]int{2, 1}, Padding: [2]int{1, 1}}),
					tensor.AvgPool2d(x, tensor.PoolOpts{Kernel: [2]int{3, 3}, Stride: [2]int{2, 1}, Padding: [2]int{1, 1}}), 3 * ulp},
				{"avg_pool2d count_include_pad ceil", ex.AvgPool2d(tensor.PoolOpts{Kernel: [2]int{3, 2}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true, CountIncludePad: true}),
					tensor.AvgPool2d(x, tensor.PoolOpts{Kernel: [2]int{3, 2}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true, CountIncludePad: true}), 3 * ulp},
				{"adaptive_avg_pool2d 3x4", ex.AdaptiveAvgPool2d(3, 4), adaptivePlain(x, 3, 4, true), 3 * ulp},
				{"adaptive_avg_pool2d 1x1", ex.AdaptiveAvgPool2d(1, 1), adaptivePlain(x, 1, 1, true), 3 * ulp},
				{"adaptive_max_pool2d 3x4", ex.AdaptiveMaxPool2d(3, 4), adaptivePlain(x, 3, 4, false), ulp},
				{"adaptive_max_pool2d 7x5", ex.AdaptiveMaxPool2d(7, 5), adaptivePlain(x, 7, 5, false), ulp},
				{"argmin", p.Encrypt(row, 1).Argmin(1, false), tensor.FromSlice([]float64{1, 0}), 0},
				{"argmin keepdim dim 0", p.Encrypt(row, 1).Argmin(0, true), tensor.MustNew([]float64{1, 0, 0, 1, 0}, 1, 5), 0},
			}
			for _, c := range cases {
				assertClose(t, fmt.Sprintf("%d parties %s", n, c.name), reveal(c.got), c.want, c.tol)
			}
			return nil
		})
	}
}
