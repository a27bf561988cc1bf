package serde

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"unsafe"

	"github.com/gomplab/gomplab/tensor"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MessagePack extension type ids used by gomplab.
const (
	ExtTensor int8 = 1 // a *tensor.Tensor: dtype, shape, raw little-endian data
	ExtError  int8 = 2 // a *RemoteError: the list [code, message]
)

// DType is the element type of an encoded tensor's data.
type DType uint8

// The element types a tensor payload may hold. Encoders write Float64.
const (
	Float64 DType = 1 // IEEE 754 binary64, 8 bytes
	Float32 DType = 2 // IEEE 754 binary32, 4 bytes; widened exactly on decode
	Int64   DType = 3 // two's complement, 8 bytes; rounded to nearest float64 on decode
)

// String is the dtype's name as NumPy spells it.
func (d DType) String() string {
	switch d {
	case Float64:
		return "float64"
	case Float32:
		return "float32"
	case Int64:
		return "int64"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// size returns the bytes per element, or 0 for an unknown DType.
func (d DType) size() int {
	switch d {
	case Float64, Int64:
		return 8
	case Float32:
		return 4
	}
	return 0
}

// littleEndian reports whether []float64 memory already is the wire
// layout, so data can move with one copy instead of a loop per element.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// float64Bytes views s as its underlying bytes (native byte order).
func float64Bytes(s []float64) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*8)
}

// EncodeTensor returns t encoded as a MessagePack extension value of type
// ExtTensor (the same bytes msgpack.Marshal produces for t).
func EncodeTensor(t *tensor.Tensor) ([]byte, error) {
	return AppendTensor(nil, t)
}

// AppendTensor appends the encoding of t to dst and returns the extended
// buffer, so a caller reusing one buffer encodes without allocating.
func AppendTensor(dst []byte, t *tensor.Tensor) ([]byte, error) {
	if t == nil {
		return dst, fmt.Errorf("serde: EncodeTensor: nil tensor")
	}
	return appendTensor(dst, t.Shape(), t.Data(), Float64)
}

// checkTensor rejects a tensor whose data does not fill its shape, as the
// zero value does; encoding one would produce bytes no decoder accepts.
func checkTensor(shape []int, data []float64) error {
	if tensor.Numel(shape) != len(data) {
		return fmt.Errorf("serde: cannot encode tensor of shape %v with %d elements (zero value?)", shape, len(data))
	}
	return nil
}

// tensorHeader returns the payload header: dtype, rank, dims.
func tensorHeader(shape []int, dt DType) []byte {
	h := make([]byte, 0, 2+len(shape)*binary.MaxVarintLen64)
	h = append(h, byte(dt))
	h = binary.AppendUvarint(h, uint64(len(shape)))
	for _, d := range shape {
		h = binary.AppendUvarint(h, uint64(d))
	}
	return h
}

// appendTensor appends the extension value for shape and data, with data
// converted to dt (only tests write dtypes other than Float64).
func appendTensor(dst []byte, shape []int, data []float64, dt DType) ([]byte, error) {
	if err := checkTensor(shape, data); err != nil {
		return dst, err
	}
	h := tensorHeader(shape, dt)
	n := len(h) + len(data)*dt.size()
	if n > math.MaxUint32 {
		return dst, fmt.Errorf("serde: tensor of shape %v takes %d bytes, over the 4 GiB MessagePack extension limit", shape, n)
	}
	dst = appendExtHeader(dst, ExtTensor, n)
	dst = append(dst, h...)
	return appendData(dst, data, dt), nil
}

// appendTensorPayload appends the extension payload (no extension header).
func appendTensorPayload(dst []byte, shape []int, data []float64) ([]byte, error) {
	if err := checkTensor(shape, data); err != nil {
		return dst, err
	}
	dst = append(dst, tensorHeader(shape, Float64)...)
	return appendData(dst, data, Float64), nil
}

// appendData appends data as little-endian dt values.
func appendData(dst []byte, data []float64, dt DType) []byte {
	if dt == Float64 && littleEndian {
		// Unlike make or slices.Grow, append does not zero new memory that
		// it is about to fill: one pass over the data instead of two.
		return append(dst, float64Bytes(data)...)
	}
	start := len(dst)
	dst = slices.Grow(dst, len(data)*dt.size())[:start+len(data)*dt.size()]
	out := dst[start:]
	switch {
	case dt == Float64:
		for i, x := range data {
			binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(x))
		}
	case dt == Float32:
		for i, x := range data {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(float32(x)))
		}
	case dt == Int64:
		for i, x := range data {
			binary.LittleEndian.PutUint64(out[8*i:], uint64(int64(x)))
		}
	}
	return dst
}

// appendExtHeader appends the smallest MessagePack extension header for a
// payload of n bytes, the same choice msgpack's Encoder makes.
func appendExtHeader(dst []byte, id int8, n int) []byte {
	switch n {
	case 1, 2, 4, 8, 16:
		return append(dst, msgpcode.FixExt1+byte(bitsLen(n)-1), byte(id))
	}
	switch {
	case n <= math.MaxUint8:
		return append(dst, msgpcode.Ext8, byte(n), byte(id))
	case n <= math.MaxUint16:
		dst = append(dst, msgpcode.Ext16)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, msgpcode.Ext32)
		dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	return append(dst, byte(id))
}

