package tensor

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/tensor/layout"
)

// Softmax returns exp(x) / sum(exp(x)) along dim, computed after
// subtracting the maximum so that large inputs do not overflow.
func Softmax(x *Tensor, dim int) *Tensor { return softmax("Softmax", x, dim, false) }

// LogSoftmax returns log(Softmax(x, dim)), computed as x - max -
// log(sum(exp(x - max))) so that it stays finite where Softmax underflows.
func LogSoftmax(x *Tensor, dim int) *Tensor { return softmax("LogSoftmax", x, dim, true) }

func softmax(op string, x *Tensor, dim int, logOut bool) *Tensor {
	d := x.normDim(op, dim)
	out := newTensor(op, x.shape)
	outer, n, inner := layout.Around(x.shape, d)
	for o := 0; o < outer; o++ {
		for j := 0; j < inner; j++ {
			base := o*n*inner + j
			m := math.Inf(-1)
			for k := 0; k < n; k++ {
				if v := x.data[base+k*inner]; v > m || v != v {
					m = v
				}
			}
			if math.IsInf(m, -1) {
				m = 0 // all -Inf: every exp is 0, and 0-0 is no NaN
			}
			s := 0.0
			for k := 0; k < n; k++ {
				e := math.Exp(x.data[base+k*inner] - m)
				out.data[base+k*inner] = e
				s += e
			}
			if logOut {
				ls := m + math.Log(s)
				for k := 0; k < n; k++ {
					out.data[base+k*inner] = x.data[base+k*inner] - ls
				}
			} else {
				for k := 0; k < n; k++ {
					out.data[base+k*inner] /= s
				}
			}
		}
	}
	return out
}

// OneHot returns a tensor of shape labels.Shape()+[n] holding 1 at the
// position of each label and 0 elsewhere. Labels must be integers in
// [0, n).
func OneHot(labels *Tensor, n int) *Tensor {
	if n < 0 {
		panic(&ShapeError{Op: "OneHot", A: labels.Shape(), Msg: fmt.Sprintf("negative class count %d", n)})
	}
	out := newTensor("OneHot", append(labels.Shape(), n))
	for i, v := range labels.data {
		c := int(v)
		if float64(c) != v || c < 0 || c >= n {
			panic(&ShapeError{Op: "OneHot", A: labels.Shape(), Msg: fmt.Sprintf("label %v at flat index %d is not an integer in [0, %d)", v, i, n)})
		}
		out.data[i*n+c] = 1
	}
	return out
}
