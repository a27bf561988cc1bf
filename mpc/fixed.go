package mpc

import (
	"fmt"
	"math"
)

// Fixed point: a real x is encoded as the ring element round(x·2^f) (two's
// complement in 64 bits) and decoded by converting the element to a signed
// integer and dividing by 2^f as a float64. Decoding a value that was
// encoded is exact up to the rounding of the encode (error ≤ 2^-(f+1)):
// there is no (scale−1) divisor anywhere, so negative values do not decode
// off by one, as they occasionally do in CrypTen.

// maxEncodable is the largest |x·2^f| accepted by encode: values beyond
// 2^62 leave no headroom for a single addition.
const maxEncodable = 1 << 62

// encodeValue returns the ring encoding of x at f fractional bits, or an
// error for NaN, ±Inf and values out of range.
func encodeValue(x float64, f uint) (uint64, error) {
	v := math.Round(math.Ldexp(x, int(f)))
	if math.IsNaN(v) || math.Abs(v) >= maxEncodable {
		return 0, encodeError(f)
	}
	return uint64(int64(v)), nil
}

// encodeError says a value cannot be encoded, without saying which value
// or where: the tensor may be private, and a source party's error reaches
// every party (see Announce).
func encodeError(f uint) error {
	return fmt.Errorf("values cannot be encoded in 64-bit fixed point with %d fractional bits: NaN, infinite, or not below 2^%d in magnitude", f, 62-int(f))
}

// decodeValue returns the real number encoded by u at f fractional bits.
func decodeValue(u uint64, f uint) float64 {
	return math.Ldexp(float64(int64(u)), -int(f))
}

// encodeSlice encodes xs into dst; the error names neither the value nor
// its index (see encodeError).
func encodeSlice(dst []uint64, xs []float64, f uint) error {
	scale := math.Ldexp(1, int(f))
	for i, x := range xs {
		v := math.Round(x * scale)
		if !(math.Abs(v) < maxEncodable) { // also catches NaN
			return encodeError(f)
		}
		dst[i] = uint64(int64(v))
	}
	return nil
}

// decodeSlice decodes us into dst.
func decodeSlice(dst []float64, us []uint64, f uint) {
	inv := math.Ldexp(1, -int(f))
	for i, u := range us {
		dst[i] = float64(int64(u)) * inv
	}
}
