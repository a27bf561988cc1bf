package mpc

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

func TestConv1dAndTransposed(t *testing.T) {
	x1, w1, b1 := tensor.RandN(61, 2, 4, 9), tensor.RandN(62, 6, 2, 3).MulScalar(0.5), tensor.RandN(63, 6)
	o1 := tensor.Conv1dOpts{Stride: 2, Padding: 1, Dilation: 2, Groups: 2}
	x2, w2, b2 := tensor.RandN(64, 2, 4, 3, 3), tensor.RandN(65, 4, 1, 3, 2).MulScalar(0.5), tensor.RandN(66, 2)
	o2 := tensor.ConvTransposeOpts{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 0}, Groups: 2}
	x3, w3 := tensor.RandN(67, 1, 3, 6), tensor.RandN(68, 3, 2, 4).MulScalar(0.5)
	o3 := tensor.ConvTransposeOpts{Stride: [2]int{1, 3}, Padding: [2]int{0, 1}}
	for _, n := range parties {
		run(t, n, func(p *Party) *tensor.Tensor {
			cases := []struct {
				name string
				got  *CrypTensor
				want *tensor.Tensor
			}{
				{"conv1d", Conv1d(p.Encrypt(x1, 0), p.Encrypt(w1, 1), b1, o1), tensor.Conv1d(x1, w1, b1, o1)},
				{"conv1d public kernel", p.Encrypt(x1, 0).Conv1d(w1, p.Encrypt(b1, 1), o1), tensor.Conv1d(x1, w1, b1, o1)},
				{"conv_transpose2d", ConvTranspose2d(p.Encrypt(x2, 0), p.Encrypt(w2, 1), p.Encrypt(b2, 1), o2), tensor.ConvTranspose2d(x2, w2, b2, o2)},
				{"conv_transpose2d public input", ConvTranspose2d(x2, p.Encrypt(w2, 1), nil, o2), tensor.ConvTranspose2d(x2, w2, nil, o2)},
				{"conv_transpose1d", ConvTranspose1d(p.Encrypt(x3, 0), w3, nil, o3), tensor.ConvTranspose1d(x3, w3, nil, o3)},
			}
			for _, c := range cases {
				assertClose(t, fmt.Sprintf("%d parties %s", n, c.name), reveal(c.got), c.want, 2e-4)
			}
			return nil
		})
	}
}
