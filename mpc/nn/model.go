package nn

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gomplab/gomplab/tensor"
)

// Model is a network ready to train, evaluate, save and encrypt: a root
// Module plus the operations PyTorch puts on every nn.Module.
type Model struct {
	root     Module
	training bool
}

// NewModel wraps m. The model starts in training mode, as PyTorch's do.
func NewModel(m Module) *Model {
	m.SetTraining(true)
	return &Model{root: m, training: true}
}

// Module returns the root module.
func (m *Model) Module() Module { return m.root }

// Forward applies the model to x. In evaluation mode the parameters record
// no history, as under torch.no_grad: inference then skips the work only
// gradients need (on encrypted models, the comparisons behind ReLU's mask
// and max pooling's argmax).
func (m *Model) Forward(x *Variable) (*Variable, error) {
	if x == nil {
		return nil, fmt.Errorf("nn: Forward: nil input")
	}
	if x.err != nil {
		return nil, x.err
	}
	if !m.training {
		ps := m.root.Params()
		saved := make([]bool, len(ps))
		for i, p := range ps {
			saved[i] = p.Var.requiresGrad
			p.Var.requiresGrad = false
		}
		defer func() {
			for i, p := range ps {
				p.Var.requiresGrad = saved[i]
			}
		}()
	}
	return m.root.Forward(x)
}

// Params lists every parameter and buffer with its state-dict name.
func (m *Model) Params() []Param { return m.root.Params() }

// Parameters returns the learnable parameters, for an optimizer.
func (m *Model) Parameters() []*Variable {
	var vs []*Variable
	for _, p := range m.root.Params() {
		if !p.Buffer {
			vs = append(vs, p.Var)
		}
	}
	return vs
}

// ZeroGrad clears every parameter's gradient.
func (m *Model) ZeroGrad() {
	for _, p := range m.root.Params() {
		p.Var.ZeroGrad()
	}
}

// Train puts the model in training mode.
func (m *Model) Train() {
	m.training = true
	m.root.SetTraining(true)
}

// Eval puts the model in evaluation mode (see Forward).
func (m *Model) Eval() {
	m.training = false
	m.root.SetTraining(false)
}

// Training reports whether the model is in training mode.
func (m *Model) Training() bool { return m.training }

// Encrypted reports whether the model's parameters are encrypted.
func (m *Model) Encrypted() bool {
	for _, p := range m.root.Params() {
		if p.Var.Encrypted() {
			return true
		}
	}
	return false
}

// String describes m without its weights: whether it is encrypted, and
// its number of parameters and values.
func (m Model) String() string {
	if m.root == nil {
		return "nn.Model(empty)"
	}
	state := "plaintext"
	if m.Encrypted() {
		state = "encrypted"
	}
	return fmt.Sprintf("nn.Model(%s, %d parameters, %d values)", state, len(m.root.Params()), m.NumParams())
}

// Format writes String for every verb, on the value as on the pointer, so
// printing a dereferenced model never shows its weights or their shares.
func (m Model) Format(f fmt.State, _ rune) { io.WriteString(f, m.String()) }

// GoString is String.
func (m Model) GoString() string { return m.String() }

// Spec describes the model's architecture (see Spec).
func (m *Model) Spec() (*Spec, error) { return Describe(m.root) }

// NumParams returns the number of parameter and buffer elements.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.root.Params() {
		n += tensor.Numel(p.Var.val.dims())
	}
	return n
}

// StateDict returns copies of the plaintext parameters and buffers by name.
// It fails on an encrypted model: decrypt it first.
func (m *Model) StateDict() (map[string]*tensor.Tensor, error) {
	sd := map[string]*tensor.Tensor{}
	for _, p := range m.root.Params() {
		t := p.Var.Tensor()
		if t == nil {
			return nil, fmt.Errorf("nn: StateDict: parameter %q is encrypted", p.Name)
		}
		sd[p.Name] = t.Clone()
	}
	return sd, nil
}

// LoadStateDict copies plaintext values into the parameters and buffers.
// Every name must be present with the right shape, and sd must hold no
// other names (except PyTorch's num_batches_tracked counters, ignored).
func (m *Model) LoadStateDict(sd map[string]*tensor.Tensor) error {
	ps := m.root.Params()
	want := map[string]bool{}
	for _, p := range ps {
		want[p.Name] = true
		t, ok := sd[p.Name]
		if !ok || t == nil {
			return fmt.Errorf("nn: LoadStateDict: missing %q", p.Name)
		}
		if !tensor.SameShape(t.Shape(), p.Var.val.dims()) {
			return fmt.Errorf("nn: LoadStateDict: %q has shape %v, model wants %v", p.Name, t.Shape(), p.Var.val.dims())
		}
	}
	var extra []string
	for k := range sd {
		if !want[k] && !strings.HasSuffix(k, "num_batches_tracked") {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("nn: LoadStateDict: unexpected keys %q", extra)
	}
	for _, p := range ps {
		p.Var.val = plain{sd[p.Name].Clone()}
		p.Var.grad = nil
	}
	return nil
}

// BuildModel builds the architecture s describes with zero parameters.
func BuildModel(s *Spec) (*Model, error) {
	m, err := Build(s)
	if err != nil {
		return nil, err
	}
	return NewModel(m), nil
}
