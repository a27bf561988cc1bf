package nn

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/tensor"
)

// Losses reduce by the mean, as PyTorch's default reduction does, and
// return a one-element Variable to call Backward on. Targets may be
// plaintext or encrypted unless stated otherwise.

func sameShape(op string, a, b *Variable) *Variable {
	if a == nil || b == nil {
		return Errorf("%s: nil operand", op)
	}
	if a.err != nil {
		return a
	}
	if b.err != nil {
		return b
	}
	if !tensor.SameShape(a.val.dims(), b.val.dims()) {
		return Errorf("%s: input shape %v and target shape %v differ", op, a.val.dims(), b.val.dims())
	}
	return nil
}

// MSELoss is the mean of (pred - target)^2.
func MSELoss(pred, target *Variable) *Variable {
	if e := sameShape("MSELoss", pred, target); e != nil {
		return e
	}
	return pred.Sub(target).Square().Mean()
}

// L1Loss is the mean of |pred - target|.
func L1Loss(pred, target *Variable) *Variable {
	if e := sameShape("L1Loss", pred, target); e != nil {
		return e
	}
	return pred.Sub(target).Abs().Mean()
}

// BCELoss is the binary cross-entropy of probabilities pred in (0, 1)
// against targets in [0, 1]: -mean(t log p + (1-t) log(1-p)).
func BCELoss(pred, target *Variable) *Variable {
	if e := sameShape("BCELoss", pred, target); e != nil {
		return e
	}
	pos := target.Mul(pred.Log())
	neg := target.Neg().AddScalar(1).Mul(pred.Neg().AddScalar(1).Log())
	return pos.Add(neg).Mean().Neg()
}

// BCEWithLogitsLoss is BCELoss of Sigmoid(logits), computed stably, with
// CrypTen's gradient (sigmoid(logits) - target) / n, which costs one sigmoid
// on encrypted values instead of differentiating through logarithms.
func BCEWithLogitsLoss(logits, target *Variable) *Variable {
	if e := sameShape("BCEWithLogitsLoss", logits, target); e != nil {
		return e
	}
	return apply("BCEWithLogitsLoss", []*Variable{logits, target}, func() (value, func(value) []value) {
		x, t := logits.val, target.val
		n := float64(tensor.Numel(x.dims()))
		xb := x.backend()
		ls, sig := xb.logSigmoid(x, logits.requiresGrad) // sigmoid for the gradient
		// -(t*ls(x) + (1-t)*ls(-x)) = (1-t)*x - ls(x)
		b := pick(x, t)
		oneMinusT := t.backend().shift(t.backend().neg(t), 1)
		l := b.sub(b.mul(oneMinusT, x), ls)
		loss := sumAll(l)
		loss = loss.backend().scale(loss, 1/n)
		return loss, func(g value) []value {
			gs := g.backend()
			var gx, gt value
			if logits.requiresGrad {
				d := pick(sig, t).sub(sig, t)
				gx = pick(d, g).mul(d, gs.expand(g, x.dims()))
				gx = gx.backend().scale(gx, 1/n)
			}
			if target.requiresGrad {
				gt = pick(x, g).mul(xb.neg(x), gs.expand(g, x.dims()))
				gt = gt.backend().scale(gt, 1/n)
			}
			return []value{gx, gt}
		}
	})
}

// sumAll sums every element into a scalar.
func sumAll(x value) value {
	b := x.backend()
	for len(x.dims()) > 0 {
		x = b.sum(x, 0, false)
	}
	return x
}

// CrossEntropyLoss is the mean over the batch of -sum(t * LogSoftmax(logits))
// for logits (N, C). The target is either (N) class indices (plaintext) or
// (N, C) class probabilities such as one-hot rows (plaintext or encrypted).
// Its gradient is (Softmax(logits) - t) / N, as CrypTen computes it.
func CrossEntropyLoss(logits, target *Variable) *Variable {
	if logits == nil || target == nil {
		return Errorf("CrossEntropyLoss: nil operand")
	}
	if logits.err != nil {
		return logits
	}
	if target.err != nil {
		return target
	}
	ls, ts := logits.val.dims(), target.val.dims()
	if len(ls) != 2 {
		return Errorf("CrossEntropyLoss: logits shape %v, want (N, C)", ls)
	}
	if len(ts) == 1 {
		onehot, err := classesToOneHot(target, ls)
		if err != nil {
			return &Variable{err: err}
		}
		target = onehot
	} else if !tensor.SameShape(ls, ts) {
		return Errorf("CrossEntropyLoss: logits shape %v, target shape %v; want (N) or (N, C)", ls, ts)
	}
	return apply("CrossEntropyLoss", []*Variable{logits, target}, func() (value, func(value) []value) {
		x, t := logits.val, target.val
		n := float64(ls[0])
		xb := x.backend()
		lsm := xb.logSoftmax(x, 1)
		b := pick(lsm, t)
		loss := sumAll(b.mul(lsm, t))
		loss = loss.backend().scale(loss, -1/n)
		return loss, func(g value) []value {
			gs := g.backend()
			var gx, gt value
			if logits.requiresGrad {
				sm := xb.softmax(x, 1)
				tsum := t.backend().sum(t, 1, true)
				d := pick(sm, t).sub(pick(sm, tsum).mul(sm, tsum), t)
				gx = pick(d, g).mul(d, gs.expand(g, ls))
				gx = gx.backend().scale(gx, 1/n)
			}
			if target.requiresGrad {
				gt = pick(lsm, g).mul(lsm, gs.expand(g, ls))
				gt = gt.backend().scale(gt, -1/n)
			}
			return []value{gx, gt}
		}
	})
}

// classesToOneHot turns (N) plaintext class indices into (N, C) one-hot rows.
func classesToOneHot(target *Variable, ls []int) (*Variable, error) {
	t := target.Tensor()
	if t == nil {
		return nil, fmt.Errorf("nn: CrossEntropyLoss: class-index targets must be plaintext; encrypt one-hot (N, C) targets instead")
	}
	if t.Dim(0) != ls[0] {
		return nil, fmt.Errorf("nn: CrossEntropyLoss: %d targets for %d rows of logits", t.Dim(0), ls[0])
	}
	for i, c := range t.Data() {
		if c != math.Trunc(c) || c < 0 || int(c) >= ls[1] {
			return nil, fmt.Errorf("nn: CrossEntropyLoss: target %d is %v, not a class in [0, %d)", i, c, ls[1])
		}
	}
	return NewVariable(tensor.OneHot(t, ls[1])), nil
}
