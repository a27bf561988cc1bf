package nn

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

// crypt is a value over an encrypted tensor.
type crypt struct{ c *mpc.CrypTensor }

func (c crypt) dims() []int      { return c.c.Shape() }
func (c crypt) backend() backend { return cryptBackend{} }

// NewEncrypted wraps an encrypted tensor. Like NewVariable, the result does
// not require gradients until SetRequiresGrad.
func NewEncrypted(c *mpc.CrypTensor) *Variable {
	if c == nil {
		return Errorf("NewEncrypted: nil CrypTensor")
	}
	return &Variable{val: crypt{c}}
}

// CrypTensor returns v's encrypted tensor, or nil when v is plaintext.
func (v *Variable) CrypTensor() *mpc.CrypTensor {
	if c, ok := v.val.(crypt); ok {
		return c.c
	}
	return nil
}

// Encrypt returns v secret-shared from party src (v itself if already
// encrypted). Every party must call it with a Variable of the same shape;
// only src's values matter. The result has no history.
func (v *Variable) Encrypt(p *mpc.Party, src int) *Variable {
	if v.err != nil {
		return v
	}
	if v.Encrypted() {
		return v
	}
	var out *Variable
	if err := guard("Encrypt", func() { out = NewEncrypted(p.Encrypt(v.Tensor(), src)) }); err != nil {
		return &Variable{err: err}
	}
	return out
}

// PlainText returns v's value: the tensor itself when plaintext, or the
// decryption revealed to every party (one round; every party must call it).
func (v *Variable) PlainText() (*tensor.Tensor, error) {
	if v.err != nil {
		return nil, v.err
	}
	if t := v.Tensor(); t != nil {
		return t, nil
	}
	var t *tensor.Tensor
	err := guard("PlainText", func() {
		var e error
		if t, e = v.CrypTensor().GetPlainText(); e != nil {
			panic(opError{e})
		}
	})
	return t, err
}

// LoadEncrypted secret-shares the tensor that party src holds under tag in
// its store (mpc.Party.Load): src reads it, the others learn only its
// shape. This is how party code run on workers reaches their tagged data.
func LoadEncrypted(p *mpc.Party, tag string, src int) (*Variable, error) {
	if p == nil {
		return nil, fmt.Errorf("nn: LoadEncrypted: nil party")
	}
	var c *mpc.CrypTensor
	err := guard("LoadEncrypted", func() {
		var e error
		if c, e = p.Load(tag, src); e != nil {
			panic(opError{e})
		}
	})
	if err != nil {
		return nil, err
	}
	return NewEncrypted(c), nil
}

// PlainTextTo reveals v to party dst only (one round; every party must
// call it): dst gets the tensor and the others nil. A plaintext v is
// returned as is on every party.
func (v *Variable) PlainTextTo(dst int) (*tensor.Tensor, error) {
	if v.err != nil {
		return nil, v.err
	}
	if t := v.Tensor(); t != nil {
		return t, nil
	}
	var t *tensor.Tensor
	err := guard("PlainTextTo", func() {
		var e error
		if t, e = v.CrypTensor().GetPlainTextTo(dst); e != nil {
			panic(opError{e})
		}
	})
	return t, err
}

// cryptBackend computes on CrypTensors. Binary operations take any mix of
// plaintext and encrypted operands (the mpc package treats plaintext ones as
// public); unary operations handed a plaintext value delegate to the
// plaintext backend, since backward formulas pick a backend for several
// values at once.
type cryptBackend struct{}

// operand unwraps a value for the mpc package's any-typed operations.
func operand(v value) any {
	switch v := v.(type) {
	case plain:
		return v.t
	case crypt:
		return v.c
	}
	panic(fmt.Sprintf("nn: unknown value %T", v))
}

func cv(c *mpc.CrypTensor) value { return crypt{c} }

// enc returns v's CrypTensor, or nil when v is plaintext.
func enc(v value) *mpc.CrypTensor {
	if c, ok := v.(crypt); ok {
		return c.c
	}
	return nil
}

var pb = plainBackend{}

func (cryptBackend) add(a, b value) value    { return cv(mpc.Add(operand(a), operand(b))) }
func (cryptBackend) sub(a, b value) value    { return cv(mpc.Sub(operand(a), operand(b))) }
func (cryptBackend) mul(a, b value) value    { return cv(mpc.Mul(operand(a), operand(b))) }
func (cryptBackend) matmul(a, b value) value { return cv(mpc.MatMul(operand(a), operand(b))) }
func (cryptBackend) conv2d(x, w value, o tensor.ConvOpts) value {
	return cv(mpc.Conv2d(operand(x), operand(w), nil, o))
}

