package tensor

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// ar returns arange(n) reshaped to shape.
func ar(shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.data {
		t.data[i] = float64(i)
	}
	return t
}

func mk(shape []int, v ...float64) *Tensor { return MustNew(v, shape...) }

func sh(d ...int) []int { return d }

func TestShapeOps(t *testing.T) {
	cases := []struct {
		name string
		f    func() *Tensor
		want *Tensor
	}{
		{"reshape -1", func() *Tensor { return ar(2, 3).Reshape(-1, 2) }, mk(sh(3, 2), 0, 1, 2, 3, 4, 5)},
		{"reshape to 0-d", func() *Tensor { return ar(1).Reshape() }, Scalar(0)},
		{"reshape empty", func() *Tensor { return ar(0, 3).Reshape(3, 0, 1) }, Zeros(3, 0, 1)},
		{"flatten", func() *Tensor { return ar(2, 2).Flatten() }, mk(sh(4), 0, 1, 2, 3)},
		{"flattenfrom 1", func() *Tensor { return ar(2, 2, 2).FlattenFrom(1) }, ar(2, 4)},
		{"flattenfrom -1", func() *Tensor { return ar(2, 2, 2).FlattenFrom(-1) }, ar(2, 2, 2)},
		{"flattenfrom 0-d", func() *Tensor { return Scalar(4).FlattenFrom(0) }, mk(sh(1), 4)},
		{"squeeze all", func() *Tensor { return ar(1, 3, 1).Squeeze() }, ar(3)},
		{"squeeze one", func() *Tensor { return ar(1, 3, 1).Squeeze(-1) }, ar(1, 3)},
		{"unsqueeze end", func() *Tensor { return ar(3).Unsqueeze(-1) }, ar(3, 1)},
		{"unsqueeze 0", func() *Tensor { return ar(3).Unsqueeze(0) }, ar(1, 3)},
		{"unsqueeze 0-d", func() *Tensor { return Scalar(2).Unsqueeze(0) }, mk(sh(1), 2)},
		{"transpose 2-D", func() *Tensor { return ar(2, 3).T() }, mk(sh(3, 2), 0, 3, 1, 4, 2, 5)},
		{"transpose reverse 3-D", func() *Tensor { return ar(2, 1, 3).Transpose() }, mk(sh(3, 1, 2), 0, 3, 1, 4, 2, 5)},
		{"permute", func() *Tensor { return ar(2, 3, 2).Permute(1, 2, 0) },
			mk(sh(3, 2, 2), 0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11)},
		{"permute negative", func() *Tensor { return ar(2, 3).Permute(-1, 0) }, mk(sh(3, 2), 0, 3, 1, 4, 2, 5)},
		{"slice", func() *Tensor { return ar(6).Slice(0, 1, 5, 2) }, mk(sh(2), 1, 3)},
		{"slice negative", func() *Tensor { return ar(6).Slice(0, -3, 100, 1) }, mk(sh(3), 3, 4, 5)},
		{"slice reverse", func() *Tensor { return ar(4).Slice(0, -1, -5, -1) }, mk(sh(4), 3, 2, 1, 0)},
		{"slice reverse step", func() *Tensor { return ar(5).Slice(0, 4, 0, -2) }, mk(sh(2), 4, 2)},
		{"slice empty", func() *Tensor { return ar(2, 3).Slice(1, 2, 1, 1) }, Zeros(2, 0)},
		{"slice dim", func() *Tensor { return ar(2, 3).Slice(-1, 1, 3, 1) }, mk(sh(2, 2), 1, 2, 4, 5)},
		{"index", func() *Tensor { return ar(2, 3).Index(1, -1) }, mk(sh(2), 2, 5)},
		{"index to 0-d", func() *Tensor { return ar(3).Index(0, 1) }, Scalar(1)},
		{"index select", func() *Tensor { return ar(3, 2).IndexSelect(0, []int{2, 0, 2}) }, mk(sh(3, 2), 4, 5, 0, 1, 4, 5)},
		{"broadcast to", func() *Tensor { return ar(3, 1).BroadcastTo(2, 3, 2) },
			mk(sh(2, 3, 2), 0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2)},
		{"broadcast 0-d", func() *Tensor { return Scalar(7).BroadcastTo(2) }, mk(sh(2), 7, 7)},
		{"pad", func() *Tensor { return ar(1, 2).Pad([][2]int{{1, 0}, {0, 2}}, -1) },
			mk(sh(2, 4), -1, -1, -1, -1, 0, 1, -1, -1)},
		{"concat 0", func() *Tensor { return Concat(0, ar(1, 2), ar(2, 2)) }, mk(sh(3, 2), 0, 1, 0, 1, 2, 3)},
		{"concat -1", func() *Tensor { return Concat(-1, ar(2, 1), ar(2, 2)) }, mk(sh(2, 3), 0, 0, 1, 1, 2, 3)},
		{"concat empty", func() *Tensor { return Concat(0, ar(0, 2), ar(1, 2)) }, ar(1, 2)},
		{"stack 0", func() *Tensor { return Stack(0, ar(2), ar(2)) }, mk(sh(2, 2), 0, 1, 0, 1)},
		{"stack -1", func() *Tensor { return Stack(-1, ar(2), Ones(2)) }, mk(sh(2, 2), 0, 1, 1, 1)},
		{"where", func() *Tensor { return Where(mk(sh(2, 1), 1, 0), ar(3), Full(-1, 2, 3)) }, mk(sh(2, 3), 0, 1, 2, -1, -1, -1)},
		{"where scalar", func() *Tensor { return Where(Scalar(0), Scalar(1), Scalar(2)) }, Scalar(2)},
		{"clamp", func() *Tensor { return mk(sh(4), -2, 0.5, 3, math.NaN()).Clamp(0, 1) }, mk(sh(4), 0, 0.5, 1, math.NaN())},
		{"relu", func() *Tensor { return mk(sh(3), -1, 2, math.NaN()).Relu() }, mk(sh(3), 0, 2, math.NaN())},
		{"sign", func() *Tensor { return mk(sh(3), -3, 0, 2).Sign() }, mk(sh(3), -1, 0, 1)},
		{"sigmoid", func() *Tensor { return mk(sh(3), -1000, 0, 1000).Sigmoid() }, mk(sh(3), 0, 0.5, 1)},
		{"pow scalar", func() *Tensor { return mk(sh(3), 4, 9, 2).PowScalar(0.5) }, mk(sh(3), 2, 3, math.Sqrt2)},
		{"reciprocal", func() *Tensor { return mk(sh(2), 4, 0).Reciprocal() }, mk(sh(2), 0.25, math.Inf(1))},
		{"eye", func() *Tensor { return Eye(2) }, mk(sh(2, 2), 1, 0, 0, 1)},
		{"arange", func() *Tensor { return Arange(0, 1, 0.25) }, mk(sh(4), 0, 0.25, 0.5, 0.75)},
		{"arange down", func() *Tensor { return Arange(3, 0, -1.5) }, mk(sh(2), 3, 1.5)},
		{"arange empty", func() *Tensor { return Arange(3, 0, 1) }, Zeros(0)},
		{"linspace", func() *Tensor { return Linspace(0, 1, 5) }, mk(sh(5), 0, 0.25, 0.5, 0.75, 1)},
		{"linspace 1", func() *Tensor { return Linspace(2, 3, 1) }, mk(sh(1), 2)},
	}
	for _, tc := range cases {
		var got *Tensor
		if p := catch(func() { got = tc.f() }); p != nil {
			t.Errorf("%s: panic %v", tc.name, p)
			continue
		}
		if !AllClose(got, tc.want, 1e-15, 0) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got.Shape(), got.Data(), tc.want.Shape(), tc.want.Data())
		}
	}
}

