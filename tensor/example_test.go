package tensor_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gomplab/gomplab/tensor"
)

func ExampleNew() {
	t, err := tensor.New([]float64{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		panic(err)
	}
	fmt.Println(t.Shape(), t.At(1, 2))
	_, err = tensor.New([]float64{1, 2, 3}, 2, 2)
	fmt.Println(err)
	// Output:
	// [2 3] 6
	// tensor.New: shapes [3] and [2 2]: 3 values do not fill shape [2 2] (4 elements)
}

func ExampleTensor_Reshape() {
	t := tensor.Arange(0, 6, 1)
	m := t.Reshape(-1, 2) // -1 is inferred: 3
	fmt.Println(m.Shape())
	fmt.Println(m)
	// Output:
	// [3 2]
	// [[0. 1.]
	//  [2. 3.]
	//  [4. 5.]]
}

func ExampleTensor_Add_broadcasting() {
	col := tensor.MustNew([]float64{0, 10}, 2, 1)
	row := tensor.FromSlice([]float64{1, 2, 3})
	fmt.Println(col.Add(row))
	// Output:
	// [[ 1.  2.  3.]
	//  [11. 12. 13.]]
}

func ExampleMatMul() {
	a := tensor.MustNew([]float64{1, 2, 3, 4}, 2, 2)
	b := tensor.MustNew([]float64{5, 6, 7, 8}, 2, 2)
	fmt.Println(tensor.MatMul(a, b))
	v := tensor.FromSlice([]float64{1, 1})
	fmt.Println(tensor.MatMul(a, v)) // a 1-D operand is a vector
	// Output:
	// [[19. 22.]
	//  [43. 50.]]
	// [3. 7.]
}

func ExampleTensor_Sum() {
	t := tensor.MustNew([]float64{1, 2, 3, 4, 5, 6}, 2, 3)
	fmt.Println(t.Sum(0, false))
	fmt.Println(t.Sum(-1, true))
	fmt.Println(t.SumAll(), tensor.Zeros(0).SumAll())
	// Output:
	// [5. 7. 9.]
	// [[ 6.]
	//  [15.]]
	// 21 0
}

func ExampleTensor_Argmax() {
	t := tensor.MustNew([]float64{3, 9, 9, 1, 0, 2}, 2, 3)
	fmt.Println(t.Argmax(1, false)) // the first of equal maxima wins
	// Output:
	// [1. 2.]
}

func ExampleTensor_String() {
	fmt.Println(tensor.MustNew([]float64{1, 0.5, -2.25, 100}, 2, 2))
	fmt.Println(tensor.Arange(0, 2000, 1)) // summarized past 1000 elements
	// Output:
	// [[  1.     0.5 ]
	//  [ -2.25 100.  ]]
	// [0.000e+00 1.000e+00 2.000e+00 ... 1.997e+03 1.998e+03 1.999e+03]
}

func ExampleConv2d() {
	x := tensor.Ones(1, 1, 4, 4)
	w := tensor.Ones(1, 1, 3, 3)
	y := tensor.Conv2d(x, w, nil, tensor.ConvOpts{Padding: [2]int{1, 1}})
	fmt.Println(y.Reshape(4, 4))
	// Output:
	// [[4. 6. 6. 4.]
	//  [6. 9. 9. 6.]
	//  [6. 9. 9. 6.]
	//  [4. 6. 6. 4.]]
}

func ExampleSoftmax() {
	p := tensor.Softmax(tensor.FromSlice([]float64{0, 0, 1000}), 0)
	fmt.Println(p)
	// Output:
	// [0. 0. 1.]
}

func ExampleReadNPY() {
	var buf bytes.Buffer
	if err := tensor.WriteNPY(&buf, tensor.Eye(2)); err != nil {
		panic(err)
	}
	t, err := tensor.ReadNPY(&buf)
	fmt.Println(t, err)
	_, err = tensor.ReadNPY(strings.NewReader("\x93NUMPY\x01\x00"))
	fmt.Println(err)
	// Output:
	// [[1. 0.]
	//  [0. 1.]] <nil>
	// npy: read header length: unexpected EOF
}

func ExampleReadCSV() {
	in := "height,weight\n1.80,75\n1.65,61.5\n"
	t, names, err := tensor.ReadCSV(strings.NewReader(in), true)
	fmt.Println(names, t.Shape(), err)
	fmt.Println(t.Mean(0, false))
	_, _, err = tensor.ReadCSV(strings.NewReader("a,b\n1,2\n3,x\n"), true)
	fmt.Println(err)
	// Output:
	// [height weight] [2 2] <nil>
	// [ 1.725 68.25 ]
	// csv: line 3 (data row 2), column 2 ("b"): "x" is not a number
}

func ExampleShapeError() {
	defer func() { fmt.Println(recover()) }()
	tensor.Ones(2, 3).Add(tensor.Ones(4))
	// Output:
	// tensor.Add: shapes [2 3] and [4]: dim -1: 3 vs 4 cannot broadcast
}
