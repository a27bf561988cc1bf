package mpc

// Packed bit vectors: bit i of a vector lives at bit i%64 of word i/64.

func nwords(bits int) int { return (bits + 63) / 64 }

// evenBits gathers the 32 even-position bits of w into its low half.
func evenBits(w uint64) uint64 {
	w &= 0x5555555555555555
	w = (w | w>>1) & 0x3333333333333333
	w = (w | w>>2) & 0x0F0F0F0F0F0F0F0F
	w = (w | w>>4) & 0x00FF00FF00FF00FF
	w = (w | w>>8) & 0x0000FFFF0000FFFF
	w = (w | w>>16) & 0x00000000FFFFFFFF
	return w
}

// unzipBits splits a packed vector of nbits bits (nbits even) into its
// even-position and odd-position bits, each nbits/2 bits, packed.
func unzipBits(src []uint64, nbits int) (even, odd []uint64) {
	half := nbits / 2
	even = make([]uint64, nwords(half))
	odd = make([]uint64, nwords(half))
	nsrc := nwords(nbits)
	for k := 0; 2*k < nsrc; k++ {
		w0 := src[2*k]
		e, o := evenBits(w0), evenBits(w0>>1)
		if 2*k+1 < nsrc {
			w1 := src[2*k+1]
			e |= evenBits(w1) << 32
			o |= evenBits(w1>>1) << 32
		}
		even[k], odd[k] = e, o
	}
	return even, odd
}

// getBit returns bit i of a packed vector.
func getBit(v []uint64, i int) uint64 { return v[i>>6] >> (i & 63) & 1 }

// setBit ORs bit b (0 or 1) into position i.
func setBit(v []uint64, i int, b uint64) { v[i>>6] |= b << (i & 63) }
