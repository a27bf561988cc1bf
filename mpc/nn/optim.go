package nn

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/mpc"
)

// Optimizer updates parameters from their accumulated gradients.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient.
	Step() error
	// ZeroGrad clears the parameters' gradients.
	ZeroGrad()
}

// SGD is stochastic gradient descent with optional momentum, dampening,
// Nesterov momentum and L2 weight decay, following torch.optim.SGD.
// Parameters and gradients may be plaintext or encrypted; the learning rate
// and other settings are public.
type SGD struct {
	LR, Momentum, Dampening, WeightDecay float64
	Nesterov                             bool
	params                               []*Variable
	bufs                                 []value
}

// NewSGD returns an SGD optimizer over params.
func NewSGD(params []*Variable, lr, momentum, weightDecay float64) *SGD {
	return &SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay,
		params: params, bufs: make([]value, len(params))}
}

// ZeroGrad clears the gradients.
func (o *SGD) ZeroGrad() { zeroGrads(o.params) }

func zeroGrads(ps []*Variable) {
	for _, p := range ps {
		p.ZeroGrad()
	}
}

// Step updates each parameter p with gradient g:
// d = g + wd*p; buf = momentum*buf + (1-dampening)*d; p -= lr*buf
// (or lr*(d + momentum*buf) with Nesterov).
func (o *SGD) Step() error {
	return guard("SGD.Step", func() {
		for i, p := range o.params {
			g := p.grad
			if g == nil {
				continue
			}
			if o.WeightDecay != 0 {
				g = pick(g, p.val).add(g, p.val.backend().scale(p.val, o.WeightDecay))
			}
			if o.Momentum != 0 {
				if o.bufs[i] == nil {
					o.bufs[i] = g
				} else {
					b := o.bufs[i]
					o.bufs[i] = pick(b, g).add(b.backend().scale(b, o.Momentum), g.backend().scale(g, 1-o.Dampening))
				}
				if o.Nesterov {
					b := o.bufs[i]
					g = pick(g, b).add(g, b.backend().scale(b, o.Momentum))
				} else {
					g = o.bufs[i]
				}
			}
			p.val = pick(p.val, g).sub(p.val, g.backend().scale(g, o.LR))
		}
	})
}

// Adam is the Adam optimizer of torch.optim.Adam (L2 weight decay added to
// the gradient). On encrypted gradients both moments are kept at twice the
// fixed-point precision (mpc.WideTensor), where small gradients and their
// squares keep their digits, and the update m/√v is the mpc package's
// normalized quotient, valid over that whole range. An Eps below
// 2^−f/1000 (PyTorch's default 1e-8 among them) changes the update by
// less than the fixed-point error and is left out; a larger one costs a
// square root more.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	params                             []*Variable
	m, v                               []value
	wm, wv                             []*mpc.WideTensor // encrypted moments
	t                                  int
}

// NewAdam returns Adam over params with PyTorch's defaults: betas 0.9 and
// 0.999, eps 1e-8.
func NewAdam(params []*Variable, lr float64) *Adam {
	n := len(params)
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, params: params,
		m: make([]value, n), v: make([]value, n), wm: make([]*mpc.WideTensor, n), wv: make([]*mpc.WideTensor, n)}
}

// ZeroGrad clears the gradients.
func (o *Adam) ZeroGrad() { zeroGrads(o.params) }

