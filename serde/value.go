package serde

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/gomplab/gomplab/tensor"
	"github.com/vmihailenco/msgpack/v5"
)

// Marshal encodes a dynamically typed value: scalars, strings, bytes,
// tensors, errors, and lists and string-keyed maps of them, normalized as
// the package documentation describes. Nesting deeper than
// DefaultLimits.MaxDepth (which includes any cyclic value) is an error, as
// is any type outside that set.
func Marshal(v any) ([]byte, error) {
	var buf appendWriter
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	m := marshaler{enc: enc}
	if err := m.value(v, 0); err != nil {
		return nil, err
	}
	return buf.b, nil
}

// appendWriter collects msgpack's output with append, which (unlike
// bytes.Buffer) does not zero the memory a large tensor is about to fill.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

// MarshalError reports a value Marshal cannot encode.
type MarshalError struct {
	Path string // where in the value, e.g. `[0]["weights"]`; empty at top level
	Msg  string
}

// Error names the value that cannot be encoded.
func (e *MarshalError) Error() string {
	if e.Path == "" {
		return "serde: Marshal: " + e.Msg
	}
	return "serde: Marshal: at " + e.Path + ": " + e.Msg
}

type marshaler struct {
	enc *msgpack.Encoder
}

func (m *marshaler) value(v any, depth int) error {
	e := m.enc
	switch x := v.(type) {
	case nil:
		return e.EncodeNil()
	case bool:
		return e.EncodeBool(x)
	case int:
		return e.EncodeInt(int64(x))
	case int8:
		return e.EncodeInt(int64(x))
	case int16:
		return e.EncodeInt(int64(x))
	case int32:
		return e.EncodeInt(int64(x))
	case int64:
		return e.EncodeInt(x)
	case uint:
		return e.EncodeUint(uint64(x))
	case uint8:
		return e.EncodeUint(uint64(x))
	case uint16:
		return e.EncodeUint(uint64(x))
	case uint32:
		return e.EncodeUint(uint64(x))
	case uint64:
		return e.EncodeUint(x)
	case float32:
		return e.EncodeFloat64(float64(x))
	case float64:
		return e.EncodeFloat64(x)
	case string:
		return e.EncodeString(x)
	case []byte:
		return e.EncodeBytes(x)
	case *tensor.Tensor:
		if x == nil {
			return e.EncodeNil()
		}
		return m.tensor(x.Shape(), x.Data())
	case []float64:
		if x == nil {
			return e.EncodeNil()
		}
		return m.tensor([]int{len(x)}, x)
	case []float32:
		if x == nil {
			return e.EncodeNil()
		}
		w := make([]float64, len(x))
		for i, f := range x {
			w[i] = float64(f)
		}
		return m.tensor([]int{len(x)}, w)
	case *RemoteError:
		if x == nil {
			return e.EncodeNil()
		}
		return m.remoteError(x)
	case error:
		return m.remoteError(ToRemoteError(x))
	case []any:
		if x == nil {
			return e.EncodeNil()
		}
		if err := m.enter(depth); err != nil {
			return err
		}
		if err := e.EncodeArrayLen(len(x)); err != nil {
			return err
		}
		for i, item := range x {
			if err := m.value(item, depth+1); err != nil {
				return inMarshalPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return nil
	case map[string]any:
		if x == nil {
			return e.EncodeNil()
		}
		if err := m.enter(depth); err != nil {
			return err
		}
		if err := e.EncodeMapLen(len(x)); err != nil {
			return err
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := e.EncodeString(k); err != nil {
				return err
			}
			if err := m.value(x[k], depth+1); err != nil {
				return inMarshalPath(err, "["+strconv.Quote(k)+"]")
			}
		}
		return nil
	}
	return m.reflectValue(reflect.ValueOf(v), depth)
}

// reflectValue handles named types and typed slices and maps, by kind.
func (m *marshaler) reflectValue(rv reflect.Value, depth int) error {
	e := m.enc
	switch rv.Kind() {
	case reflect.Bool:
		return e.EncodeBool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return e.EncodeInt(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return e.EncodeUint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return e.EncodeFloat64(rv.Float())
	case reflect.String:
		return e.EncodeString(rv.String())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return e.EncodeNil()
		}
		switch rv.Type().Elem().Kind() {
		case reflect.Uint8:
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return e.EncodeBytes(b)
		case reflect.Float64, reflect.Float32:
			w := make([]float64, rv.Len())
			for i := range w {
				w[i] = rv.Index(i).Float()
			}
			return m.tensor([]int{len(w)}, w)
		}
		if err := m.enter(depth); err != nil {
			return err
		}
		if err := e.EncodeArrayLen(rv.Len()); err != nil {
			return err
		}
		for i := range rv.Len() {
			if err := m.value(rv.Index(i).Interface(), depth+1); err != nil {
				return inMarshalPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return &MarshalError{Msg: fmt.Sprintf("map key type %s is not a string", rv.Type().Key())}
		}
		if rv.IsNil() {
			return e.EncodeNil()
		}
		if err := m.enter(depth); err != nil {
			return err
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		if err := e.EncodeMapLen(len(keys)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := e.EncodeString(k.String()); err != nil {
				return err
			}
			if err := m.value(rv.MapIndex(k).Interface(), depth+1); err != nil {
				return inMarshalPath(err, "["+strconv.Quote(k.String())+"]")
			}
		}
		return nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return e.EncodeNil()
		}
	}
	return &MarshalError{Msg: fmt.Sprintf("cannot encode type %s (use EncodeBody for structs)", rv.Type())}
}

func (m *marshaler) enter(depth int) error {
	if depth+1 > DefaultLimits.MaxDepth {
		return &MarshalError{Msg: fmt.Sprintf("nesting deeper than %d (is the value cyclic?)", DefaultLimits.MaxDepth)}
	}
	return nil
}

// tensor writes the extension header and header bytes, then the data
// straight from the tensor's memory on little-endian hosts.
func (m *marshaler) tensor(shape []int, data []float64) error {
	if err := checkTensor(shape, data); err != nil {
		return &MarshalError{Msg: err.Error()}
	}
	h := tensorHeader(shape, Float64)
	n := len(h) + 8*len(data)
	if n > math.MaxUint32 {
		return &MarshalError{Msg: fmt.Sprintf("tensor of shape %v takes %d bytes, over the 4 GiB MessagePack extension limit", shape, n)}
	}
	if err := m.enc.EncodeExtHeader(ExtTensor, n); err != nil {
		return err
	}
	w := m.enc.Writer()
	if _, err := w.Write(h); err != nil {
		return err
	}
	var err error
	if littleEndian {
		_, err = w.Write(float64Bytes(data))
	} else {
		_, err = w.Write(appendData(nil, data, Float64))
	}
	return err
}

func (m *marshaler) remoteError(re *RemoteError) error {
	p, err := errorPayload(re)
	if err != nil {
		return err
	}
	if err := m.enc.EncodeExtHeader(ExtError, len(p)); err != nil {
		return err
	}
	_, err = m.enc.Writer().Write(p)
	return err
}

func inMarshalPath(err error, seg string) error {
	if me, ok := err.(*MarshalError); ok {
		me.Path = seg + me.Path
	}
	return err
}

// Unmarshal decodes one value written by Marshal (or by any MessagePack
// encoder) under lim. It returns only the types listed in the package
// documentation; a tensor or []byte in the result never aliases b.
func Unmarshal(b []byte, lim Limits) (any, error) {
	lim = lim.orDefault()
	const op = "Unmarshal"
	if err := checkSize(op, b, lim); err != nil {
		return nil, err
	}
	r := newReader(op, b, lim)
	v, err := r.value(0, true)
	if err != nil {
		return nil, err
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return v, nil
}
