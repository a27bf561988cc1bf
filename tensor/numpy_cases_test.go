package tensor

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// numpyCases mirrors testdata/numpy_cases.json, written by
// testdata/make_cases.py from NumPy's own results.
type numpyCases struct {
	NumPy string `json:"numpy"`
	Unary struct {
		Input []string            `json:"input"`
		Ops   map[string][]string `json:"ops"`
	} `json:"unary"`
	Binary []struct {
		Op    string     `json:"op"`
		SA    []int      `json:"a"`
		SB    []int      `json:"b"`
		Want  *npyResult `json:"want"`
		Error bool       `json:"error"`
	} `json:"binary"`
	Reduce []struct {
		Op      string     `json:"op"`
		Shape   []int      `json:"shape"`
		NaN     bool       `json:"nan"`
		Dim     *int       `json:"dim"`
		Keepdim bool       `json:"keepdim"`
		Want    *npyResult `json:"want"`
		Error   bool       `json:"error"`
	} `json:"reduce"`
}

type npyResult struct {
	Shape  []int    `json:"shape"`
	Values []string `json:"values"`
}

func (r *npyResult) tensor(t *testing.T) *Tensor {
	t.Helper()
	v := make([]float64, len(r.Values))
	for i, s := range r.Values {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("bad value %q in numpy_cases.json: %v", s, err)
		}
		v[i] = f
	}
	return MustNew(v, r.Shape...)
}

// genA and genB rebuild make_cases.py's inputs.
func genA(shape []int, nan bool) *Tensor {
	t := Zeros(shape...)
	for i := range t.data {
		t.data[i] = float64(i%7-3) * 0.5
	}
	if nan && len(t.data) > 1 {
		t.data[1] = math.NaN()
	}
	return t
}

func genB(shape []int) *Tensor {
	t := Zeros(shape...)
	for i := range t.data {
		t.data[i] = float64(i%5-2) * 0.5
	}
	return t
}

func loadNumpyCases(t *testing.T) *numpyCases {
	t.Helper()
	b, err := os.ReadFile("testdata/numpy_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var c numpyCases
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Binary) == 0 || len(c.Reduce) == 0 {
		t.Fatal("numpy_cases.json holds no cases")
	}
	return &c
}

