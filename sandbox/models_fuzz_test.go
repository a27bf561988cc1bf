package sandbox

import (
	"testing"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// FuzzDecodeModels: the models inside a job's result (a value a party
// reports, decoded with serde.Unmarshal, models marked inside it) are
// decoded, or refused with an error, whatever the bytes; it never panics,
// and every model it returns encodes again.
func FuzzDecodeModels(f *testing.F) {
	m := nn.NewModel(nn.NewLinear(2, 1, tensor.NewRNG(1)))
	for _, v := range []any{m, []any{m, 1.5}, map[string]*nn.Model{"a": m}} {
		enc, err := encodeModels(v)
		if err != nil {
			f.Fatal(err)
		}
		b, err := serde.Marshal(enc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x81, 0xae})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := serde.Unmarshal(b, serde.Limits{MaxBytes: 1 << 20, MaxElements: 1 << 16})
		if err != nil {
			return
		}
		d, err := DecodeModels(v)
		if err != nil {
			return
		}
		if _, err := encodeModels(d); err != nil {
			t.Fatalf("decoded models do not encode: %v", err)
		}
	})
}
