package serde_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

func ExampleEncodeTensor() {
	x := tensor.MustNew([]float64{1, math.NaN(), math.Inf(-1), math.Copysign(0, -1), 5, 6}, 2, 3)
	b, err := serde.EncodeTensor(x)
	if err != nil {
		panic(err)
	}
	y, err := serde.DecodeTensor(b, serde.DefaultLimits)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(b), "bytes for", x.Size(), "elements")
	fmt.Println(y.Shape(), y.Data())
	fmt.Println("sign of -0 kept:", math.Signbit(y.At(1, 0)))
	// Output:
	// 55 bytes for 6 elements
	// [2 3] [1 NaN -Inf -0 5 6]
	// sign of -0 kept: true
}

func ExampleDecodeTensor_badInput() {
	b, _ := serde.EncodeTensor(tensor.Zeros(100))
	_, err := serde.DecodeTensor(b[:50], serde.DefaultLimits)
	fmt.Println(err)
	fmt.Println(errors.Is(err, serde.ErrTruncated))

	_, err = serde.DecodeTensor(b, serde.Limits{MaxElements: 10})
	fmt.Println(err)
	// Output:
	// serde: DecodeTensor: at byte 4: truncated input: tensor payload needs 803 bytes, 46 left
	// true
	// serde: DecodeTensor: at byte 5: limit exceeded: tensor of shape [100] has 100 elements; the element limit leaves room for 10
}

func ExampleMarshal() {
	result := map[string]any{
		"epoch":  3,                               // any integer type travels as an integer
		"loss":   float32(0.5),                    // float32 widens to float64
		"scores": []float64{0.25, 0.75},           // numeric slices travel as tensors
		"tags":   []string{"a", "b"},              // other slices become []any
		"err":    errors.New("worker 2: no data"), // errors become *RemoteError
	}
	b, err := serde.Marshal(result)
	if err != nil {
		panic(err)
	}
	v, err := serde.Unmarshal(b, serde.DefaultLimits)
	if err != nil {
		panic(err)
	}
	m := v.(map[string]any)
	fmt.Printf("%T %v\n", m["epoch"], m["epoch"])
	fmt.Printf("%T %v\n", m["loss"], m["loss"])
	fmt.Printf("%T %v\n", m["scores"], m["scores"].(*tensor.Tensor).Data())
	fmt.Printf("%T %v\n", m["tags"], m["tags"])
	fmt.Printf("%T %v\n", m["err"], m["err"])
	// Output:
	// int64 3
	// float64 0.5
	// *tensor.Tensor [0.25 0.75]
	// []interface {} [a b]
	// *serde.RemoteError worker 2: no data
}

func ExampleUnmarshal_limits() {
	deep := append(bytes.Repeat([]byte{0x91}, 5), 0x01) // [[[[[1]]]]]
	_, err := serde.Unmarshal(deep, serde.Limits{MaxDepth: 3})
	fmt.Println(err)
	// Output:
	// serde: Unmarshal: at [0][0][0] (byte 3): limit exceeded: nesting deeper than 3
}

func ExampleEncodeEnvelope() {
	// The worker daemon defines one struct per message type.
	type getRequest struct {
		Tag string `msgpack:"tag"`
	}
	body, err := serde.EncodeBody(getRequest{Tag: "mnist/train"})
	if err != nil {
		panic(err)
	}
	msg, err := serde.EncodeEnvelope(serde.Envelope{Type: "get", ID: 42, Body: body})
	if err != nil {
		panic(err)
	}

	// The receiver reads the header first, then picks the body's type.
	env, err := serde.DecodeEnvelope(msg, serde.DefaultLimits)
	if err != nil {
		panic(err)
	}
	var req getRequest
	if env.Type == "get" {
		if err := serde.DecodeBody(env.Body, &req, serde.DefaultLimits); err != nil {
			panic(err)
		}
	}
	fmt.Println(env.Version, env.Type, env.ID, req.Tag)

	// A message from a build with another wire version is refused.
	v2, _ := serde.EncodeEnvelope(serde.Envelope{Version: 2, Type: "get"})
	_, err = serde.DecodeEnvelope(v2, serde.DefaultLimits)
	fmt.Println(err)
	// Output:
	// 1 get 42 mnist/train
	// serde: message version 2, this build speaks 1
}

func ExampleReadFrame() {
	var conn bytes.Buffer // stands in for a net.Conn
	for _, m := range []string{"hello", "world"} {
		if err := serde.WriteFrame(&conn, []byte(m)); err != nil {
			panic(err)
		}
	}
	for {
		frame, err := serde.ReadFrame(&conn, 1<<20)
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s\n", frame)
	}
	// Output:
	// hello
	// world
}

func ExampleRemoteError() {
	// A worker reports a failure with a code the client can test for.
	b, _ := serde.Marshal(&serde.RemoteError{Code: "not_found", Message: `no tensor tagged "x"`})

	v, _ := serde.Unmarshal(b, serde.DefaultLimits)
	err := v.(error)
	fmt.Println(err)
	fmt.Println(errors.Is(err, &serde.RemoteError{Code: "not_found"}))
	// Output:
	// not_found: no tensor tagged "x"
	// true
}
