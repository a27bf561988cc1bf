package sandbox

import (
	"fmt"
	"math"
	"reflect"
	"sort"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

// convertArg converts a public argument, as serde.Unmarshal produces it
// (nil, bool, int64, uint64, float64, string, []byte, *tensor.Tensor,
// []any, map[string]any) or as a Go caller passes it, to the parameter
// type t. Only what converts exactly is accepted: 2.5 does not become an
// int, 300 does not become an int8.
func convertArg(v any, t reflect.Type) (reflect.Value, error) {
	if v == nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			return reflect.Zero(t), nil
		}
		return reflect.Value{}, fmt.Errorf("nil for a parameter of type %s", t)
	}
	rv := reflect.ValueOf(v)
	if rv.Type().AssignableTo(t) {
		return rv, nil
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		switch x := v.(type) {
		case int64:
			i = x
		case int:
			i = int64(x)
		case uint64:
			if x > math.MaxInt64 {
				return reflect.Value{}, fmt.Errorf("%d overflows %s", x, t)
			}
			i = int64(x)
		case float64:
			if x != math.Trunc(x) || math.Abs(x) > 1<<62 {
				return reflect.Value{}, fmt.Errorf("%v is not an integer (parameter of type %s)", x, t)
			}
			i = int64(x)
		default:
			return reflect.Value{}, mismatch(v, t)
		}
		out := reflect.New(t).Elem()
		if out.OverflowInt(i) {
			return reflect.Value{}, fmt.Errorf("%d overflows %s", i, t)
		}
		out.SetInt(i)
		return out, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var u uint64
		switch x := v.(type) {
		case int64:
			if x < 0 {
				return reflect.Value{}, fmt.Errorf("%d is negative (parameter of type %s)", x, t)
			}
			u = uint64(x)
		case int:
			if x < 0 {
				return reflect.Value{}, fmt.Errorf("%d is negative (parameter of type %s)", x, t)
			}
			u = uint64(x)
		case uint64:
			u = x
		default:
			return reflect.Value{}, mismatch(v, t)
		}
		out := reflect.New(t).Elem()
		if out.OverflowUint(u) {
			return reflect.Value{}, fmt.Errorf("%d overflows %s", u, t)
		}
		out.SetUint(u)
		return out, nil
	case reflect.Float32, reflect.Float64:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		case int:
			f = float64(x)
		case uint64:
			f = float64(x)
		default:
			return reflect.Value{}, mismatch(v, t)
		}
		out := reflect.New(t).Elem()
		out.SetFloat(f)
		return out, nil
	case reflect.Slice:
		// serde sends []float64 as a 1-D tensor.
		if tt, ok := v.(*tensor.Tensor); ok && t.Elem().Kind() == reflect.Float64 {
			if tt.Dims() != 1 {
				return reflect.Value{}, fmt.Errorf("a tensor of shape %v for a parameter of type %s", tt.Shape(), t)
			}
			return convertArg(anySlice(tt.Data()), t)
		}
		if t.Elem().Kind() == reflect.Uint8 {
			if b, ok := v.([]byte); ok {
				return reflect.ValueOf(append([]byte{}, b...)).Convert(t), nil
			}
		}
		list, ok := v.([]any)
		if !ok {
			return reflect.Value{}, mismatch(v, t)
		}
		out := reflect.MakeSlice(t, len(list), len(list))
		for i, e := range list {
			ev, err := convertArg(e, t.Elem())
			if err != nil {
				return reflect.Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			out.Index(i).Set(ev)
		}
		return out, nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return reflect.Value{}, mismatch(v, t)
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for k, e := range m {
			ev, err := convertArg(e, t.Elem())
			if err != nil {
				return reflect.Value{}, fmt.Errorf("[%q]: %w", k, err)
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		return out, nil
	case reflect.String, reflect.Bool:
		if rv.Type().ConvertibleTo(t) && rv.Kind() == t.Kind() {
			return rv.Convert(t), nil
		}
	}
	return reflect.Value{}, mismatch(v, t)
}

func anySlice(xs []float64) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func mismatch(v any, t reflect.Type) error {
	return fmt.Errorf("cannot use %T as %s", v, t)
}

// checkResult walks a returned value and refuses what must not or cannot
// leave the party, with a message saying what to do instead. Encoding
// (serde.Marshal) catches the remaining unsupported types.
func checkResult(v any) error {
	return walkResult(reflect.ValueOf(v), "", 0)
}

func walkResult(v reflect.Value, at string, depth int) error {
	if !v.IsValid() || depth > 64 {
		return nil
	}
	where := func() string {
		if at == "" {
			return "the result"
		}
		return "the result at " + at
	}
	switch x := v.Interface().(type) {
	case *mpc.CrypTensor:
		// In a job, pointers were replaced by their shares
		// (encodeShares), in []any, map[string]any and typed slices and
		// maps of them.
		return fmt.Errorf("%s is an encrypted *mpc.CrypTensor where it cannot be returned: decrypt it with GetPlainText() (every party must call it), or return it alone or in a []any or map[string]any from a job", where())
	case mpc.CrypTensor:
		return fmt.Errorf("%s is an encrypted tensor value: return the *mpc.CrypTensor itself, alone or in a []any or map[string]any", where())
	case *mpc.BinTensor, mpc.BinTensor:
		return fmt.Errorf("%s is an encrypted *mpc.BinTensor: convert it with ToArithmetic() to return it encrypted", where())
	case *mpc.Party, mpc.Party:
		return fmt.Errorf("%s is an *mpc.Party, which cannot leave its worker", where())
	case *tensor.Tensor:
		_ = x
		return nil
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return walkResult(v.Elem(), at, depth+1)
	case reflect.Struct:
		// The program's own types (serde refuses them later), searched
		// for what must not leave.
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanInterface() {
				if err := walkResult(f, at+"."+v.Type().Field(i).Name, depth+1); err != nil {
					return err
				}
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := walkResult(v.Index(i), fmt.Sprintf("%s[%d]", at, i), depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			if err := walkResult(v.MapIndex(k), fmt.Sprintf("%s[%v]", at, k), depth+1); err != nil {
				return err
			}
		}
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return fmt.Errorf("%s is a %s, which cannot be sent back", where(), v.Type())
	}
	return nil
}

// normalizeNil turns typed nils (a nil *tensor.Tensor returned as any)
// into plain nil.
func normalizeNil(v any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Func, reflect.Chan:
		if rv.IsNil() {
			return nil
		}
	}
	return v
}