func (cryptBackend) neg(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Neg())
	}
	return pb.neg(a)
}

// scale multiplies by a public scalar. Encoding s in fixed point would
// round it (1/100 becomes 655/65536, 0.05% off, which turns a mean of 100
// ones into 0.99945), so integers multiply exactly and reciprocals of
// integers divide, which the mpc package does to within one unit.
func (cryptBackend) scale(a value, s float64) value {
	c := enc(a)
	if c == nil {
		return pb.scale(a, s)
	}
	if s == math.Trunc(s) && math.Abs(s) < 1<<20 {
		return cv(c.Mul(s))
	}
	if n := math.Round(1 / s); n != 0 && math.Abs(n) < 1<<30 && math.Abs(s*n-1) < 1e-12 {
		if n < 0 {
			return cv(c.Neg().Div(int(-n)))
		}
		return cv(c.Div(int(n)))
	}
	return cv(c.Mul(s))
}

func (cryptBackend) shift(a value, s float64) value {
	if c := enc(a); c != nil {
		return cv(c.Add(s))
	}
	return pb.shift(a, s)
}

func (cryptBackend) sum(a value, d int, keep bool) value {
	if c := enc(a); c != nil {
		return cv(c.Sum(d, keep))
	}
	return pb.sum(a, d, keep)
}

func (cryptBackend) reshape(a value, shape []int) value {
	if c := enc(a); c != nil {
		return cv(c.Reshape(shape...))
	}
	return pb.reshape(a, shape)
}

func (cryptBackend) permute(a value, perm []int) value {
	if c := enc(a); c != nil {
		return cv(c.Permute(perm...))
	}
	return pb.permute(a, perm)
}

func (cryptBackend) pad(a value, widths [][2]int, fill float64) value {
	if c := enc(a); c != nil {
		return cv(c.Pad(widths, fill))
	}
	return pb.pad(a, widths, fill)
}

func (cryptBackend) slice(a value, dim, start, stop, step int) value {
	c := enc(a)
	if c == nil {
		return pb.slice(a, dim, start, stop, step)
	}
	if step > 0 {
		return cv(c.Slice(dim, start, stop, step))
	}
	d := normDim(dim, a)
	first, count := sliceRange(c.Dim(d), start, stop, step)
	idx := make([]int, count)
	for i := range idx {
		idx[i] = first + i*step
	}
	return cv(c.IndexSelect(d, idx))
}

func (cryptBackend) flip(a value, dim int) value {
	c := enc(a)
	if c == nil {
		return pb.flip(a, dim)
	}
	n := c.Dim(dim)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = n - 1 - i
	}
	return cv(c.IndexSelect(dim, idx))
}

func (cryptBackend) concat(dim int, vs []value) value {
	var p *mpc.Party
	for _, v := range vs {
		if c := enc(v); c != nil {
			p = c.Party()
			break
		}
	}
	cs := make([]*mpc.CrypTensor, len(vs))
	for i, v := range vs {
		if cs[i] = enc(v); cs[i] == nil { // a public part: zero shares plus the public value
			t := v.(plain).t
			cs[i] = p.Zeros(t.Shape()...).Add(t)
		}
	}
	return cv(mpc.Concat(dim, cs...))
}

func (cryptBackend) expand(a value, shape []int) value {
	if c := enc(a); c != nil {
		return cv(c.Expand(shape...))
	}
	return pb.expand(a, shape)
}

func (cryptBackend) relu(a value, mask bool) (value, value) {
	c := enc(a)
	if c == nil {
		return pb.relu(a, mask)
	}
	if !mask {
		return cv(c.Relu()), nil
	}
	m := c.Gt(0.0)
	return cv(c.Mul(m)), cv(m)
}

func (cryptBackend) sign(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Sign())
	}
	return pb.sign(a)
}

func (cryptBackend) argmaxOneHot(a value, dim int) value {
	if c := enc(a); c != nil {
		return cv(c.ArgmaxOneHot(dim))
	}
	return pb.argmaxOneHot(a, dim)
}

