package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Eye returns the n×n identity matrix.
func Eye(n int) *Tensor {
	t := Zeros(n, n)
	for i := 0; i < n; i++ {
		t.data[i*n+i] = 1
	}
	return t
}

// Arange returns the 1-D tensor start, start+step, ... stopping before stop,
// as numpy.arange does: its length is ceil((stop-start)/step), or 0 when that
// is negative. A zero or non-finite step panics.
func Arange(start, stop, step float64) *Tensor {
	if step == 0 || math.IsNaN(step) || math.IsInf(step, 0) {
		panic(fmt.Errorf("tensor.Arange: step %v must be finite and non-zero", step))
	}
	fn := math.Ceil((stop - start) / step)
	if math.IsNaN(fn) || math.IsInf(fn, 0) || fn > math.MaxInt32 {
		panic(fmt.Errorf("tensor.Arange(%v, %v, %v): length %v out of range", start, stop, step, fn))
	}
	n := max(int(fn), 0)
	t := Zeros(n)
	for i := range t.data {
		t.data[i] = start + float64(i)*step
	}
	return t
}

// Linspace returns n evenly spaced values from start to stop inclusive, as
// numpy.linspace does; the last value is exactly stop.
func Linspace(start, stop float64, n int) *Tensor {
	if n < 0 {
		panic(fmt.Errorf("tensor.Linspace: negative count %d", n))
	}
	t := Zeros(n)
	if n == 1 {
		t.data[0] = start
		return t
	}
	step := (stop - start) / float64(n-1)
	for i := range t.data {
		t.data[i] = start + float64(i)*step
	}
	if n > 1 {
		t.data[n-1] = stop
	}
	return t
}

// RNG is a seeded pseudo-random source, so that experiments and tests are
// reproducible from one seed. It is not safe for concurrent use and must not
// be used for cryptographic randomness (mpc has its own source for shares).
type RNG struct {
	r *rand.Rand
}

// NewRNG returns a generator whose whole sequence is determined by seed.
func NewRNG(seed uint64) *RNG {
	return &RNG{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Normal returns a tensor of the given shape with values drawn from the
// normal distribution with the given mean and standard deviation.
func (r *RNG) Normal(mean, std float64, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.data {
		t.data[i] = mean + std*r.r.NormFloat64()
	}
	return t
}

// Uniform returns a tensor of the given shape with values drawn uniformly
// from [lo, hi).
func (r *RNG) Uniform(lo, hi float64, shape ...int) *Tensor {
	t := Zeros(shape...)
	for i := range t.data {
		t.data[i] = lo + (hi-lo)*r.r.Float64()
	}
	return t
}

// Perm returns a random permutation of 0..n-1.
func (r *RNG) Perm(n int) []int { return r.r.Perm(n) }

// Intn returns a uniform integer in [0, n); n must be positive.
func (r *RNG) Intn(n int) int { return r.r.IntN(n) }

// Float64 returns a uniform value in [0, 1).
func (r *RNG) Float64() float64 { return r.r.Float64() }

// RandN returns a tensor of standard normal values from a generator seeded
// with seed.
func RandN(seed uint64, shape ...int) *Tensor { return NewRNG(seed).Normal(0, 1, shape...) }

// RandU returns a tensor of values uniform in [lo, hi) from a generator
// seeded with seed.
func RandU(seed uint64, lo, hi float64, shape ...int) *Tensor {
	return NewRNG(seed).Uniform(lo, hi, shape...)
}