func TestSplitChunk(t *testing.T) {
	cases := []struct {
		name string
		got  []*Tensor
		want []*Tensor
	}{
		{"sections", ar(5).Split(0, 2, 3), []*Tensor{mk(sh(2), 0, 1), mk(sh(3), 2, 3, 4)}},
		{"size", ar(5).Split(0, 2), []*Tensor{mk(sh(2), 0, 1), mk(sh(2), 2, 3), mk(sh(1), 4)}},
		{"dim -1", ar(2, 2).Split(-1, 1), []*Tensor{mk(sh(2, 1), 0, 2), mk(sh(2, 1), 1, 3)}},
		{"chunk", ar(5).Chunk(3, 0), []*Tensor{mk(sh(2), 0, 1), mk(sh(2), 2, 3), mk(sh(1), 4)}},
		{"chunk fewer", ar(2).Chunk(4, 0), []*Tensor{mk(sh(1), 0), mk(sh(1), 1)}},
	}
	for _, tc := range cases {
		if len(tc.got) != len(tc.want) {
			t.Errorf("%s: %d pieces, want %d", tc.name, len(tc.got), len(tc.want))
			continue
		}
		for i := range tc.got {
			if !Equal(tc.got[i], tc.want[i]) {
				t.Errorf("%s: piece %d is %v, want %v", tc.name, i, tc.got[i].Data(), tc.want[i].Data())
			}
		}
	}
}

