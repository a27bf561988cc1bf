package nn

import (
	"fmt"
	"math"
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
// the gradient). On encrypted parameters the update takes a square root and
// a reciprocal, both approximations whose input ranges (see the mpc package)
// bound the usable Eps.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	params                             []*Variable
	m, v                               []value
	t                                  int
}

// NewAdam returns Adam over params with PyTorch's defaults: betas 0.9 and
// 0.999, eps 1e-8.
func NewAdam(params []*Variable, lr float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, params: params,
		m: make([]value, len(params)), v: make([]value, len(params))}
}

// ZeroGrad clears the gradients.
func (o *Adam) ZeroGrad() { zeroGrads(o.params) }

// Step applies one Adam update.
func (o *Adam) Step() error {
	if o.Beta1 < 0 || o.Beta1 >= 1 || o.Beta2 < 0 || o.Beta2 >= 1 {
		return fmt.Errorf("nn: Adam: betas %v, %v outside [0, 1)", o.Beta1, o.Beta2)
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
			step := pick(m, denom).mul(m, vb.reciprocal(denom))
			p.val = pick(p.val, step).sub(p.val, step.backend().scale(step, o.LR/c1))
		}
	})
}
