package ring

// Transpose64 transposes a 64×64 bit matrix in place: afterwards bit i of
// a[j] is what bit j of a[i] was (recursive block swaps, 6 stages). It
// bit-slices 64 ring elements: word j then holds bit j of each of them.
func Transpose64(a *[64]uint64) {
	j := 32
	m := uint64(0x00000000FFFFFFFF)
	for j != 0 {
		for k := 0; k < 64; k = (k + j + 1) &^ j {
			t := ((a[k] >> j) ^ a[k+j]) & m
			a[k+j] ^= t
			a[k] ^= t << j
		}
		j >>= 1
		m ^= m << j
	}
}
