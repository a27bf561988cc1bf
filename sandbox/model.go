package sandbox

import (
	"fmt"
	"reflect"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/mpc/nn/modelcodec"
	"github.com/gomplab/gomplab/serde"
)

// ModelStore is a Store that also holds models by tag (nn.ModelStore):
// a party's nn.LoadModel reads from it on the source rank.
type ModelStore = nn.ModelStore

// Models cross a process boundary (the child pipe, a job's result) as
// modelcodec blobs: the architecture and weights, rebuilt by the receiver
// within limits. An encrypted model cannot be encoded (modelcodec.Encode
// says to decrypt it first).

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
		blob, err := modelcodec.Encode(x)
		if err != nil {
			return nil, fmt.Errorf("returned model: %w", err)
		}
		return map[string]any{modelKey: blob}, nil
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
			if blob, ok := x[modelKey].([]byte); ok {
				m, err := modelcodec.Decode(blob, serde.Limits{})
				if err != nil {
					return nil, fmt.Errorf("returned model: %w", err)
				}
				return m, nil
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
