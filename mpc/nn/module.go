package nn

import (
	"fmt"
	"strconv"
)

// Module is a layer or a network of layers, as PyTorch's nn.Module.
//
// Any type with these methods is a Module, so custom layers can be written
// (also in a notebook) from Variable operations. Only the built-in modules
// can be described as an architecture Spec and rebuilt elsewhere, which is
// what sharing a model with other parties requires.
type Module interface {
	// Forward applies the module to x.
	Forward(x *Variable) (*Variable, error)
	// Params lists the module's parameters and buffers, recursively, in a
	// fixed order, named as PyTorch's state_dict names them relative to this
	// module ("weight", "0.bias", "bn.running_mean").
	Params() []Param
	// SetTraining switches training behaviour (Dropout, BatchNorm) on or
	// off, recursively.
	SetTraining(on bool)
}

// Param is a named parameter or buffer of a module.
type Param struct {
	Name string
	Var  *Variable
	// Buffer marks state that is saved, loaded and encrypted with the model
	// but not learned by gradient descent (BatchNorm's running statistics).
	Buffer bool
}

// prefixed returns ps with prefix+"." prepended to every name.
func prefixed(prefix string, ps []Param) []Param {
	out := make([]Param, len(ps))
	for i, p := range ps {
		p.Name = prefix + "." + p.Name
		out[i] = p
	}
	return out
}

// stateless gives modules without parameters or modes their Params and
// SetTraining.
type stateless struct{}

// Params returns nothing: the module has no parameters.
func (stateless) Params() []Param { return nil }

// SetTraining does nothing: the module behaves the same in both modes.
func (stateless) SetTraining(bool) {}

// Sequential applies its layers in order; their parameters are named by
// position ("0.weight", "2.bias"), as in torch.nn.Sequential.
type Sequential struct {
	layers []Module
}

// NewSequential returns a Sequential of layers.
func NewSequential(layers ...Module) *Sequential {
	return &Sequential{layers: append([]Module(nil), layers...)}
}

// Append adds a layer at the end.
func (s *Sequential) Append(m Module) { s.layers = append(s.layers, m) }

// Len returns the number of layers.
func (s *Sequential) Len() int { return len(s.layers) }

// Layer returns layer i.
func (s *Sequential) Layer(i int) Module { return s.layers[i] }

// Forward applies each layer to the previous one's output. A ReLU directly
// followed by a MaxPool2d runs after the pool instead: both are monotone,
// so the result is the same (and the gradient, almost everywhere), but the
// ReLU then sees only the pooled values, which on encrypted values saves
// the comparisons of three ReLUs in four for a 2x2 pool.
func (s *Sequential) Forward(x *Variable) (*Variable, error) {
	for i := 0; i < len(s.layers); i++ {
		l := s.layers[i]
		if _, ok := l.(*ReLU); ok && i+1 < len(s.layers) {
			if pool, ok := s.layers[i+1].(*MaxPool2d); ok {
				y, err := pool.Forward(x)
				if err == nil {
					y, err = l.Forward(y)
				}
				if err != nil {
					return nil, fmt.Errorf("layers %d-%d (ReLU, MaxPool2d): %w", i, i+1, err)
				}
				x = y
				i++
				continue
			}
		}
		var err error
		if x, err = l.Forward(x); err != nil {
			return nil, fmt.Errorf("layer %d (%T): %w", i, l, err)
		}
	}
	return x, nil
}

// Params lists the layers' parameters, prefixed with their positions.
func (s *Sequential) Params() []Param {
	var ps []Param
	for i, l := range s.layers {
		ps = append(ps, prefixed(strconv.Itoa(i), l.Params())...)
	}
	return ps
}

// SetTraining sets every layer's mode.
func (s *Sequential) SetTraining(on bool) {
	for _, l := range s.layers {
		l.SetTraining(on)
	}
}

// result turns a Variable carrying an error into Forward's error return.
func result(v *Variable) (*Variable, error) {
	if v.err != nil {
		return nil, v.err
	}
	return v, nil
}
