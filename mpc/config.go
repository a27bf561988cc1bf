package mpc

// Config holds the numeric parameters of a party: fixed-point precision
// and the iteration counts of the approximations. The zero value of each
// field means its default; docs/mpc.md gives every approximation's input
// range and measured error at the defaults.
type Config struct {
	// Precision is the number of fractional bits of the fixed-point
	// encoding (default 16). Values must stay below 2^(62-Precision) in
	// magnitude, and products below 2^(62-2·Precision) before truncation.
	Precision uint
	// ExpSquarings is the number of squarings in exp: exp(x) is computed
	// as (1 + y + y²/2)^(2^n) with y = x/2^n (default 7).
	ExpSquarings int
	// LogDegree is the degree of the Chebyshev polynomial that finishes
	// log after its exp-based range reduction (default 8).
	LogDegree int
	// ReciprocalNewton is the number of Newton steps refining
	// reciprocal's exp-based estimate (default 3).
	ReciprocalNewton int
	// SqrtNewton is the number of Newton steps of inv_sqrt (default 3).
	SqrtNewton int
	// SigmoidNewton is the number of Newton steps of the 1/(1+e^−|x|)
	// reciprocal in sigmoid and tanh (default 2).
	SigmoidNewton int
	// PairwiseMax is the largest reduced dimension for which max, min and
	// argmax compare all pairs at once (few rounds, quadratic bytes);
	// longer dimensions use a tree of pairwise comparisons (default 16).
	PairwiseMax int
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Precision == 0 {
		c.Precision = 16
	}
	def(&c.ExpSquarings, 7)
	def(&c.LogDegree, 8)
	def(&c.ReciprocalNewton, 3)
	def(&c.SqrtNewton, 3)
	def(&c.SigmoidNewton, 2)
	def(&c.PairwiseMax, 16)
	return c
}
