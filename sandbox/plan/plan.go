// Package plan holds plans: functions traced into a list of allow-listed
// tensor operations with their state (parameters), the safer alternative
// to shipping source (PySyft's Plans). A plan is data, not code: it is
// serialized with serde, checked against the allow-list when it arrives
// (an operation outside it is refused), and run by a fixed interpreter in
// the host, over plaintext tensors on the worker that holds them, or over
// CrypTensors at every party of an MPC job.
//
// Tracing runs the function once on placeholders whose operations are
// recorded (Go control flow is unrolled, as in PySyft); each operation is
// also evaluated on example values of the input shapes, so a shape error
// is reported when the plan is built, naming the operation.
package plan

import (
	"errors"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// Plan is a traced function: inputs, named state, actions and outputs.
// Values are numbered: inputs first, then each action's result in order
// (a "state" action yields a state tensor).
type Plan struct {
	Name string `msgpack:"name"`
	// Inputs are the shapes the plan was traced with (a call may give
	// other shapes if the operations accept them).
	Inputs []Shape `msgpack:"inputs"`
	// State holds the plan's parameters, shipped with it.
	State   []State  `msgpack:"state,omitempty"`
	Actions []Action `msgpack:"actions"`
	// Outputs are the value numbers the plan returns.
	Outputs []int `msgpack:"outputs"`
}

// Shape is an input's traced shape.
type Shape struct {
	Dims []int `msgpack:"dims"`
}

// State is a named parameter.
type State struct {
	Name   string         `msgpack:"name"`
	Tensor *tensor.Tensor `msgpack:"tensor"`
}

// Action is one operation: Op applied to Args (value numbers or scalars)
// with integer parameters Ints (dimensions, shapes) and Keep (keepdim).
// Load actions read Tag from party Ints[0]'s worker.
type Action struct {
	Op   string `msgpack:"op"`
	Args []Arg  `msgpack:"args,omitempty"`
	Ints []int  `msgpack:"ints,omitempty"`
	Keep bool   `msgpack:"keep,omitempty"`
	Tag  string `msgpack:"tag,omitempty"`
}

// Arg is an operand: a value number, or a scalar when Scalar is set.
type Arg struct {
	Value  int      `msgpack:"v"`
	Scalar *float64 `msgpack:"s,omitempty"`
}

// opSpec describes an allowed operation: how many operands it takes and
// which of them may be scalars.
type opSpec struct {
	arity   int
	scalars bool // a scalar may stand for either operand
	ints    int  // required number of Ints; -1: any number (bounded)
	doc     string
}

// ops is the allow-list. Every operation exists for plaintext tensors and
// for CrypTensors with the same meaning.
var ops = map[string]opSpec{
	"add":       {2, true, 0, "x + y (broadcasting)"},
	"sub":       {2, true, 0, "x - y"},
	"mul":       {2, true, 0, "x * y"},
	"div":       {2, true, 0, "x / y (y public when x is encrypted)"},
	"matmul":    {2, false, 0, "matrix product"},
	"neg":       {1, false, 0, "-x"},
	"square":    {1, false, 0, "x * x"},
	"relu":      {1, false, 0, "max(x, 0)"},
	"sigmoid":   {1, false, 0, "1 / (1 + exp(-x))"},
	"tanh":      {1, false, 0, "tanh(x)"},
	"exp":       {1, false, 0, "exp(x)"},
	"abs":       {1, false, 0, "|x|"},
	"sum":       {1, false, 1, "sum over dimension Ints[0]"},
	"mean":      {1, false, 1, "mean over dimension Ints[0]"},
	"sum_all":   {1, false, 0, "sum of every element (a 0-d tensor)"},
	"mean_all":  {1, false, 0, "mean of every element (a 0-d tensor)"},
	"softmax":   {1, false, 1, "softmax over dimension Ints[0]"},
	"reshape":   {1, false, -1, "reshape to Ints (one may be -1)"},
	"transpose": {1, false, -1, "permute dimensions Ints (none: reverse them)"},
	"flatten":   {1, false, 0, "reshape to one dimension"},
	"load":      {0, false, 1, "party Ints[0]'s tensor tagged Tag (MPC runs only)"},
	"state":     {0, false, 1, "the plan's state tensor number Ints[0]"},
}

// Ops lists the allowed operations with a line on each, sorted by name.
func Ops() []string {
	var out []string
	for name, s := range ops {
		out = append(out, name+": "+s.doc)
	}
	slices.Sort(out)
	return out
}

// Limits on a plan received from elsewhere.
const (
	MaxActions = 100000
	MaxInts    = 64
	MaxState   = 10000
	MaxInputs  = 256
)

// MaxName bounds a plan's name, its state names and its tags in bytes.
const MaxName = 256

// checkText refuses a name that is not one line of printable UTF-8 of at
// most max bytes.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s of %d bytes (at most %d)", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s %q holds the unprintable character %q", what, s, r)
		}
	}
	return nil
}

