package mpc

// Packed bit vectors: bit i of a vector lives at bit i%64 of word i/64.

func nwords(bits int) int { return (bits + 63) / 64 }

// getBit returns bit i of a packed vector.
func getBit(v []uint64, i int) uint64 { return v[i>>6] >> (i & 63) & 1 }

// setBit ORs bit b (0 or 1) into position i.
func setBit(v []uint64, i int, b uint64) { v[i>>6] |= b << (i & 63) }
