package paillier

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

func TestEncodeFixed(t *testing.T) {
	huge, _ := new(big.Int).SetString("1000000000000000019884624838656", 10) // float64(1e30)
	for _, tc := range []struct {
		x     float64
		scale int
		want  *big.Int
	}{
		{0, 16, big.NewInt(0)},
		{1.5, 1, big.NewInt(3)},
		{1.5, 0, big.NewInt(2)}, // halves round away from zero
		{-1.5, 0, big.NewInt(-2)},
		{2.5, 0, big.NewInt(3)},
		{0.25, 1, big.NewInt(1)},
		{-0.25, 1, big.NewInt(-1)},
		{0.2, 0, big.NewInt(0)},
		{-0.7, 0, big.NewInt(-1)},
		{1e-30, 16, big.NewInt(0)},
		{0.5, 0, big.NewInt(1)},
		{0.49999999999999994, 0, big.NewInt(0)},
		{1e30, 0, huge},
		{-3.25, 16, big.NewInt(-3.25 * 65536)},
		{math.SmallestNonzeroFloat64, 1074, big.NewInt(1)},
		{math.MaxFloat64, 0, new(big.Int).Lsh(big.NewInt(1<<53-1), 1024-53)},
	} {
		got, err := encodeFixed(tc.x, tc.scale)
		if err != nil || got.Cmp(tc.want) != 0 {
			t.Errorf("encodeFixed(%g, %d) = %v, %v; want %v", tc.x, tc.scale, got, err, tc.want)
		}
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := encodeFixed(x, 16); err == nil {
			t.Errorf("encodeFixed(%g) succeeded", x)
		}
	}
}

func TestDecodeFixed(t *testing.T) {
	third, _ := new(big.Int).SetString("-113427455640312821154458202477256070485", 10) // -(2^128-1)/3
	for _, tc := range []struct {
		v     *big.Int
		scale int
		want  float64
	}{
		{big.NewInt(0), 16, 0},
		{big.NewInt(3), 1, 1.5},
		{big.NewInt(-3), 1, -1.5},
		{big.NewInt(-1), 1074, -math.SmallestNonzeroFloat64},
		{third, 128, -1.0 / 3},
		{new(big.Int).Lsh(one, 2000), 0, math.Inf(1)},
	} {
		if got := decodeFixed(tc.v, tc.scale); got != tc.want {
			t.Errorf("decodeFixed(%v, %d) = %g, want %g", tc.v, tc.scale, got, tc.want)
		}
	}
}

// randomValues returns n reproducible values spread over several magnitudes.
func randomValues(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, seed))
	out := make([]float64, n)
	for i := range out {
		out[i] = r.NormFloat64() * math.Pow(10, float64(r.IntN(7)-3))
	}
	return out
}

func TestSplitScalar(t *testing.T) {
	for _, s := range []float64{0, 1, -1, 0.5, 3, -0.75, 0.1, -1e-5, 1e300, math.Ldexp(1, 60), 1 / 3.0} {
		k, up := splitScalar(s)
		// k·2^-up must be exactly s, with k odd unless up is 0.
		got := new(big.Float).SetInt(k)
		got.SetMantExp(got, -up)
		if f, acc := got.Float64(); f != s || acc != big.Exact {
			t.Errorf("splitScalar(%g) = %v·2^-%d = %g (%v)", s, k, up, f, acc)
		}
		if up > 0 && k.Bit(0) == 0 {
			t.Errorf("splitScalar(%g) = %v·2^-%d is not minimal", s, k, up)
		}
	}
	if _, up := splitScalar(0.1); up != 55 {
		t.Errorf("splitScalar(0.1) raises the scale by %d, want 55", up)
	}
}