func (cryptBackend) max(a value, dim int, keep bool) value {
	if c := enc(a); c != nil {
		return cv(c.Max(dim, keep))
	}
	return pb.max(a, dim, keep)
}

func (cryptBackend) take(a value, idx []int, shape []int) value {
	c := enc(a)
	if c == nil {
		return pb.take(a, idx, shape)
	}
	return cv(c.Take(flatIndex(idx)).Reshape(shape...))
}

func (cryptBackend) put(g value, idx []int, shape []int) value {
	c := enc(g)
	if c == nil {
		return pb.put(g, idx, shape)
	}
	z := c.Party().Zeros(tensor.Numel(shape))
	return cv(z.ScatterAdd(0, flatIndex(idx), c.Reshape(-1)).Reshape(shape...))
}

func (cryptBackend) compare(a, b value, op string) value {
	switch op {
	case "eq":
		return cv(mpc.Eq(operand(a), operand(b)))
	case "gt":
		return cv(mpc.Gt(operand(a), operand(b)))
	}
	return cv(mpc.Lt(operand(a), operand(b)))
}

// flatIndex returns indices as the 1-D tensor the mpc package takes.
func flatIndex(idx []int) *tensor.Tensor {
	f := make([]float64, len(idx))
	for i, j := range idx {
		f[i] = float64(j)
	}
	return tensor.FromSlice(f)
}

func (cryptBackend) clamp(a value, lo, hi float64, mask bool) (value, value) {
	c := enc(a)
	if c == nil {
		return pb.clamp(a, lo, hi, mask)
	}
	if !mask {
		return cv(c.Clamp(lo, hi)), nil
	}
	y, m := c.ClampWithMask(lo, hi)
	return cv(y), cv(m)
}

// The approximations below are the mpc package's; see its documentation
// for the input range and error of each.

func (cryptBackend) invSqrtFull(a value) value {
	if c := enc(a); c != nil {
		return cv(c.InvSqrtFull())
	}
	return pb.invSqrtFull(a)
}

func (cryptBackend) sqrtFull(a value) value {
	if c := enc(a); c != nil {
		return cv(c.SqrtFull())
	}
	return pb.sqrtFull(a)
}

func (cryptBackend) reciprocalFull(a value) value {
	if c := enc(a); c != nil {
		return cv(c.ReciprocalFull())
	}
	return pb.reciprocalFull(a)
}

func (cryptBackend) erf(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Erf())
	}
	return pb.erf(a)
}

func (cryptBackend) gaussian(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Gaussian())
	}
	return pb.gaussian(a)
}

func (cryptBackend) sigmoid(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Sigmoid())
	}
	return pb.sigmoid(a)
}

// logSigmoid computes log(sigmoid(x)) as min(x, 0) - log(1 + e^-|x|), so
// the logarithm's argument stays in [1, 2] however negative x is (the log of
// a small sigmoid output would lose all precision in fixed point), and
// sigmoid(x) from the same e^-|x|: r = 1/(1 + e^-|x|) by two Newton steps
// from a linear estimate on [1, 2] (as the mpc package's Sigmoid does),
// reflected to 1 - r for negative x.
func (cryptBackend) logSigmoid(a value, sig bool) (value, value) {
	c := enc(a)
	if c == nil {
		return pb.logSigmoid(a, sig)
	}
	s := c.Sign()
	abs := c.Mul(s)
	d := abs.Neg().Exp().Add(1.0) // 1 + e^-|x|, in [1, 2]
	ls := c.Sub(abs).Mul(0.5).Sub(d.Log())
	if !sig {
		return cv(ls), nil
	}
	r := d.Mul(-8.0 / 17).Add(24.0 / 17)
	for i := 0; i < 2; i++ {
		r = r.Mul(d.Mul(r).Neg().Add(2.0))
	}
	// sigmoid = r for x >= 0 (s = 1), 1 - r for x < 0 (s = -1): (1-s)/2 + s*r.
	return cv(ls), cv(s.Neg().Add(1.0).Mul(0.5).Add(s.Mul(r)))
}

func (cryptBackend) tanh(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Tanh())
	}
	return pb.tanh(a)
}

func (cryptBackend) exp(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Exp())
	}
	return pb.exp(a)
}

func (cryptBackend) log(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Log())
	}
	return pb.log(a)
}

func (cryptBackend) reciprocal(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Reciprocal())
	}
	return pb.reciprocal(a)
}

