package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/spf13/cobra"
)

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "demo",
		Short: "Run the main demo (for now: tensors and the serde wire format)",
		Long: `Run the main demo, which needs nothing but this binary: it builds a few
tensors, shows broadcasting, a reduction and a matmul, then sends a tensor,
a nested value and a framed message through serde and back.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.OutOrStdout())
		},
	})
}

// runDemo writes the demo to w.
func runDemo(w io.Writer) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }

	p("gomplab demo: dense tensors and the serde wire format\n\n== Tensors ==\n")
	x := tensor.Arange(0, 6, 1).Reshape(2, 3)
	b := tensor.FromSlice([]float64{10, 20, 30})
	p("x = arange(6).reshape(2, 3)\n%s\n", indent(x))
	p("b = %v\n", b)
	sum := x.Add(b)
	p("x + b  broadcasts %s with %s to %s:\n%s\n", shapeOf(x), shapeOf(b), shapeOf(sum), indent(sum))
	p("x.sum(dim=1) = %v    x.mean() = %v\n", x.Sum(1, false), x.MeanAll())
	xxT := tensor.MatMul(x, x.T())
	p("x @ x.T  matmul %s x %s:\n%s\n", shapeOf(x), shapeOf(x.T()), indent(xxT))
	sm := tensor.Softmax(x, 1)
	p("softmax(x, dim=1):\n%s\n  rows sum to %v\n", indent(sm), sm.Sum(1, false))

	p("\n== Serde ==\n")
	r := tensor.RandN(42, 256, 256)
	enc, err := serde.EncodeTensor(r)
	if err != nil {
		return err
	}
	back, err := serde.DecodeTensor(enc, serde.DefaultLimits)
	if err != nil {
		return err
	}
	p("tensor %s of random normals: %d data bytes -> %d encoded (%d of header); decoded bit-exactly: %v\n",
		shapeOf(r), 8*r.Size(), len(enc), len(enc)-8*r.Size(), sameBits(r, back))

	value := map[string]any{
		"epoch":    3,
		"accuracy": 0.93,
		"labels":   []string{"cat", "dog"},
		"logits":   xxT,
	}
	venc, err := serde.Marshal(value)
	if err != nil {
		return err
	}
	decoded, err := serde.Unmarshal(venc, serde.DefaultLimits)
	if err != nil {
		return err
	}
	again, err := serde.Marshal(decoded)
	if err != nil {
		return err
	}
	p("nested value, %d bytes:\n  sent     %s\n  received %s\n  re-encodes to identical bytes: %v\n",
		len(venc), describe(value), describe(decoded), bytes.Equal(venc, again))

	type result struct {
		Tag    string         `msgpack:"tag"`
		Tensor *tensor.Tensor `msgpack:"tensor"`
	}
	body, err := serde.EncodeBody(result{Tag: "logits", Tensor: xxT})
	if err != nil {
		return err
	}
	msg, err := serde.EncodeEnvelope(serde.Envelope{Type: "result", ID: 1, Body: body})
	if err != nil {
		return err
	}
	var stream bytes.Buffer
	if err := serde.WriteFrame(&stream, msg); err != nil {
		return err
	}
	framed := stream.Len()
	frame, err := serde.ReadFrame(&stream, serde.DefaultLimits.MaxBytes)
	if err != nil {
		return err
	}
	env, err := serde.DecodeEnvelope(frame, serde.DefaultLimits)
	if err != nil {
		return err
	}
	var got result
	if err := serde.DecodeBody(env.Body, &got, serde.DefaultLimits); err != nil {
		return err
	}
	p("message %q #%d (version %d) in a %d-byte frame; body tag %q, tensor %s, equal: %v\n",
		env.Type, env.ID, env.Version, framed, got.Tag, shapeOf(got.Tensor), sameBits(xxT, got.Tensor))

	_, err = serde.Unmarshal(venc[:len(venc)-5], serde.DefaultLimits)
	p("the nested value with its last 5 bytes cut off is refused:\n  %v\n", err)
	return nil
}

// indent prefixes every line of t's printed form with two spaces.
func indent(t *tensor.Tensor) string {
	return "  " + strings.ReplaceAll(t.String(), "\n", "\n  ")
}

// shapeOf formats a shape as NumPy does: (2, 3), (3,), ().
func shapeOf(t *tensor.Tensor) string {
	s := t.Shape()
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// describe summarizes a value's shape of types in one line, keys sorted.
func describe(v any) string {
	switch x := v.(type) {
	case *tensor.Tensor:
		return "tensor" + shapeOf(x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + describe(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = describe(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case []string:
		return fmt.Sprintf("%q", x)
	case string:
		return strconv.Quote(x)
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// sameBits reports whether a and b have the same shape and element bits.
func sameBits(a, b *tensor.Tensor) bool {
	if !tensor.SameShape(a.Shape(), b.Shape()) {
		return false
	}
	enc1, err1 := serde.EncodeTensor(a)
	enc2, err2 := serde.EncodeTensor(b)
	return err1 == nil && err2 == nil && bytes.Equal(enc1, enc2)
}