func mustEncrypt(t *testing.T, priv *PrivateKey, data []float64, shape ...int) *Tensor {
	t.Helper()
	ct, err := EncryptTensor(&priv.PublicKey, tensor.MustNew(data, shape...), DefaultPrecisionBits)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func mustDecrypt(t *testing.T, priv *PrivateKey, ct *Tensor) *tensor.Tensor {
	t.Helper()
	pt, err := priv.DecryptTensor(ct)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

func TestTensorRoundTrip(t *testing.T) {
	priv := testKey(t, 0)
	for _, tc := range []struct {
		name  string
		data  []float64
		shape []int
		prec  int
	}{
		{"scalar", []float64{-2.5}, []int{}, 16},
		{"empty", []float64{}, []int{0, 3}, 16},
		{"matrix", []float64{1, -1, 0.5, -0.5, 1e6, -1e6}, []int{2, 3}, 16},
		{"integers", []float64{-7, 0, 7}, []int{3}, 0},
		{"fine", []float64{math.Pi, -math.E, 1e-9}, []int{3}, 60},
		{"random", randomValues(1, 200), []int{10, 20}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := tensor.MustNew(tc.data, tc.shape...)
			for _, encrypt := range []func(*tensor.Tensor, int) (*Tensor, error){
				func(x *tensor.Tensor, p int) (*Tensor, error) { return EncryptTensor(&priv.PublicKey, x, p) },
				priv.EncryptTensor,
			} {
				ct, err := encrypt(x, tc.prec)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ct.Shape(), tc.shape) || ct.Size() != len(tc.data) || ct.Scale() != tc.prec || ct.PrecisionBits() != tc.prec {
					t.Fatalf("metadata: %v size %d scale %d precision %d", ct, ct.Size(), ct.Scale(), ct.PrecisionBits())
				}
				got := mustDecrypt(t, priv, ct)
				if !slices.Equal(got.Shape(), tc.shape) {
					t.Fatalf("decrypted shape %v, want %v", got.Shape(), tc.shape)
				}
				for i, v := range tc.data {
					want := math.Round(v*math.Ldexp(1, tc.prec)) / math.Ldexp(1, tc.prec)
					if got.Data()[i] != want {
						t.Errorf("element %d: got %g, want %g (from %g)", i, got.Data()[i], want, v)
					}
				}
			}
		})
	}
}