// catch runs f and returns what it panicked with, or nil.
func catch(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

func TestBroadcastingMatchesNumPy(t *testing.T) {
	ops := map[string]func(a, b *Tensor) *Tensor{
		"add": (*Tensor).Add, "sub": (*Tensor).Sub, "mul": (*Tensor).Mul, "div": (*Tensor).Div,
		"pow": (*Tensor).Pow, "maximum": (*Tensor).Maximum, "minimum": (*Tensor).Minimum,
		"lt": (*Tensor).Lt, "le": (*Tensor).Le, "gt": (*Tensor).Gt, "ge": (*Tensor).Ge,
		"eq": (*Tensor).Eq, "ne": (*Tensor).Ne,
	}
	c := loadNumpyCases(t)
	for _, tc := range c.Binary {
		name := fmt.Sprintf("%s%v%v", tc.Op, tc.SA, tc.SB)
		f := ops[tc.Op]
		if f == nil {
			t.Fatalf("%s: unknown op", name)
		}
		a, b := genA(tc.SA, false), genB(tc.SB)
		var got *Tensor
		p := catch(func() { got = f(a, b) })
		if tc.Error {
			se, ok := p.(*ShapeError)
			if !ok {
				t.Errorf("%s: NumPy raises, we returned %v (panic %v)", name, got, p)
				continue
			}
			msg := se.Error()
			if !strings.Contains(msg, fmt.Sprint(tc.SA)) || !strings.Contains(msg, fmt.Sprint(tc.SB)) {
				t.Errorf("%s: error %q does not name both shapes", name, msg)
			}
			continue
		}
		if p != nil {
			t.Errorf("%s: panic %v", name, p)
			continue
		}
		// Go's math.Pow is within 1 ulp of C's, not always equal to it.
		if want := tc.Want.tensor(t); !Equal(got, want) && !(tc.Op == "pow" && AllClose(got, want, 2e-16, 0)) {
			t.Errorf("%s: got %v %v, NumPy %v %v", name, got.Shape(), got.Data(), want.Shape(), want.Data())
		}
		// The operands must be untouched.
		if !Equal(a, genA(tc.SA, false)) || !Equal(b, genB(tc.SB)) {
			t.Errorf("%s modified an operand", name)
		}
	}
}

func TestReductionsMatchNumPy(t *testing.T) {
	all := map[string]func(x *Tensor) float64{
		"sum": (*Tensor).SumAll, "mean": (*Tensor).MeanAll, "max": (*Tensor).MaxAll, "min": (*Tensor).MinAll,
		"argmax": func(x *Tensor) float64 { return float64(x.ArgmaxAll()) },
		"argmin": func(x *Tensor) float64 { return float64(x.ArgminAll()) },
		"var":    func(x *Tensor) float64 { return x.Flatten().Var(0, false).Item() },
	}
	byDim := map[string]func(x *Tensor, dim int, keep bool) *Tensor{
		"sum": (*Tensor).Sum, "mean": (*Tensor).Mean, "var": (*Tensor).Var, "max": (*Tensor).Max,
		"min": (*Tensor).Min, "argmax": (*Tensor).Argmax, "argmin": (*Tensor).Argmin,
	}
	c := loadNumpyCases(t)
	for _, tc := range c.Reduce {
		x := genA(tc.Shape, tc.NaN)
		var got *Tensor
		name := fmt.Sprintf("%s%v(all)", tc.Op, tc.Shape)
		var p any
		if tc.Dim == nil {
			p = catch(func() { got = Scalar(all[tc.Op](x)) })
		} else {
			name = fmt.Sprintf("%s%v(dim=%d,keepdim=%v)", tc.Op, tc.Shape, *tc.Dim, tc.Keepdim)
			p = catch(func() { got = byDim[tc.Op](x, *tc.Dim, tc.Keepdim) })
		}
		if tc.NaN {
			name += "+NaN"
		}
		if tc.Error {
			if p == nil {
				t.Errorf("%s: NumPy raises, we returned %v", name, got)
			} else if msg := fmt.Sprint(p); !strings.Contains(msg, fmt.Sprint(tc.Shape)) {
				t.Errorf("%s: error %q does not name the shape", name, msg)
			}
			continue
		}
		if p != nil {
			t.Errorf("%s: panic %v", name, p)
			continue
		}
		want := tc.Want.tensor(t)
		if !AllClose(got, want, 1e-12, 1e-12) {
			t.Errorf("%s: got %v %v, NumPy %v %v", name, got.Shape(), got.Data(), want.Shape(), want.Data())
		}
	}
}

func parseFloats(t *testing.T, ss []string) *Tensor {
	t.Helper()
	return (&npyResult{Shape: []int{len(ss)}, Values: ss}).tensor(t)
}

func TestUnaryMatchesNumPy(t *testing.T) {
	ops := map[string]func(x *Tensor) *Tensor{
		"neg": (*Tensor).Neg, "abs": (*Tensor).Abs, "exp": (*Tensor).Exp, "log": (*Tensor).Log,
		"sqrt": (*Tensor).Sqrt, "square": (*Tensor).Square, "reciprocal": (*Tensor).Reciprocal,
		"tanh": (*Tensor).Tanh, "sigmoid": (*Tensor).Sigmoid, "relu": (*Tensor).Relu, "sign": (*Tensor).Sign,
		"clip":      func(x *Tensor) *Tensor { return x.Clamp(-1, 1.5) },
		"pow3":      func(x *Tensor) *Tensor { return x.PowScalar(3) },
		"powhalf":   func(x *Tensor) *Tensor { return x.PowScalar(0.5) },
		"subscalar": func(x *Tensor) *Tensor { return x.SubScalar(2.5) },
		"divscalar": func(x *Tensor) *Tensor { return x.DivScalar(4) },
	}
	c := loadNumpyCases(t)
	x := parseFloats(t, c.Unary.Input)
	if len(c.Unary.Ops) != len(ops) {
		t.Fatalf("%d ops in the file, %d here", len(c.Unary.Ops), len(ops))
	}
	for name, vals := range c.Unary.Ops {
		f := ops[name]
		if f == nil {
			t.Errorf("unknown op %q", name)
			continue
		}
		want := parseFloats(t, vals)
		got := f(x)
		// Go's exp, log and tanh may differ from C's in the last bit.
		if !AllClose(got, want, 4e-16, 0) {
			t.Errorf("%s: got %v, NumPy %v", name, got.Data(), want.Data())
		}
		if !Equal(x, parseFloats(t, c.Unary.Input)) {
			t.Fatalf("%s modified its input", name)
		}
	}
}