func (cryptBackend) sqrt(a value) value {
	if c := enc(a); c != nil {
		return cv(c.Sqrt())
	}
	return pb.sqrt(a)
}

func (cryptBackend) invSqrt(a value) value {
	if c := enc(a); c != nil {
		return cv(c.InvSqrt())
	}
	return pb.invSqrt(a)
}

func (cryptBackend) softmax(a value, dim int) value {
	if c := enc(a); c != nil {
		return cv(c.Softmax(dim))
	}
	return pb.softmax(a, dim)
}

func (cryptBackend) logSoftmax(a value, dim int) value {
	if c := enc(a); c != nil {
		return cv(c.LogSoftmax(dim))
	}
	return pb.logSoftmax(a, dim)
}

// poolNeg fills padded window positions so they never win a maximum; it
// is far below any activation yet well inside the fixed-point range.
const poolNeg = -(1 << 30)

// maxPool2d without gradients is the mpc package's max pool. With
// gradients it gathers each window from this party's shares (a local
// linear map), takes the one-hot argmax of every window, and keeps it: the
// output is the windows weighted by it, and the backward pass scatters the
// gradient through it back to the window positions (the adjoint map, also
// local).
func (cryptBackend) maxPool2d(x value, opt tensor.PoolOpts, grad bool) (value, func(g value) value) {
	c := enc(x)
	if c == nil {
		return pb.maxPool2d(x, opt, grad)
	}
	if !grad {
		return cv(c.MaxPool2d(opt)), nil
	}
	o := poolOpts(opt)
	sh := c.Shape()
	n, ch, h, w := sh[0], sh[1], sh[2], sh[3]
	if o.Kernel[0] <= 0 || o.Kernel[1] <= 0 || 2*o.Padding[0] > o.Kernel[0] || 2*o.Padding[1] > o.Kernel[1] {
		panic(fmt.Errorf("MaxPool2d: bad options %+v", opt))
	}
	oh := poolOutSize(h, o.Kernel[0], o.Stride[0], o.Padding[0], o.Dilation[0], o.CeilMode)
	ow := poolOutSize(w, o.Kernel[1], o.Stride[1], o.Padding[1], o.Dilation[1], o.CeilMode)
	if oh <= 0 || ow <= 0 {
		panic(fmt.Errorf("MaxPool2d: window %v larger than input %v", o.Kernel, sh))
	}
	// Pad so every window lies inside the padded planes.
	hp := max(h+o.Padding[0], (oh-1)*o.Stride[0]+o.Dilation[0]*(o.Kernel[0]-1)+1)
	wp := max(w+o.Padding[1], (ow-1)*o.Stride[1]+o.Dilation[1]*(o.Kernel[1]-1)+1)
	widths := [][2]int{{0, 0}, {0, 0}, {o.Padding[0], hp - h - o.Padding[0]}, {o.Padding[1], wp - w - o.Padding[1]}}
	xp := c.Pad(widths, poolNeg)
	k := o.Kernel[0] * o.Kernel[1]
	idx := make([]int, 0, n*ch*oh*ow*k)
	for nc := 0; nc < n*ch; nc++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for a := 0; a < o.Kernel[0]; a++ {
					for b := 0; b < o.Kernel[1]; b++ {
						iy, ix := oy*o.Stride[0]+a*o.Dilation[0], ox*o.Stride[1]+b*o.Dilation[1]
						idx = append(idx, (nc*hp+iy)*wp+ix)
					}
				}
			}
		}
	}
	p := c.Party()
	share := mpc.ShareOf(xp)
	ws := make([]uint64, len(idx))
	for i, j := range idx {
		ws[i] = share[j]
	}
	win := mpc.FromShares(p, ws, n, ch, oh, ow, k)
	onehot := win.ArgmaxOneHot(4)
	out := onehot.Mul(win).Sum(4, false)
	return cv(out), func(g value) value {
		gw := mpc.Mul(onehot, operand(pick(g).reshape(g, []int{n, ch, oh, ow, 1})))
		gs := mpc.ShareOf(gw)
		acc := make([]uint64, n*ch*hp*wp)
		for i, j := range idx {
			acc[j] += gs[i]
		}
		dx := mpc.FromShares(p, acc, n, ch, hp, wp)
		return cv(dx.Slice(2, o.Padding[0], o.Padding[0]+h, 1).Slice(3, o.Padding[1], o.Padding[1]+w, 1))
	}
}