func TestTensorOps(t *testing.T) {
	priv := testKey(t, 0)
	// Values are multiples of 2^-16, so encryption at precision 16 is exact
	// and every expected value below is exact too.
	xs := []float64{1.5, -2.25, 3.125, -0.0625, 0, 100}
	ys := []float64{-4, 0.5, 2.75, -1.125, 7, -100.5}
	x := mustEncrypt(t, priv, xs, 2, 3)
	y := mustEncrypt(t, priv, ys, 2, 3)
	s := mustEncrypt(t, priv, []float64{-0.5})
	row := mustEncrypt(t, priv, []float64{10, -20, 30}, 3)
	plain := tensor.MustNew(append([]float64(nil), ys...), 2, 3)
	col := tensor.MustNew([]float64{1, -1}, 2, 1)

	must := func(ct *Tensor, err error) *Tensor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	tenth := must(x.MulScalar(0.1))
	elem := func(f func(i int) float64) []float64 {
		out := make([]float64, len(xs))
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		ct        *Tensor
		want      []float64
		wantScale int
	}{
		{"Add", must(x.Add(y)), elem(func(i int) float64 { return xs[i] + ys[i] }), 16},
		{"Sub", must(x.Sub(y)), elem(func(i int) float64 { return xs[i] - ys[i] }), 16},
		{"AddPlain", must(x.AddPlain(plain)), elem(func(i int) float64 { return xs[i] + ys[i] }), 16},
		{"AddPlain column", must(x.AddPlain(col)), elem(func(i int) float64 { return xs[i] + col.Data()[i/3] }), 16},
		{"Neg", x.Neg(), elem(func(i int) float64 { return -xs[i] }), 16},
		{"MulInt -3", x.MulInt(-3), elem(func(i int) float64 { return -3 * xs[i] }), 16},
		{"MulInt 0", x.MulInt(0), elem(func(i int) float64 { return 0 }), 16},
		{"MulScalar 4", must(x.MulScalar(4)), elem(func(i int) float64 { return 4 * xs[i] }), 16},
		{"MulScalar 0.5", must(x.MulScalar(0.5)), elem(func(i int) float64 { return 0.5 * xs[i] }), 17},
		{"MulScalar -2.25", must(x.MulScalar(-2.25)), elem(func(i int) float64 { return -2.25 * xs[i] }), 18},
		// The product is exact, then rounded once: just as Go rounds x*0.1.
		{"MulScalar 0.1", tenth, elem(func(i int) float64 { return xs[i] * 0.1 }), 16 + 55},
		{"Add scalar broadcast", must(x.Add(s)), elem(func(i int) float64 { return xs[i] - 0.5 }), 16},
		{"Sub from scalar", must(s.Sub(x)), elem(func(i int) float64 { return -0.5 - xs[i] }), 16},
		{"Add row broadcast", must(x.Add(row)), elem(func(i int) float64 { return xs[i] + row0(i) }), 16},
		// Mixed scales: y is lifted to the scale of tenth before adding.
		{"scaled Add", must(tenth.Add(y)), elem(func(i int) float64 { return exactSum(xs[i], 0.1, ys[i]) }), 71},
		{"scaled Sub", must(y.Sub(tenth)), elem(func(i int) float64 { return -exactSum(xs[i], 0.1, -ys[i]) }), 71},
		{"scaled AddPlain", must(tenth.AddPlain(plain)), elem(func(i int) float64 { return exactSum(xs[i], 0.1, ys[i]) }), 71},
		{"chain", must(must(x.MulScalar(-0.75)).Add(y.Neg())), elem(func(i int) float64 { return -0.75*xs[i] - ys[i] }), 18},
		{"Rerandomize", must(x.Rerandomize()), xs, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ct.Scale() != tc.wantScale {
				t.Errorf("scale %d, want %d", tc.ct.Scale(), tc.wantScale)
			}
			if !slices.Equal(tc.ct.Shape(), []int{2, 3}) {
				t.Errorf("shape %v, want [2 3]", tc.ct.Shape())
			}
			got := mustDecrypt(t, priv, tc.ct).Data()
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// row0 is the broadcast value of row [10 -20 30] at flat index i of a 2x3.
func row0(i int) float64 { return []float64{10, -20, 30}[i%3] }

// exactSum returns a·b + c rounded once to float64.
func exactSum(a, b, c float64) float64 {
	r := new(big.Rat).Mul(new(big.Rat).SetFloat64(a), new(big.Rat).SetFloat64(b))
	r.Add(r, new(big.Rat).SetFloat64(c))
	f, _ := r.Float64()
	return f
}

// TestTensorOpsRandom checks the ops on values that are not exact in fixed
// point, against float64 arithmetic, within the encoding error.
func TestTensorOpsRandom(t *testing.T) {
	priv := testKey(t, 1)
	xs, ys := randomValues(2, 300), randomValues(3, 300)
	x := mustEncrypt(t, priv, xs, 300)
	y := mustEncrypt(t, priv, ys, 300)
	step := math.Ldexp(1, -DefaultPrecisionBits) // encoding error is at most step/2
	sum, err := x.Sub(y)
	if err != nil {
		t.Fatal(err)
	}
	sum, err = sum.MulScalar(-1.7)
	if err != nil {
		t.Fatal(err)
	}
	got := mustDecrypt(t, priv, sum).Data()
	for i := range xs {
		want := -1.7 * (xs[i] - ys[i])
		if math.Abs(got[i]-want) > 1.7*step+1e-12 {
			t.Errorf("element %d: got %g, want %g", i, got[i], want)
		}
	}
}

func TestTensorErrors(t *testing.T) {
	k0, k1 := testKey(t, 0), testKey(t, 1)
	a := mustEncrypt(t, k0, []float64{1, 2, 3, 4, 5, 6}, 2, 3)
	b := mustEncrypt(t, k1, []float64{1, 2, 3, 4, 5, 6}, 2, 3)
	c := mustEncrypt(t, k0, []float64{1, 2, 3, 4}, 4)
	_, errAdd := a.Add(b)
	_, errSub := a.Sub(b)
	_, errDec := k1.DecryptTensor(a)
	for name, err := range map[string]error{"Add": errAdd, "Sub": errSub, "DecryptTensor": errDec} {
		if !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), "different public keys") {
			t.Errorf("%s across keys: error = %v, want ErrKeyMismatch", name, err)
		}
	}

	_, errShape := a.Add(c)
	_, errPlain := a.AddPlain(tensor.Zeros(5))
	for _, tc := range []struct {
		name  string
		err   error
		other string
	}{{"Add", errShape, "[4]"}, {"AddPlain", errPlain, "[5]"}} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), "shapes [2 3] and "+tc.other) {
			t.Errorf("%s with mismatched shapes: error = %v, want both shapes named", tc.name, tc.err)
		}
	}

	pub := &k0.PublicKey
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"NaN element", encErr(pub, []float64{0, math.NaN()}, 16), "element 1"},
		{"too large", encErr(pub, []float64{1e200}, 16), "does not fit"},
		{"negative precision", encErr(pub, []float64{1}, -1), "precision of -1 bits out of range"},
		{"huge precision", encErr(pub, []float64{1}, pub.maxScale()+1), "out of range"},
		{"AddPlain too large", second(a.AddPlain(tensor.Full(1e200, 3))), "does not fit"},
		{"AddPlain Inf", second(a.AddPlain(tensor.Scalar(math.Inf(-1)))), "not finite"},
		{"MulScalar NaN", second(a.MulScalar(math.NaN())), "not finite"},
		{"MulScalar Inf", second(a.MulScalar(math.Inf(1))), "not finite"},
		{"MulScalar scale", second(a.MulScalar(math.SmallestNonzeroFloat64)), "decrypt and re-encrypt"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want one containing %q", tc.name, tc.err, tc.want)
		}
	}

	// Repeated fractional products stop at the key's scale limit with an
	// error, rather than overflowing the plaintext space silently.
	x := a
	var err error
	for i := 0; err == nil; i++ {
		if i > pub.maxScale() {
			t.Fatal("MulScalar(0.1) never reached the scale limit")
		}
		x, err = x.MulScalar(0.1)
	}
}

