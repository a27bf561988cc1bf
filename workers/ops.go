package workers

import (
	"errors"
	"fmt"
	"sort"

	"github.com/gomplab/gomplab/tensor"
)

// OpParams are the non-tensor arguments of an operation.
type OpParams struct {
	// Dim is the dimension a reduction runs over; nil reduces everything
	// to a 0-d tensor.
	Dim *int `msgpack:"dim,omitempty"`
	// Keepdim keeps the reduced dimension with size 1.
	Keepdim bool `msgpack:"keepdim,omitempty"`
	// Shape is reshape's target shape (one -1 allowed).
	Shape []int `msgpack:"shape,omitempty"`
	// Dims is transpose's permutation (empty reverses the dimensions).
	Dims []int `msgpack:"dims,omitempty"`
}

// OpSpec describes one allow-listed remote operation. Remote computation
// goes only through this table: a request names an op and operands, never
// a method, so nothing but these functions can touch a stored value.
type OpSpec struct {
	Name string
	// Arity is the number of operands; binary ops accept a scalar for
	// either operand.
	Arity int
	// Doc is a one-line description, for listings.
	Doc string

	run func(args []*tensor.Tensor, p OpParams) *tensor.Tensor
	// outSize bounds the number of result elements before computing, so
	// a request cannot make the worker allocate unboundedly.
	outSize func(shapes [][]int, p OpParams) (int, error)
}

var opTable = map[string]*OpSpec{}

func register(s *OpSpec) { opTable[s.Name] = s }

