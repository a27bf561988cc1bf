package dataset

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gomplab/gomplab/tensor"
)

// SklearnDataDir is where Debian's python3-sklearn keeps the small data
// sets scikit-learn ships as CSV files; $GOMPLAB_SKLEARN_DATA overrides it.
const SklearnDataDir = "/usr/lib/python3/dist-packages/sklearn/datasets/data"

func sklearnFile(name string) string {
	dir := SklearnDataDir
	if d := os.Getenv("GOMPLAB_SKLEARN_DATA"); d != "" {
		dir = d
	}
	return filepath.Join(dir, name)
}

// BreastCancer returns scikit-learn's Wisconsin breast cancer data set, read
// from the CSV file Debian's python3-sklearn installs: 569 samples of 30
// real features (x, shape (569, 30), in the file's units) and their labels
// (y, shape (569)): 0 malignant, 1 benign. The features span five orders
// of magnitude: standardize them (Standardize) before training.
func BreastCancer() (x, y *tensor.Tensor, err error) {
	return readSklearnCSV("breast_cancer.csv", 2)
}

// Iris returns scikit-learn's iris data set (150 samples, 4 features,
// labels 0..2), read from python3-sklearn's CSV file.
func Iris() (x, y *tensor.Tensor, err error) { return readSklearnCSV("iris.csv", 3) }

// Wine returns scikit-learn's wine data set (178 samples, 13 features,
// labels 0..2), read from python3-sklearn's CSV file.
func Wine() (x, y *tensor.Tensor, err error) { return readSklearnCSV("wine_data.csv", 3) }

// readSklearnCSV reads scikit-learn's classification CSV format: a header
// "samples,features,class names...", then one line per sample with its
// features and its integer label last.
func readSklearnCSV(name string, classes int) (x, y *tensor.Tensor, err error) {
	path := sklearnFile(name)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w (install Debian's python3-sklearn, or set GOMPLAB_SKLEARN_DATA to a folder holding scikit-learn's data files)", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return nil, nil, fmt.Errorf("%s: empty file", path)
	}
	head := strings.Split(strings.TrimSpace(sc.Text()), ",")
	if len(head) < 2 {
		return nil, nil, fmt.Errorf("%s: header %q: want samples,features,class names", path, sc.Text())
	}
	n, err1 := strconv.Atoi(head[0])
	d, err2 := strconv.Atoi(head[1])
	if err1 != nil || err2 != nil || n < 1 || d < 1 || n > 1e6 || d > 1e4 {
		return nil, nil, fmt.Errorf("%s: header %q: want positive sample and feature counts", path, sc.Text())
	}
	x, y = tensor.Zeros(n, d), tensor.Zeros(n)
	xs, ys := x.Data(), y.Data()
	i := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if i == n {
			return nil, nil, fmt.Errorf("%s: more than the %d samples the header announces", path, n)
		}
		fields := strings.Split(line, ",")
		if len(fields) != d+1 {
			return nil, nil, fmt.Errorf("%s: line %d has %d fields, want %d features and a label", path, i+2, len(fields), d)
		}
		for j := 0; j < d; j++ {
			v, err := strconv.ParseFloat(fields[j], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: line %d, feature %d: %w", path, i+2, j+1, err)
			}
			xs[i*d+j] = v
		}
		l, err := strconv.Atoi(fields[d])
		if err != nil || l < 0 || l >= classes {
			return nil, nil, fmt.Errorf("%s: line %d: label %q: want an integer in [0, %d)", path, i+2, fields[d], classes)
		}
		ys[i] = float64(l)
		i++
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if i != n {
		return nil, nil, fmt.Errorf("%s: %d samples, the header announces %d", path, i, n)
	}
	return x, y, nil
}

// Standardize returns x (samples by features) with each feature shifted
// and scaled to mean 0 and standard deviation 1, and the means and
// standard deviations it used (a constant feature keeps scale 1). The data
// owner applies it in the clear before encrypting, as with any
// preprocessing.
func Standardize(x *tensor.Tensor) (z, mean, std *tensor.Tensor) {
	mean = x.Mean(0, true)
	centered := x.Sub(mean)
	std = centered.Mul(centered).Mean(0, true).Apply(func(v float64) float64 {
		if v == 0 {
			return 1
		}
		return math.Sqrt(v)
	})
	return centered.Div(std), mean, std
}

// Split returns the first n samples of x and y and the rest, after
// shuffling them with seed: a train/test split.
func Split(x, y *tensor.Tensor, n int, seed uint64) (xTrain, yTrain, xTest, yTest *tensor.Tensor) {
	perm := tensor.NewRNG(seed).Perm(x.Shape()[0])
	return x.IndexSelect(0, perm[:n]), y.IndexSelect(0, perm[:n]), x.IndexSelect(0, perm[n:]), y.IndexSelect(0, perm[n:])
}