// Step applies one Adam update.
func (o *Adam) Step() error {
	if o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 {
		return fmt.Errorf("nn: Adam: betas %v, %v outside [0, 1)", o.Beta1, o.Beta2)
	}
	if !(o.Eps >= 0) {
		return fmt.Errorf("nn: Adam: eps %v is negative", o.Eps)
	}
	o.t++
	c1 := 1 - math.Pow(o.Beta1, float64(o.t))
	c2 := 1 - math.Pow(o.Beta2, float64(o.t))
	return guard("Adam.Step", func() {
		for i, p := range o.params {
			g := p.grad
			if g == nil {
				continue
			}
			if o.WeightDecay != 0 {
				g = pick(g, p.val).add(g, p.val.backend().scale(p.val, o.WeightDecay))
			}
			var step value
			if enc(g) != nil || o.wm[i] != nil {
				step = o.wideStep(i, g, c1, c2)
			} else {
				gb := g.backend()
				g2 := gb.mul(g, g)
				if o.m[i] == nil {
					o.m[i] = gb.scale(g, 1-o.Beta1)
					o.v[i] = gb.scale(g2, 1-o.Beta2)
				} else {
					m, v := o.m[i], o.v[i]
					o.m[i] = pick(m, g).add(m.backend().scale(m, o.Beta1), gb.scale(g, 1-o.Beta1))
					o.v[i] = pick(v, g2).add(v.backend().scale(v, o.Beta2), gb.scale(g2, 1-o.Beta2))
				}
				m, v := o.m[i], o.v[i]
				vb := v.backend()
				denom := vb.shift(vb.sqrt(vb.scale(v, 1/c2)), o.Eps)
				step = pick(m, denom).mul(m, vb.reciprocal(denom))
				step = step.backend().scale(step, o.LR/c1)
			}
			p.val = pick(p.val, step).sub(p.val, step)
		}
	})
}

// decay returns beta·w + x for wide w and x. The product with beta is
// written w − (1−beta)·w: with PyTorch's betas 1−beta is the reciprocal of
// an integer, which divides exactly and keeps the (large) wide shares from
// being multiplied by an encoded constant.
func decay(w, x *mpc.WideTensor, beta float64) *mpc.WideTensor {
	return w.Sub(w.MulScalar(1 - beta)).Add(x)
}

// wideStep updates the encrypted moments of parameter i from gradient g
// and returns the step lr/c1 · m/(√(v/c2) + eps). The moments are kept
// unscaled, m' = m/(1−β1) and v' = v/(1−β2) (sums of decayed gradients and
// squares), so no factor 1−β pushes a small square below the wide unit;
// the factors join the public scale of the step.
func (o *Adam) wideStep(i int, g value, c1, c2 float64) value {
	c := enc(g)
	if c == nil { // a plaintext gradient after encrypted ones
		c = o.wm[i].Party().Zeros(g.dims()...).Add(pt(g))
	}
	p := c.Party()
	gw, g2 := c.Wide(), c.SquareWide()
	switch {
	case o.wm[i] != nil:
		o.wm[i] = decay(o.wm[i], gw, o.Beta1)
		o.wv[i] = decay(o.wv[i], g2, o.Beta2)
	case o.m[i] != nil: // plaintext moments from earlier steps
		o.wm[i] = decay(p.Zeros(g.dims()...).Add(pt(o.m[i]).MulScalar(1/(1-o.Beta1))).Wide(), gw, o.Beta1)
		o.wv[i] = decay(p.Zeros(g.dims()...).Add(pt(o.v[i]).MulScalar(1/(1-o.Beta2))).Wide(), g2, o.Beta2)
		o.m[i], o.v[i] = nil, nil
	default:
		o.wm[i], o.wv[i] = gw, g2
	}
	// m/(√(v/c2) + eps) = a·m'/(√v' + eps·√(c2/(1−β2))), a = (1−β1)·√c2/√(1−β2).
	b2 := 1 - o.Beta2
	k := o.LR / c1 * (1 - o.Beta1) * math.Sqrt(c2/b2)
	// An eps·2^f below 1/32 changes m'/(√v' + eps) by less than 3%, and
	// only where √v' is a few units of 2^−f (gradients at the fixed-point
	// noise floor): it is left out, which spares a square root.
	e := o.Eps * math.Sqrt(c2/b2)
	if e*math.Ldexp(1, int(p.Config().Precision)) < 1.0/32 {
		e = 0
	}
	r := o.wm[i].DivSqrt(o.wv[i], e)
	return cv(r.Mul(k))
}
