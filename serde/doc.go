// Package serde encodes gomplab's wire messages and values as MessagePack
// (github.com/vmihailenco/msgpack/v5) and decodes them under explicit limits.
//
// Everything that crosses a process boundary in gomplab goes through this
// package: worker requests and replies (an Envelope carrying a typed body),
// the values an MPC job returns, and tensors. Decoders treat their input as
// hostile: each one enforces a Limits (total bytes, elements, nesting depth),
// never allocates more than the input can justify, and reports truncated,
// oversized or wrong-typed input as an error that names the problem and where
// it was found, never as a panic.
//
// # Tensors
//
// A *tensor.Tensor travels as a MessagePack extension value of type ExtTensor
// whose payload is
//
//	dtype (1 byte) | rank (uvarint) | rank dims (uvarint each) | data
//
// where data is the elements in row-major order as raw little-endian bytes
// (never one MessagePack value per element). Encoders always write Float64,
// so float64 tensors round-trip bit for bit, NaN payloads, -0 and infinities
// included, for every shape, 0-d and empty ones too. Decoders also accept
// Float32 and Int64 payloads, which they widen to float64.
//
// The extension is registered with msgpack in this package's init, so any
// struct, slice or map encoded by msgpack (or by EncodeBody) that holds a
// *tensor.Tensor encodes it in this form, and decodes it back with the same
// checks. *RemoteError is registered the same way as ExtError.
//
// # Values
//
// Marshal and Unmarshal move dynamically typed values, such as the return
// value of an MPC job. Unmarshal produces only these types:
//
//	nil, bool, int64, uint64, float64, string, []byte,
//	*tensor.Tensor, *RemoteError, []any, map[string]any
//
// and Marshal normalizes Go values into them:
//
//   - every signed and unsigned integer type becomes an integer; Unmarshal
//     returns it as int64 when it fits and as uint64 only above MaxInt64, so
//     uint64(5) comes back as int64(5);
//   - float32 widens (exactly) to float64; float64 is always sent as 8 bytes,
//     so it round-trips bit for bit;
//   - []float64 and []float32 become 1-D tensors (they come back as
//     *tensor.Tensor); every other slice or array becomes []any, except
//     []byte, which stays []byte;
//   - maps with string keys become map[string]any (keys are written sorted,
//     so equal values encode to equal bytes); other key types are an error;
//   - a value implementing error becomes a *RemoteError carrying its message
//     (and the Code of any *RemoteError in its chain), so an error crosses
//     the wire and comes back as an error value;
//   - nil pointers, slices and maps become nil; other types (structs,
//     pointers, channels, functions) are an error: use EncodeBody for
//     structs.
//
// # Messages
//
// A message is an Envelope (format Version, type, id) whose Body is the
// MessagePack encoding of a typed struct (EncodeBody, DecodeBody). Messages
// travel over byte streams in length-prefixed frames (WriteFrame,
// ReadFrame). A decoder that sees a different Version fails with a
// *VersionError before reading anything else.
package serde