func encErr(pub *PublicKey, data []float64, prec int) error {
	_, err := EncryptTensor(pub, tensor.FromSlice(data), prec)
	return err
}

func second(_ *Tensor, err error) error { return err }

func TestBroadcastIndex(t *testing.T) {
	for _, tc := range []struct {
		out, in []int
		want    []int
	}{
		{[]int{2, 3}, []int{2, 3}, nil},
		{[]int{2, 3}, []int{}, []int{0, 0, 0, 0, 0, 0}},
		{[]int{2, 3}, []int{3}, []int{0, 1, 2, 0, 1, 2}},
		{[]int{2, 3}, []int{2, 1}, []int{0, 0, 0, 1, 1, 1}},
		{[]int{2, 2, 2}, []int{2, 1, 2}, []int{0, 1, 0, 1, 2, 3, 2, 3}},
		{[]int{0, 3}, []int{1, 3}, []int{}},
	} {
		if got := broadcastIndex(tc.out, tc.in); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("broadcastIndex(%v, %v) = %v, want %v", tc.out, tc.in, got, tc.want)
		}
	}
}

func TestParallelFor(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		hits := make([]atomic.Int32, n)
		if err := parallelFor(n, func(i int) error { hits[i].Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		for i := range hits {
			if hits[i].Load() != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, hits[i].Load())
			}
		}
	}
	err := parallelFor(1000, func(i int) error {
		if i%100 == 37 {
			return fmt.Errorf("fail %d", i)
		}
		return nil
	})
	// Later failures may be skipped, but chunks are claimed in index order
	// and a claimed chunk runs until its own first failure, so the lowest
	// failing index is always reached.
	if err == nil || err.Error() != "fail 37" {
		t.Errorf("parallelFor error = %v, want fail 37", err)
	}
}
