package nn

// Hardtanh limits its input to [Min, Max], as torch.nn.Hardtanh (and
// ReLU6, which is Hardtanh(0, 6)).
type Hardtanh struct {
	stateless
	Min, Max float64
}

// NewHardtanh returns a Hardtanh layer.
func NewHardtanh(lo, hi float64) *Hardtanh { return &Hardtanh{Min: lo, Max: hi} }

// NewReLU6 returns min(max(x, 0), 6), as torch.nn.ReLU6.
func NewReLU6() *Hardtanh { return &Hardtanh{Min: 0, Max: 6} }

// Forward applies the layer.
func (h *Hardtanh) Forward(x *Variable) (*Variable, error) { return result(x.Clamp(h.Min, h.Max)) }

// LeakyReLU is x for x > 0 and Slope·x otherwise, as torch.nn.LeakyReLU.
type LeakyReLU struct {
	stateless
	Slope float64
}

// NewLeakyReLU returns a LeakyReLU layer (PyTorch's default slope is 0.01).
func NewLeakyReLU(slope float64) *LeakyReLU { return &LeakyReLU{Slope: slope} }

// Forward applies the layer.
func (l *LeakyReLU) Forward(x *Variable) (*Variable, error) { return result(x.LeakyRelu(l.Slope)) }

// GELU is the Gaussian error linear unit x·Φ(x), as torch.nn.GELU; Tanh
// selects PyTorch's approximate="tanh".
type GELU struct {
	stateless
	Tanh bool
}

// NewGELU returns a GELU layer (tanh: the tanh approximation).
func NewGELU(tanh bool) *GELU { return &GELU{Tanh: tanh} }

// Forward applies the layer.
func (g *GELU) Forward(x *Variable) (*Variable, error) { return result(x.Gelu(g.Tanh)) }
