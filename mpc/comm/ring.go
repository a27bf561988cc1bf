package comm

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Ring tensors travel as little-endian uint64s. On little-endian machines
// a []uint64 is already in wire order, so it is sent and received in place
// (no encoding pass, no copy); elsewhere a portable loop converts.

// littleEndian reports whether this machine stores integers low byte first.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// uint64Bytes views v's memory as bytes. Only valid on little-endian
// machines, where that view is the wire encoding.
func uint64Bytes(v []uint64) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*8)
}

// SendUint64s queues v for party `to` as one message of 8·len(v) bytes.
// On little-endian machines v itself is handed to the transport (no copy):
// as with Send, do not modify v until Flush(c, to) returns or a collective
// on c has completed.
func SendUint64s(c Comm, to int, v []uint64) error {
	if littleEndian {
		return c.Send(to, uint64Bytes(v))
	}
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return c.Send(to, b)
}

// RecvUint64s receives the next message from party `from` into dst. The
// message must hold exactly len(dst) elements; a message of another size is
// an error naming both sizes (and is consumed, so the stream stays in step).
func RecvUint64s(c Comm, from int, dst []uint64) error {
	if littleEndian {
		if r, ok := c.(IntoReceiver); ok {
			return r.RecvInto(from, uint64Bytes(dst))
		}
	}
	m, err := c.Recv(from)
	if err != nil {
		return err
	}
	if len(m) != 8*len(dst) {
		return &PeerError{Op: "recv", Peer: from, Err: fmt.Errorf(
			"ring tensor of %d bytes, expected %d elements (%d bytes)", len(m), len(dst), 8*len(dst))}
	}
	if littleEndian {
		copy(uint64Bytes(dst), m)
		return nil
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(m[8*i:])
	}
	return nil
}