// Ops returns the allow-listed operations, sorted by name.
func Ops() []OpSpec {
	out := make([]OpSpec, 0, len(opTable))
	for _, s := range opTable {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupOp returns the spec of an allow-listed op.
func LookupOp(name string) (*OpSpec, bool) {
	s, ok := opTable[name]
	return s, ok
}

func broadcastSize(shapes [][]int, _ OpParams) (int, error) {
	s, err := tensor.BroadcastShapes(shapes[0], shapes[1])
	if err != nil {
		return 0, err
	}
	return tensor.Numel(s), nil
}

func sameSize(shapes [][]int, _ OpParams) (int, error) { return tensor.Numel(shapes[0]), nil }

// reduceSize is the size of a reduction's result: one element over
// everything, or the operand without the dimension Dim.
func reduceSize(shapes [][]int, p OpParams) (int, error) {
	s := shapes[0]
	if p.Dim == nil {
		return 1, nil
	}
	d := *p.Dim
	if d < 0 {
		d += len(s)
	}
	if d < 0 || d >= len(s) || s[d] == 0 {
		return tensor.Numel(s), nil // the op reports the bad dimension
	}
	return tensor.Numel(s) / s[d], nil
}

func matmulSize(shapes [][]int, _ OpParams) (int, error) {
	a, b := shapes[0], shapes[1]
	if len(a) == 0 || len(b) == 0 {
		return 0, errors.New("matmul: operands must have at least one dimension")
	}
	if len(a) == 1 {
		a = []int{1, a[0]}
	}
	if len(b) == 1 {
		b = []int{b[0], 1}
	}
	if a[len(a)-1] != b[len(b)-2] {
		return 0, &tensor.ShapeError{Op: "MatMul", A: shapes[0], B: shapes[1]}
	}
	batch, err := tensor.BroadcastShapes(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return 0, err
	}
	return tensor.Numel(batch) * a[len(a)-2] * b[len(b)-1], nil
}

func init() {
	binary := []struct {
		name, doc string
		fn        func(a, b *tensor.Tensor) *tensor.Tensor
	}{
		{"add", "a + b (broadcasting)", (*tensor.Tensor).Add},
		{"sub", "a - b (broadcasting)", (*tensor.Tensor).Sub},
		{"mul", "a * b elementwise (broadcasting)", (*tensor.Tensor).Mul},
		{"div", "a / b elementwise (broadcasting)", (*tensor.Tensor).Div},
		{"pow", "a ** b elementwise (broadcasting)", (*tensor.Tensor).Pow},
		{"maximum", "elementwise maximum", (*tensor.Tensor).Maximum},
		{"minimum", "elementwise minimum", (*tensor.Tensor).Minimum},
		{"lt", "a < b as 0/1", (*tensor.Tensor).Lt},
		{"le", "a <= b as 0/1", (*tensor.Tensor).Le},
		{"gt", "a > b as 0/1", (*tensor.Tensor).Gt},
		{"ge", "a >= b as 0/1", (*tensor.Tensor).Ge},
		{"eq", "a == b as 0/1", (*tensor.Tensor).Eq},
		{"ne", "a != b as 0/1", (*tensor.Tensor).Ne},
	}
	for _, b := range binary {
		fn := b.fn
		register(&OpSpec{Name: b.name, Arity: 2, Doc: b.doc, outSize: broadcastSize,
			run: func(a []*tensor.Tensor, _ OpParams) *tensor.Tensor { return fn(a[0], a[1]) }})
	}
	register(&OpSpec{Name: "matmul", Arity: 2, Doc: "matrix product (NumPy matmul semantics)", outSize: matmulSize,
		run: func(a []*tensor.Tensor, _ OpParams) *tensor.Tensor { return tensor.MatMul(a[0], a[1]) }})

	unary := []struct {
		name, doc string
		fn        func(a *tensor.Tensor) *tensor.Tensor
	}{
		{"neg", "-a", (*tensor.Tensor).Neg},
		{"abs", "|a|", (*tensor.Tensor).Abs},
		{"exp", "e^a", (*tensor.Tensor).Exp},
		{"log", "natural logarithm", (*tensor.Tensor).Log},
		{"sqrt", "square root", (*tensor.Tensor).Sqrt},
		{"square", "a*a", (*tensor.Tensor).Square},
		{"reciprocal", "1/a", (*tensor.Tensor).Reciprocal},
		{"tanh", "hyperbolic tangent", (*tensor.Tensor).Tanh},
		{"sigmoid", "logistic sigmoid", (*tensor.Tensor).Sigmoid},
		{"relu", "max(a, 0)", (*tensor.Tensor).Relu},
		{"sign", "-1, 0 or 1", (*tensor.Tensor).Sign},
		{"flatten", "reshape to 1-D", (*tensor.Tensor).Flatten},
	}
	for _, u := range unary {
		fn := u.fn
		register(&OpSpec{Name: u.name, Arity: 1, Doc: u.doc, outSize: sameSize,
			run: func(a []*tensor.Tensor, _ OpParams) *tensor.Tensor { return fn(a[0]) }})
	}
	register(&OpSpec{Name: "reshape", Arity: 1, Doc: "reshape to Shape (one -1 allowed)", outSize: sameSize,
		run: func(a []*tensor.Tensor, p OpParams) *tensor.Tensor { return a[0].Reshape(p.Shape...) }})
	register(&OpSpec{Name: "transpose", Arity: 1, Doc: "permute dimensions by Dims (none: reverse)", outSize: sameSize,
		run: func(a []*tensor.Tensor, p OpParams) *tensor.Tensor { return a[0].Transpose(p.Dims...) }})

	reductions := []struct {
		name, doc string
		all       func(a *tensor.Tensor) float64
		dim       func(a *tensor.Tensor, dim int, keep bool) *tensor.Tensor
	}{
		{"sum", "sum over Dim (or all)", (*tensor.Tensor).SumAll, (*tensor.Tensor).Sum},
		{"mean", "mean over Dim (or all)", (*tensor.Tensor).MeanAll, (*tensor.Tensor).Mean},
		{"max", "maximum over Dim (or all)", (*tensor.Tensor).MaxAll, (*tensor.Tensor).Max},
		{"min", "minimum over Dim (or all)", (*tensor.Tensor).MinAll, (*tensor.Tensor).Min},
		{"var", "variance (ddof 0) over Dim (or all)", func(a *tensor.Tensor) float64 { return a.Flatten().Var(0, false).Item() }, (*tensor.Tensor).Var},
		{"argmax", "index of the maximum over Dim (or flat)", func(a *tensor.Tensor) float64 { return float64(a.ArgmaxAll()) }, (*tensor.Tensor).Argmax},
		{"argmin", "index of the minimum over Dim (or flat)", func(a *tensor.Tensor) float64 { return float64(a.ArgminAll()) }, (*tensor.Tensor).Argmin},
	}
	for _, r := range reductions {
		all, dim := r.all, r.dim
		register(&OpSpec{Name: r.name, Arity: 1, Doc: r.doc, outSize: reduceSize,
			run: func(a []*tensor.Tensor, p OpParams) *tensor.Tensor {
				if p.Dim == nil {
					return tensor.Scalar(all(a[0]))
				}
				return dim(a[0], *p.Dim, p.Keepdim)
			}})
	}
}

// runOp applies an allow-listed op. Shape errors, which the tensor package
// reports by panicking, come back as errors naming the op and shapes; the
// worker keeps serving.
func runOp(spec *OpSpec, args []*tensor.Tensor, p OpParams, maxElements int) (out *tensor.Tensor, err error) {
	if len(args) != spec.Arity {
		return nil, fmt.Errorf("op %s: %d operands, want %d", spec.Name, len(args), spec.Arity)
	}
	shapes := make([][]int, len(args))
	for i, a := range args {
		shapes[i] = a.Shape()
	}
	n, err := spec.outSize(shapes, p)
	if err != nil {
		return nil, fmt.Errorf("op %s: %w", spec.Name, err)
	}
	if maxElements > 0 && n > maxElements {
		return nil, fmt.Errorf("op %s: result of %d elements exceeds the worker's limit of %d", spec.Name, n, maxElements)
	}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("op %s on shapes %v: %w", spec.Name, shapes, e)
			} else {
				err = fmt.Errorf("op %s on shapes %v: %v", spec.Name, shapes, r)
			}
			out = nil
		}
	}()
	return spec.run(args, p), nil
}
