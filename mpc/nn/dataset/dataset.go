// Package dataset makes the synthetic data sets of gomplab's examples,
// tests and benchmarks, so none of them downloads anything: MNIST-shaped
// digit images and points labelled by a hyperplane (CrypTen's
// mpc_linear_svm data). Every generator is deterministic in its seed.
package dataset

import (
	"math"

	"github.com/gomplab/gomplab/tensor"
)

// Digit images are 28x28, as MNIST's.
const (
	Side    = 28
	Classes = 10
)

// segments lists, for each digit, the seven-segment display strokes that
// draw it: a top, b upper right, c lower right, d bottom, e lower left,
// f upper left, g middle.
var segments = [Classes]string{"abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"}

// stroke endpoints of each segment on the 28x28 canvas (x0, y0, x1, y1).
var strokes = map[byte][4]float64{
	'a': {9, 5, 18, 5}, 'g': {9, 14, 18, 14}, 'd': {9, 23, 18, 23},
	'f': {9, 5, 9, 14}, 'b': {18, 5, 18, 14}, 'e': {9, 14, 9, 23}, 'c': {18, 14, 18, 23},
}

// Digits returns n images (n, 1, 28, 28) with values in [0, 1] and their
// labels (n) in 0..9. Each image draws its digit as seven-segment strokes
// of random thickness, slant and position, plus noise: a task where a
// small network reaches high accuracy, like MNIST, but that takes no
// download.
func Digits(n int, seed uint64) (images, labels *tensor.Tensor) {
	r := tensor.NewRNG(seed)
	images = tensor.Zeros(n, 1, Side, Side)
	labels = tensor.Zeros(n)
	img, lab := images.Data(), labels.Data()
	for i := 0; i < n; i++ {
		c := r.Intn(Classes)
		lab[i] = float64(c)
		dx, dy := float64(r.Intn(7)-3), float64(r.Intn(7)-3)
		slant := (r.Float64() - 0.5) * 0.4
		width := 0.5 + 0.8*r.Float64()
		plane := img[i*Side*Side : (i+1)*Side*Side]
		for y := 0; y < Side; y++ {
			for x := 0; x < Side; x++ {
				// Undo slant and shift, then measure the distance to the nearest stroke.
				px := float64(x) - dx + slant*(float64(y)-14)
				py := float64(y) - dy
				d := math.Inf(1)
				for k := 0; k < len(segments[c]); k++ {
					s := strokes[segments[c][k]]
					d = math.Min(d, segmentDist(px, py, s))
				}
				v := math.Max(0, 1-math.Max(0, d-width))
				plane[y*Side+x] = v
			}
		}
		noise := r.Normal(0, 0.1, Side*Side).Data()
		for j := range plane {
			plane[j] = math.Min(1, math.Max(0, plane[j]+noise[j]))
		}
	}
	return images, labels
}

// segmentDist is the distance from (x, y) to the segment s.
func segmentDist(x, y float64, s [4]float64) float64 {
	vx, vy := s[2]-s[0], s[3]-s[1]
	t := ((x-s[0])*vx + (y-s[1])*vy) / (vx*vx + vy*vy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(x-s[0]-t*vx, y-s[1]-t*vy)
}

// Hyperplane returns n points with `features` standard normal features
// (n, features) and labels (n, 1) of +1 or -1 by the side of a random
// hyperplane w·x + b = 0, which it also returns (w of shape (features)).
// This is the data of CrypTen's mpc_linear_svm example.
func Hyperplane(n, features int, seed uint64) (x, y, w *tensor.Tensor, b float64) {
	r := tensor.NewRNG(seed)
	x = r.Normal(0, 1, n, features)
	w = r.Normal(0, 1, features)
	b = r.Normal(0, 1, 1).Data()[0]
	y = tensor.MatMul(x, w).AddScalar(b).Apply(func(v float64) float64 {
		if v >= 0 {
			return 1
		}
		return -1
	}).Reshape(n, 1)
	return x, y, w, b
}

// ZeroOne maps ±1 labels to 0/1, for logistic regression.
func ZeroOne(y *tensor.Tensor) *tensor.Tensor {
	return y.AddScalar(1).MulScalar(0.5)
}

// CIFAR-shaped images are 3x32x32, as CIFAR-10's.
const (
	CIFARChannels = 3
	CIFARSide     = 32
)

// Patterns returns n CIFAR-shaped colour images (n, 3, 32, 32) with values
// in [0, 1] and their labels (n) in 0..9. Class c draws stripes at angle
// c·18° (give or take 4°), in one of five colour pairs drawn at random, so
// colour tells nothing, with random stripe width, phase, contrast and
// noise: a ten-class task a small convolutional network learns in the
// clear in a few epochs, standing in for CIFAR-10 (CrypTen's mpc_cifar
// example) where only the shapes matter.
func Patterns(n int, seed uint64) (images, labels *tensor.Tensor) {
	r := tensor.NewRNG(seed)
	const side, plane = CIFARSide, CIFARSide * CIFARSide
	images = tensor.Zeros(n, CIFARChannels, side, side)
	labels = tensor.Zeros(n)
	img, lab := images.Data(), labels.Data()
	// Five stripe and background colour pairs, shared by every class.
	const colours = 5
	fg := [colours][3]float64{}
	bg := [colours][3]float64{}
	pal := tensor.NewRNG(0x70617474).Uniform(0.1, 0.9, colours, 6).Data()
	for k := 0; k < colours; k++ {
		copy(fg[k][:], pal[k*6:k*6+3])
		copy(bg[k][:], pal[k*6+3:k*6+6])
	}
	for i := 0; i < n; i++ {
		c, k := r.Intn(Classes), r.Intn(colours)
		lab[i] = float64(c)
		angle := float64(c)*math.Pi/Classes + (r.Float64()-0.5)*0.15
		period := 5 + 4*r.Float64()
		phase := r.Float64() * 2 * math.Pi
		contrast := 0.6 + 0.4*r.Float64()
		ca, sa := math.Cos(angle), math.Sin(angle)
		noise := r.Normal(0, 0.08, CIFARChannels*plane).Data()
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				t := (float64(x)*ca + float64(y)*sa) * 2 * math.Pi / period
				s := contrast * (0.5 + 0.5*math.Sin(t+phase))
				for ch := 0; ch < CIFARChannels; ch++ {
					v := s*fg[k][ch] + (1-s)*bg[k][ch] + noise[ch*plane+y*side+x]
					img[i*CIFARChannels*plane+ch*plane+y*side+x] = math.Min(1, math.Max(0, v))
				}
			}
		}
	}
	return images, labels
}