func TestViewsShareData(t *testing.T) {
	x := ar(2, 3)
	x.Reshape(3, 2).Set(100, 0, 0)
	x.Flatten().Set(101, 1)
	x.Unsqueeze(0).Squeeze().Set(102, 0, 2)
	if got := x.Data()[:3]; got[0] != 100 || got[1] != 101 || got[2] != 102 {
		t.Fatalf("views did not write through: %v", got)
	}
	y := x.Slice(0, 0, 1, 1)
	y.Set(-1, 0, 0)
	if x.At(0, 0) != 100 {
		t.Fatal("Slice must copy")
	}
}

// TestShapeErrorsNameShapes checks that bad calls panic with a message
// naming the shapes involved.
func TestShapeErrorsNameShapes(t *testing.T) {
	cases := []struct {
		name  string
		f     func()
		names []string
	}{
		{"add", func() { ar(2, 3).Add(ar(4)) }, []string{"[2 3]", "[4]"}},
		{"reshape", func() { ar(2, 3).Reshape(4, 2) }, []string{"[2 3]", "[4 2]"}},
		{"reshape two -1", func() { ar(2, 3).Reshape(-1, -1) }, []string{"[2 3]"}},
		{"concat", func() { Concat(0, ar(2, 3), ar(2, 2)) }, []string{"[2 3]", "[2 2]"}},
		{"stack", func() { Stack(0, ar(2), ar(3)) }, []string{"[2]", "[3]"}},
		{"broadcast to", func() { ar(3).BroadcastTo(2, 2) }, []string{"[3]", "[2 2]"}},
		{"where", func() { Where(ar(2), ar(3), ar(3)) }, []string{"[2]", "[3]"}},
		{"squeeze", func() { ar(2, 3).Squeeze(0) }, []string{"[2 3]"}},
		{"permute", func() { ar(2, 3).Permute(0, 0) }, []string{"[2 3]"}},
		{"dim", func() { ar(2, 3).Sum(2, false) }, []string{"[2 3]", "dim 2"}},
		{"index", func() { ar(2, 3).IndexSelect(1, []int{3}) }, []string{"[2 3]", "index 3"}},
		{"split", func() { ar(5).Split(0, 2, 2) }, []string{"[5]"}},
		{"maxall empty", func() { Zeros(0, 2).MaxAll() }, []string{"[0 2]"}},
		{"new", func() { MustNew(make([]float64, 5), 2, 3) }, []string{"[2 3]"}},
		{"slice step", func() { ar(3).Slice(0, 0, 3, 0) }, []string{"[3]"}},
	}
	for _, tc := range cases {
		p := catch(tc.f)
		if p == nil {
			t.Errorf("%s: no panic", tc.name)
			continue
		}
		msg := fmt.Sprint(p)
		for _, n := range tc.names {
			if !strings.Contains(msg, n) {
				t.Errorf("%s: message %q does not mention %s", tc.name, msg, n)
			}
		}
	}
}