// Validate checks p before anything runs: every operation is allowed and
// well formed, and every operand refers to a value computed before it. It
// is what a worker calls on a plan that arrives.
func (p *Plan) Validate() error {
	if p == nil {
		return errors.New("plan: nil")
	}
	// Names and tags are shown to the data owners who review a plan
	// (String): one printable line each, so a plan cannot fake lines.
	if err := checkText("name", p.Name, MaxName); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if len(p.Inputs) > MaxInputs || len(p.State) > MaxState || len(p.Actions) > MaxActions {
		return fmt.Errorf("plan %q: %d inputs, %d state tensors, %d actions: over the limits (%d, %d, %d)",
			p.Name, len(p.Inputs), len(p.State), len(p.Actions), MaxInputs, MaxState, MaxActions)
	}
	for i, in := range p.Inputs {
		if len(in.Dims) > serde.MaxRank {
			return fmt.Errorf("plan %q: input %d has %d dimensions", p.Name, i, len(in.Dims))
		}
	}
	for i, s := range p.State {
		if err := checkText(fmt.Sprintf("state %d name", i), s.Name, MaxName); err != nil {
			return fmt.Errorf("plan %q: %w", p.Name, err)
		}
		if s.Tensor == nil {
			return fmt.Errorf("plan %q: state %d (%q) has no tensor", p.Name, i, s.Name)
		}
	}
	defined := len(p.Inputs)
	for i, a := range p.Actions {
		spec, ok := ops[a.Op]
		if !ok {
			return fmt.Errorf("plan %q: action %d: operation %q is not allowed in a plan (allowed: %v)", p.Name, i, a.Op, opNames())
		}
		if len(a.Args) != spec.arity {
			return fmt.Errorf("plan %q: action %d (%s) has %d operands, want %d", p.Name, i, a.Op, len(a.Args), spec.arity)
		}
		if spec.ints >= 0 && len(a.Ints) != spec.ints || len(a.Ints) > MaxInts {
			return fmt.Errorf("plan %q: action %d (%s) has %d integer parameters", p.Name, i, a.Op, len(a.Ints))
		}
		scalars := 0
		for _, arg := range a.Args {
			if arg.Scalar != nil {
				scalars++
				continue
			}
			if arg.Value < 0 || arg.Value >= defined {
				return fmt.Errorf("plan %q: action %d (%s) uses value %d before it exists", p.Name, i, a.Op, arg.Value)
			}
		}
		if scalars > 0 && (!spec.scalars || scalars == len(a.Args)) {
			return fmt.Errorf("plan %q: action %d (%s): scalar operand not allowed here", p.Name, i, a.Op)
		}
		if a.Op == "load" && a.Tag == "" {
			return fmt.Errorf("plan %q: action %d: load without a tag", p.Name, i)
		}
		if err := checkText("tag", a.Tag, MaxName); err != nil {
			return fmt.Errorf("plan %q: action %d: %w", p.Name, i, err)
		}
		if a.Op == "state" && (a.Ints[0] < 0 || a.Ints[0] >= len(p.State)) {
			return fmt.Errorf("plan %q: action %d: state %d does not exist", p.Name, i, a.Ints[0])
		}
		defined++
	}
	if len(p.Outputs) == 0 {
		return fmt.Errorf("plan %q has no outputs", p.Name)
	}
	for _, o := range p.Outputs {
		if o < 0 || o >= defined {
			return fmt.Errorf("plan %q: output value %d does not exist", p.Name, o)
		}
	}
	return nil
}

func opNames() []string {
	var out []string
	for n := range ops {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Encode serializes p (serde's msgpack body encoding).
func (p *Plan) Encode() ([]byte, error) {
	b, err := serde.EncodeBody(p)
	if err != nil {
		return nil, fmt.Errorf("plan %q: %w", p.Name, err)
	}
	return b, nil
}

// Decode reads a plan made by Encode within lim and validates it: a plan
// with an operation outside the allow-list is refused here.
func Decode(b []byte, lim serde.Limits) (*Plan, error) {
	var p Plan
	if err := serde.DecodeBody(b, &p, lim); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// String prints the plan as code, one action a line, as PySyft's plan.code
// did: "v3 = matmul(v0, w)".
func (p *Plan) String() string {
	name := func(v int) string {
		nIn := len(p.Inputs)
		switch {
		case v < nIn:
			return fmt.Sprintf("x%d", v)
		case v-nIn < len(p.Actions) && p.Actions[v-nIn].Op == "state":
			if k := p.Actions[v-nIn].Ints[0]; k >= 0 && k < len(p.State) {
				return p.State[k].Name
			}
		}
		return fmt.Sprintf("v%d", v)
	}
	s := fmt.Sprintf("plan %s(", p.Name)
	for i := range p.Inputs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("x%d %v", i, p.Inputs[i].Dims)
	}
	s += ")\n"
	for i, a := range p.Actions {
		if a.Op == "state" {
			continue
		}
		var args []string
		for _, g := range a.Args {
			if g.Scalar != nil {
				args = append(args, fmt.Sprint(*g.Scalar))
			} else {
				args = append(args, name(g.Value))
			}
		}
		extra := ""
		if a.Tag != "" {
			extra = fmt.Sprintf("%q, ", a.Tag)
		}
		if len(a.Ints) > 0 {
			extra += fmt.Sprint(a.Ints)
		}
		if a.Keep {
			extra += " keepdim"
		}
		all := args
		if extra != "" {
			all = append(all, extra)
		}
		s += fmt.Sprintf("  %s = %s(%s)\n", name(len(p.Inputs)+i), a.Op, joinComma(all))
	}
	var outs []string
	for _, o := range p.Outputs {
		outs = append(outs, name(o))
	}
	return s + "  return " + joinComma(outs)
}

func joinComma(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}
