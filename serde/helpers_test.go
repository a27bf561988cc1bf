package serde

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// specials are float64 values whose bits a careless codec would change.
var specials = []float64{
	0, math.Copysign(0, -1), 1, -1.5, math.Inf(1), math.Inf(-1),
	math.NaN(),
	math.Float64frombits(0x7ff8_0000_0000_beef), // quiet NaN with a payload
	math.Float64frombits(0xfff8_0000_0000_0001), // negative NaN
	math.Float64frombits(0x7ff0_0000_0000_0001), // signaling NaN
	math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, math.Pi,
}

// filled returns a tensor of the given shape whose elements cycle through
// specials and counting numbers.
func filled(shape ...int) *tensor.Tensor {
	data := make([]float64, tensor.Numel(shape))
	for i := range data {
		if i%3 == 0 {
			data[i] = specials[(i/3)%len(specials)]
		} else {
			data[i] = float64(i) / 7
		}
	}
	return tensor.MustNew(data, shape...)
}

// bitsEqual reports whether a and b have the same shape and the same bits
// in every element (unlike tensor.Equal, it tells -0 from 0 and NaNs apart).
func bitsEqual(a, b *tensor.Tensor) bool {
	if !tensor.SameShape(a.Shape(), b.Shape()) || a.Size() != b.Size() {
		return false
	}
	ad, bd := a.Data(), b.Data()
	for i := range ad {
		if math.Float64bits(ad[i]) != math.Float64bits(bd[i]) {
			return false
		}
	}
	return true
}

// sameValue compares two decoded values exactly, floats and tensors by bits.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case *tensor.Tensor:
		y, ok := b.(*tensor.Tensor)
		return ok && bitsEqual(x, y)
	case *RemoteError:
		y, ok := b.(*RemoteError)
		return ok && *x == *y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}

// wantErr checks that err wraps kind and mentions every fragment.
func wantErr(t *testing.T, err, kind error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Fatalf("error %q is not %v", err, kind)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("error %q does not mention %q", err, f)
		}
	}
}
