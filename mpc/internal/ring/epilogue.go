package ring

// Epilogue says how a product reaches its output: added to what is there
// or written over it, and then, optionally, truncated as one party's share
// of a two-party fixed-point value (the local truncation: rank 0 shifts
// its share right arithmetically, rank 1 negates, shifts and negates back).
// Folding these into the pass that writes the product saves a pass over
// the output, which for large outputs costs more than the arithmetic.
type Epilogue struct {
	Add   bool   // out += product (else out = product)
	Trunc bool   // then truncate each output element
	Shift uint   // the truncation's shift (fixed-point precision)
	Neg   uint64 // 0 on rank 0, all ones on rank 1: x ^ Neg − Neg is ±x
}

// flags encodes the epilogue for the micro-kernel.
func (ep Epilogue) flags() int {
	f := 0
	if ep.Add {
		f |= 1
	}
	if ep.Trunc {
		f |= 2
	}
	return f
}

// store writes one element v of a product into *dst as ep says.
func (ep Epilogue) store(dst *uint64, v uint64) {
	if ep.Add {
		v += *dst
	}
	if ep.Trunc {
		v = (v ^ ep.Neg) - ep.Neg
		v = (uint64(int64(v)>>ep.Shift) ^ ep.Neg) - ep.Neg
	}
	*dst = v
}

// Apply applies the epilogue to the whole vector: out ← f(out, prod).
func (ep Epilogue) Apply(out, prod []uint64) {
	prod = prod[:len(out)]
	for i, v := range prod {
		ep.store(&out[i], v)
	}
}

// microGo is the portable micro-kernel: the mr×nr tile c (row stride ldc)
// receives apanel·bpanel over depth kc, through the epilogue.
func microGo(kc int, a, b, c []uint64, ldc int, ep Epilogue) {
	var acc [mr * nr]uint64
	for p := 0; p < kc; p++ {
		ar := a[p*mr : p*mr+mr]
		br := b[p*nr : p*nr+nr]
		for i, x := range ar {
			row := acc[i*nr : i*nr+nr]
			for j, y := range br {
				row[j] += x * y
			}
		}
	}
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			ep.store(&c[i*ldc+j], acc[i*nr+j])
		}
	}
}

// micro runs the micro-kernel: the assembly one when the CPU has it.
func micro(kc int, a, b, c []uint64, ldc int, ep Epilogue) {
	if haveKernel {
		kernel(kc, &a[0], &b[0], &c[0], ldc, ep.flags(), uint64(ep.Shift), ep.Neg)
		return
	}
	microGo(kc, a, b, c, ldc, ep)
}

// microOffGo is microGo with row k of the b panel read at b[off[k]:].
func microOffGo(kc int, a, b []uint64, off []int, c []uint64, ldc int, ep Epilogue) {
	var acc [mr * nr]uint64
	for p := 0; p < kc; p++ {
		ar := a[p*mr : p*mr+mr]
		br := b[off[p] : off[p]+nr]
		for i, x := range ar {
			row := acc[i*nr : i*nr+nr]
			for j, y := range br {
				row[j] += x * y
			}
		}
	}
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			ep.store(&c[i*ldc+j], acc[i*nr+j])
		}
	}
}

// microOff runs the offset micro-kernel: the assembly one when the CPU
// has it. b must hold nr values at every b[off[k]:].
func microOff(kc int, a, b []uint64, off []int, c []uint64, ldc int, ep Epilogue) {
	if haveKernel {
		_ = b[off[kc-1]+nr-1]
		kernelOff(kc, &a[0], &b[0], &off[0], &c[0], ldc, ep.flags(), uint64(ep.Shift), ep.Neg)
		return
	}
	microOffGo(kc, a, b, off, c, ldc, ep)
}
