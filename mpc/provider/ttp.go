package provider

import (
	"encoding/binary"
	"fmt"
)

// Messages between rank 0 and the trusted third party (see ttp_push.go):
// a one-byte tag, then little-endian fields. tagRequest carries a
// request's fields (encodeRequest); the others are described where they
// are encoded.
const (
	tagRequest byte = 1
	tagClose   byte = 2
	tagOpen    byte = 3 // rank 0: channel id, then a request (the channel's shape)
	tagTarget  byte = 4 // rank 0: channel id, units the dealer should have sent
	tagData    byte = 5 // dealer: channel id, first unit, units, derived parts
)

// requestFields is the number of integers a request encodes.
const requestFields = 6 + 14 + 1

// maxPartElements bounds every field and part of a decoded request, so a
// corrupt message cannot make the dealer allocate without limit.
const maxPartElements = maxPart

func encodeRequest(r Request) []byte {
	c := r.Conv
	f := [requestFields]int{int(r.Kind), r.N, r.Batch, r.M, r.K, r.Cols,
		c.N, c.C, c.H, c.W, c.Cout, c.KH, c.KW, c.StrideH, c.StrideW, c.PadH, c.PadW, c.DilationH, c.DilationW, c.Groups, int(r.Div)}
	b := make([]byte, 1+8*requestFields)
	b[0] = tagRequest
	for i, v := range f {
		binary.LittleEndian.PutUint64(b[1+8*i:], uint64(int64(v)))
	}
	return b
}

// decodeRequest parses and validates a request message.
func decodeRequest(b []byte) (Request, error) {
	if len(b) != 1+8*requestFields || b[0] != tagRequest {
		return Request{}, fmt.Errorf("provider: malformed request of %d bytes", len(b))
	}
	var f [requestFields]int
	for i := range f {
		v := int64(binary.LittleEndian.Uint64(b[1+8*i:]))
		if i == requestFields-1 { // the divisor, checked by layout
			if v < 0 || v > maxDiv {
				return Request{}, fmt.Errorf("provider: request divisor out of range: %d", v)
			}
			f[i] = int(v)
			continue
		}
		if v < 0 || v > maxPartElements {
			return Request{}, fmt.Errorf("provider: request field %d out of range: %d", i, v)
		}
		f[i] = int(v)
	}
	r := Request{Kind: Kind(f[0]), N: f[1], Batch: f[2], M: f[3], K: f[4], Cols: f[5],
		Conv: ConvSpec{N: f[6], C: f[7], H: f[8], W: f[9], Cout: f[10], KH: f[11], KW: f[12],
			StrideH: f[13], StrideW: f[14], PadH: f[15], PadW: f[16], DilationH: f[17], DilationW: f[18], Groups: f[19]},
		Div: uint64(f[20])}
	rnd, der, err := r.layout()
	if err != nil {
		return Request{}, err
	}
	for _, p := range append(rnd, der...) {
		if p.n > maxPartElements {
			return Request{}, fmt.Errorf("provider: %s request of %d elements is too large", r.Kind, p.n)
		}
	}
	return r, nil
}
