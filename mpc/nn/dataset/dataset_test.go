package dataset

import (
	"fmt"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

func TestDigits(t *testing.T) {
	x, y := Digits(200, 3)
	if got := x.Shape(); !tensor.SameShape(got, []int{200, 1, 28, 28}) {
		t.Fatalf("shape %v", got)
	}
	counts := make([]int, Classes)
	for _, c := range y.Data() {
		counts[int(c)]++
	}
	for c, n := range counts {
		if n < 8 {
			t.Errorf("class %d has %d of 200 samples", c, n)
		}
	}
	if x.MinAll() < 0 || x.MaxAll() > 1 {
		t.Errorf("values outside [0, 1]: %v..%v", x.MinAll(), x.MaxAll())
	}
	x2, y2 := Digits(200, 3)
	if !tensor.Equal(x, x2) || !tensor.Equal(y, y2) {
		t.Error("same seed, different data")
	}
	// Classes differ: the mean images of 1 and 8 are far apart.
	mean := func(c int) *tensor.Tensor {
		var idx []int
		for i, l := range y.Data() {
			if int(l) == c {
				idx = append(idx, i)
			}
		}
		return x.IndexSelect(0, idx).Mean(0, false)
	}
	if d := tensor.MaxAbsDiff(mean(1), mean(8)); d < 0.5 {
		t.Errorf("mean images of 1 and 8 differ by only %v", d)
	}
}

func TestHyperplane(t *testing.T) {
	x, y, w, b := Hyperplane(100, 5, 1)
	s := tensor.MatMul(x, w).AddScalar(b)
	for i, v := range s.Data() {
		if (v >= 0) != (y.Data()[i] > 0) {
			t.Fatalf("sample %d: score %v, label %v", i, v, y.Data()[i])
		}
	}
	if z := ZeroOne(y); z.MinAll() != 0 || z.MaxAll() != 1 {
		t.Errorf("ZeroOne range %v..%v", z.MinAll(), z.MaxAll())
	}
}

func ExampleHyperplane() {
	x, y, _, _ := Hyperplane(4, 3, 7)
	fmt.Println(x.Shape(), y.Shape())
	// Output: [4 3] [4 1]
}

func TestPatterns(t *testing.T) {
	x, y := Patterns(300, 5)
	if got := x.Shape(); !tensor.SameShape(got, []int{300, 3, 32, 32}) {
		t.Fatalf("shape %v", got)
	}
	if x.MinAll() < 0 || x.MaxAll() > 1 {
		t.Errorf("values outside [0, 1]: %v..%v", x.MinAll(), x.MaxAll())
	}
	counts := make([]int, Classes)
	for _, c := range y.Data() {
		counts[int(c)]++
	}
	for c, n := range counts {
		if n < 15 {
			t.Errorf("class %d has %d of 300 samples", c, n)
		}
	}
	x2, y2 := Patterns(300, 5)
	if !tensor.Equal(x, x2) || !tensor.Equal(y, y2) {
		t.Error("same seed, different data")
	}
	// Colour tells nothing: the mean colour of classes 0 and 5 is alike.
	mean := func(c int) *tensor.Tensor {
		var idx []int
		for i, l := range y.Data() {
			if int(l) == c {
				idx = append(idx, i)
			}
		}
		return x.IndexSelect(0, idx).Mean(0, false).Mean(2, false).Mean(1, false)
	}
	if d := tensor.MaxAbsDiff(mean(0), mean(5)); d > 0.1 {
		t.Errorf("mean colours of classes 0 and 5 differ by %v", d)
	}
}