// bitsLen returns the number of bits needed for n (n > 0).
func bitsLen(n int) int {
	k := 0
	for ; n > 0; n >>= 1 {
		k++
	}
	return k
}

// DecodeTensor decodes a tensor encoded by EncodeTensor (or a Float32 or
// Int64 payload, widened to float64). The input must hold exactly one
// tensor; it may be reused once DecodeTensor returns.
func DecodeTensor(b []byte, lim Limits) (*tensor.Tensor, error) {
	lim = lim.orDefault()
	const op = "DecodeTensor"
	if err := checkSize(op, b, lim); err != nil {
		return nil, err
	}
	r := newReader(op, b, lim)
	p, err := r.take(1, "tensor")
	if err != nil {
		return nil, err
	}
	if !msgpcode.IsExt(p[0]) {
		return nil, r.errorf(0, ErrMalformed, "got %s, want tensor (extension %d)", typeName(p[0]), ExtTensor)
	}
	n, err := r.lengthOf(p[0])
	if err != nil {
		return nil, err
	}
	id, err := r.take(1, "extension type")
	if err != nil {
		return nil, err
	}
	if int8(id[0]) != ExtTensor {
		return nil, r.errorf(0, ErrMalformed, "got extension %d, want tensor (extension %d)", int8(id[0]), ExtTensor)
	}
	at := r.off
	payload, err := r.take(n, "tensor payload")
	if err != nil {
		return nil, err
	}
	dt, err := decodeTensorPayload(payload, lim.MaxElements, true)
	if err != nil {
		return nil, r.fromPayload(at, err)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return dt.tensor, nil
}

// decodedTensor is what decodeTensorPayload found.
type decodedTensor struct {
	tensor *tensor.Tensor // nil when only validating
	dtype  DType
	shape  []int
	numel  int
	off    int // where the data starts in the payload
}

// decodeTensorPayload checks (and with build set, decodes) an ExtTensor
// payload holding at most maxElems elements. Errors are *DecodeError with
// offsets relative to p.
func decodeTensorPayload(p []byte, maxElems int, build bool) (decodedTensor, error) {
	fail := func(at int, kind error, format string, args ...any) (decodedTensor, error) {
		return decodedTensor{}, &DecodeError{Offset: at, Kind: kind, Msg: fmt.Sprintf(format, args...)}
	}
	if len(p) == 0 {
		return fail(0, ErrTruncated, "empty tensor payload")
	}
	dt := DType(p[0])
	if dt.size() == 0 {
		return fail(0, ErrMalformed, "unknown tensor dtype %d", p[0])
	}
	off := 1
	uvarint := func(what string) (uint64, error) {
		v, k := binary.Uvarint(p[off:])
		switch {
		case k == 0:
			return 0, &DecodeError{Offset: off, Kind: ErrTruncated, Msg: "tensor header ends inside the " + what}
		case k < 0:
			return 0, &DecodeError{Offset: off, Kind: ErrMalformed, Msg: "tensor " + what + " overflows 64 bits"}
		}
		off += k
		return v, nil
	}
	rank, err := uvarint("rank")
	if err != nil {
		return decodedTensor{}, err
	}
	if rank > MaxRank {
		return fail(1, ErrLimit, "tensor rank %d exceeds MaxRank %d", rank, MaxRank)
	}
	shape := make([]int, rank)
	numel, zero, overflow := 1, false, false
	for i := range shape {
		at := off
		d, err := uvarint(fmt.Sprintf("size of dim %d", i))
		if err != nil {
			return decodedTensor{}, err
		}
		if d > uint64(maxInt) {
			return fail(at, ErrLimit, "tensor dim %d has size %d", i, d)
		}
		shape[i] = int(d)
		switch {
		case d == 0:
			zero = true
		case numel > maxInt/int(d):
			overflow = true
		default:
			numel *= int(d)
		}
	}
	if zero {
		numel = 0
	} else if overflow {
		return fail(1, ErrLimit, "tensor shape %v has more elements than an int holds", shape)
	}
	if numel > maxElems {
		return fail(1, ErrLimit, "tensor of shape %v has %d elements; the element limit leaves room for %d", shape, numel, maxElems)
	}
	size := dt.size()
	have := len(p) - off
	if numel > have/size {
		return fail(off, ErrTruncated, "%s tensor of shape %v needs %d data bytes, payload has %d",
			dt, shape, uint64(numel)*uint64(size), have)
	}
	if have != numel*size {
		return fail(off+numel*size, ErrMalformed, "%d bytes after the data of %s tensor of shape %v",
			have-numel*size, dt, shape)
	}
	if !build {
		return decodedTensor{dtype: dt, shape: shape, numel: numel, off: off}, nil
	}
	t, err := tensor.New(decodeData(p[off:], numel, dt), shape...)
	if err != nil {
		return fail(1, ErrMalformed, "%v", err)
	}
	return decodedTensor{tensor: t, dtype: dt, shape: shape, numel: numel, off: off}, nil
}

// decodeData converts n little-endian dt values from src to float64s.
func decodeData(src []byte, n int, dt DType) []float64 {
	if dt == Float64 && littleEndian {
		if data := float64sFromLE(src, n); data != nil {
			return data
		}
		data := make([]float64, n)
		copy(float64Bytes(data), src)
		return data
	}
	data := make([]float64, n)
	switch dt {
	case Float64:
		for i := range data {
			data[i] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
		}
	case Float32:
		for i := range data {
			data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:])))
		}
	case Int64:
		for i := range data {
			data[i] = float64(int64(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}
	return data
}

// float64sFromLE returns src (little-endian float64s, on a little-endian
// host) as a new []float64 of n elements, or nil if it cannot do so without
// zeroing. make would zero the memory before the copy fills it; copying
// with append skips that pass, and a fresh allocation of 8 bytes or more is
// 8-byte aligned, which the check below confirms before the bytes are
// viewed as float64s.
func float64sFromLE(src []byte, n int) []float64 {
	if n == 0 {
		return []float64{}
	}
	raw := append([]byte(nil), src[:8*n]...)
	p := unsafe.Pointer(unsafe.SliceData(raw))
	if uintptr(p)%unsafe.Alignof(float64(0)) != 0 {
		return nil
	}
	return unsafe.Slice((*float64)(p), n)
}

// readExtPayload reads an n-byte extension payload from d. When d reads
// from memory (as msgpack.Unmarshal does) a length beyond the remaining
// input fails at once; otherwise the buffer grows only as data arrives, so
// a lying length cannot force a large allocation.
func readExtPayload(d *msgpack.Decoder, n int) ([]byte, error) {
	if l, ok := d.Buffered().(interface{ Len() int }); ok {
		if n > l.Len() {
			return nil, &DecodeError{Op: "msgpack", Kind: ErrTruncated,
				Msg: fmt.Sprintf("extension payload of %d bytes, %d left", n, l.Len())}
		}
		// The bytes are there: read them in one piece, without the
		// copies of a growing buffer.
		buf := make([]byte, n)
		if err := d.ReadFull(buf); err != nil {
			return nil, &DecodeError{Op: "msgpack", Kind: ErrTruncated,
				Msg: fmt.Sprintf("extension payload of %d bytes: %v", n, err)}
		}
		return buf, nil
	}
	const chunk = 1 << 20
	buf := make([]byte, 0, min(n, chunk))
	for len(buf) < n {
		k := min(n-len(buf), max(chunk, len(buf)))
		buf = slices.Grow(buf, k)
		if err := d.ReadFull(buf[len(buf) : len(buf)+k]); err != nil {
			return nil, &DecodeError{Op: "msgpack", Kind: ErrTruncated,
				Msg: fmt.Sprintf("extension payload of %d bytes: %v", n, err)}
		}
		buf = buf[:len(buf)+k]
	}
	return buf, nil
}

// The msgpack extension codecs, registered in init, let msgpack encode and
// decode *tensor.Tensor and *RemoteError anywhere in a Go value.

func encodeTensorExt(_ *msgpack.Encoder, v reflect.Value) ([]byte, error) {
	t := v.Interface().(*tensor.Tensor)
	return appendTensorPayload(nil, t.Shape(), t.Data())
}

func decodeTensorExt(d *msgpack.Decoder, v reflect.Value, n int) error {
	p, err := readExtPayload(d, n)
	if err != nil {
		return err
	}
	dt, err := decodeTensorPayload(p, noLimits.MaxElements, false)
	if err != nil {
		err.(*DecodeError).Op = "msgpack tensor extension"
		return err
	}
	// p is ours: float64 data moves to its start and is used in place,
	// rather than copied into a second allocation as large.
	var data []float64
	if b := unsafe.Pointer(unsafe.SliceData(p)); dt.dtype == Float64 && littleEndian && dt.numel > 0 &&
		uintptr(b)%unsafe.Alignof(float64(0)) == 0 {
		copy(p, p[dt.off:])
		data = unsafe.Slice((*float64)(b), dt.numel)
	}
	if data == nil {
		data = decodeData(p[dt.off:], dt.numel, dt.dtype)
	}
	t, err := tensor.New(data, dt.shape...)
	if err != nil {
		return &DecodeError{Op: "msgpack tensor extension", Kind: ErrMalformed, Msg: err.Error()}
	}
	*v.Interface().(*tensor.Tensor) = *t
	return nil
}

func init() {
	msgpack.RegisterExtEncoder(ExtTensor, (*tensor.Tensor)(nil), encodeTensorExt)
	msgpack.RegisterExtDecoder(ExtTensor, (*tensor.Tensor)(nil), decodeTensorExt)
	msgpack.RegisterExtEncoder(ExtError, (*RemoteError)(nil), encodeErrorExt)
	msgpack.RegisterExtDecoder(ExtError, (*RemoteError)(nil), decodeErrorExt)
}
