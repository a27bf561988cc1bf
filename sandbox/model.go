package sandbox

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// ModelStore is a Store that also holds models by tag (nn.ModelStore):
// a party's nn.LoadModel reads from it on the source rank.
type ModelStore = nn.ModelStore

// modelWire is a plaintext model as it crosses a process boundary: its
// architecture (nn.Spec as JSON) and its parameters and buffers by name.
// The receiver rebuilds it with nn.BuildModel, which bounds what a spec
// can allocate, and LoadStateDict, which checks every name and shape.
type modelWire struct {
	Spec   []byte           `msgpack:"spec"`
	Names  []string         `msgpack:"names"`
	Values []*tensor.Tensor `msgpack:"values"`
}

func encodeModel(m *nn.Model) (*modelWire, error) {
	if m == nil {
		return nil, errors.New("nil model")
	}
	if m.Encrypted() {
		return nil, errors.New("the model is encrypted: decrypt it first (Decrypt, or DecryptTo a rank)")
	}
	s, err := m.Spec()
	if err != nil {
		return nil, err
	}
	sj, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	sd, err := m.StateDict()
	if err != nil {
		return nil, err
	}
	w := &modelWire{Spec: sj}
	for _, p := range m.Params() {
		w.Names = append(w.Names, p.Name)
		w.Values = append(w.Values, sd[p.Name])
	}
	return w, nil
}

func decodeModel(w *modelWire) (*nn.Model, error) {
	if w == nil {
		return nil, errors.New("no model")
	}
	if len(w.Names) != len(w.Values) {
		return nil, fmt.Errorf("model with %d names but %d values", len(w.Names), len(w.Values))
	}
	s, err := nn.UnmarshalSpec(w.Spec)
	if err != nil {
		return nil, err
	}
	m, err := nn.BuildModel(s)
	if err != nil {
		return nil, err
	}
	sd := make(map[string]*tensor.Tensor, len(w.Names))
	for i, n := range w.Names {
		sd[n] = w.Values[i]
	}
	if err := m.LoadStateDict(sd); err != nil {
		return nil, err
	}
	return m, nil
}

// nnBindings overlays nn.LoadModel, bound to the run's party, on a copy
// of the nn table: it is nn.LoadEncryptedModel on that party, so jobs and
// natively compiled programs (where nn.LoadModel uses mpc.Default) agree.
func nnBindings(table map[string]reflect.Value, get func() *mpc.Party, s Store) map[string]reflect.Value {
	need := boundParty(get, s)
	out := make(map[string]reflect.Value, len(table)+1)
	for k, v := range table {
		out[k] = v
	}
	out["LoadModel"] = reflect.ValueOf(func(tag string, src int) (*nn.Model, error) {
		return nn.LoadEncryptedModel(need(), tag, src)
	})
	return out
}

// modelKey marks a model inside a returned value: a map with this one key.
const modelKey = "$gomplab.model"

// encodeModels replaces every plaintext *nn.Model in a returned value
// with its wire form, so serde can carry it; DecodeModels reverses it.
func encodeModels(v any) (any, error) {
	switch x := v.(type) {
	case *nn.Model:
		if x == nil {
			return nil, nil
		}
		w, err := encodeModel(x)
		if err != nil {
			return nil, fmt.Errorf("returned model: %w", err)
		}
		vals := make([]any, len(w.Values))
		names := make([]any, len(w.Names))
		for i := range w.Values {
			vals[i], names[i] = w.Values[i], w.Names[i]
		}
		return map[string]any{modelKey: map[string]any{"spec": string(w.Spec), "names": names, "values": vals}}, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = encodeModels(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = encodeModels(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	// Typed slices and maps of models ([]*nn.Model, map[string]*nn.Model).
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		if rv.Type().Elem() == reflect.TypeOf((*nn.Model)(nil)) {
			list := make([]any, rv.Len())
			for i := range list {
				list[i] = rv.Index(i).Interface()
			}
			return encodeModels(list)
		}
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String && rv.Type().Elem() == reflect.TypeOf((*nn.Model)(nil)) {
			m := make(map[string]any, rv.Len())
			for _, k := range rv.MapKeys() {
				m[k.String()] = rv.MapIndex(k).Interface()
			}
			return encodeModels(m)
		}
	}
	return v, nil
}

// DecodeModels turns the models inside a value decoded from a party's
// result (serde.Unmarshal) back into *nn.Model.
func DecodeModels(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			d, err := DecodeModels(e)
			if err != nil {
				return nil, err
			}
			x[i] = d
		}
		return x, nil
	case map[string]any:
		if len(x) == 1 {
			if mw, ok := x[modelKey].(map[string]any); ok {
				return decodeModelValue(mw)
			}
		}
		for k, e := range x {
			d, err := DecodeModels(e)
			if err != nil {
				return nil, err
			}
			x[k] = d
		}
	}
	return v, nil
}

func decodeModelValue(mw map[string]any) (*nn.Model, error) {
	spec, _ := mw["spec"].(string)
	names, _ := mw["names"].([]any)
	vals, _ := mw["values"].([]any)
	w := &modelWire{Spec: []byte(spec)}
	for i := range names {
		n, ok := names[i].(string)
		if !ok {
			return nil, fmt.Errorf("returned model: parameter name %d is a %T", i, names[i])
		}
		w.Names = append(w.Names, n)
	}
	for i := range vals {
		t, ok := vals[i].(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("returned model: parameter %d is a %T", i, vals[i])
		}
		w.Values = append(w.Values, t)
	}
	m, err := decodeModel(w)
	if err != nil {
		return nil, fmt.Errorf("returned model: %w", err)
	}
	return m, nil
}