func TestRNGReproducible(t *testing.T) {
	a, b := RandN(7, 3, 4), RandN(7, 3, 4)
	if !Equal(a, b) {
		t.Fatal("same seed, different values")
	}
	if Equal(a, RandN(8, 3, 4)) {
		t.Fatal("different seeds, same values")
	}
	u := RandU(1, -2, 3, 1000)
	if u.MinAll() < -2 || u.MaxAll() >= 3 {
		t.Fatalf("uniform out of range: [%v, %v]", u.MinAll(), u.MaxAll())
	}
	n := NewRNG(3).Normal(5, 2, 20000)
	if m, s := n.MeanAll(), math.Sqrt(n.Var(0, false).Item()); math.Abs(m-5) > 0.1 || math.Abs(s-2) > 0.1 {
		t.Fatalf("normal(5, 2) sample has mean %v std %v", m, s)
	}
	p := NewRNG(1).Perm(10)
	seen := map[int]bool{}
	for _, v := range p {
		seen[v] = true
	}
	if len(seen) != 10 {
		t.Fatalf("Perm(10) = %v", p)
	}
}

func TestElementwiseLarge(t *testing.T) {
	// Coalesced broadcasting must agree with the plain definition on
	// shapes where rows are long and broadcast in the middle.
	a := RandN(1, 3, 1, 70, 5)
	b := RandN(2, 4, 1, 5)
	got := a.Mul(b)
	if !SameShape(got.Shape(), sh(3, 4, 70, 5)) {
		t.Fatalf("shape %v", got.Shape())
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 4; j++ {
			for k := 0; k < 70; k++ {
				for l := 0; l < 5; l++ {
					if want := a.At(i, 0, k, l) * b.At(j, 0, l); got.At(i, j, k, l) != want {
						t.Fatalf("at %d %d %d %d: %v want %v", i, j, k, l, got.At(i, j, k, l), want)
					}
				}
			}
		}
	}
}

func TestCore(t *testing.T) {
	x := ar(2, 3)
	c := x.Clone()
	c.Set(-1, -1, -1)
	if x.At(1, 2) != 5 || c.At(1, 2) != -1 {
		t.Error("Clone shares data")
	}
	if z := ZerosLike(x); !Equal(z, Zeros(2, 3)) {
		t.Error("ZerosLike")
	}
	if d := MaxAbsDiff(x, c); d != 6 {
		t.Errorf("MaxAbsDiff = %v", d)
	}
	if Scalar(3).Item() != 3 || Full(2, 1, 1).Item() != 2 {
		t.Error("Item")
	}
	for name, f := range map[string]func(){
		"item":     func() { x.Item() },
		"at rank":  func() { x.At(1) },
		"at range": func() { x.At(2, 0) },
		"dim":      func() { x.Dim(-3) },
		"zeros":    func() { Zeros(2, -1) },
		"diff":     func() { MaxAbsDiff(x, ar(3, 2)) },
		"arange":   func() { Arange(0, 1, 0) },
	} {
		if catch(f) == nil {
			t.Errorf("%s: no panic", name)
		}
	}
	if AllClose(x, ar(3, 2), 1, 1) || AllClose(mk(sh(1), math.NaN()), mk(sh(1), 1), 1, 1) {
		t.Error("AllClose")
	}
}
