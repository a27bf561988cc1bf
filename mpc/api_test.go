package mpc

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/tensor"
)

type mapStore map[string]*tensor.Tensor

func (m mapStore) Load(tag string) (*tensor.Tensor, error) {
	t, ok := m[tag]
	if !ok {
		return nil, fmt.Errorf("no tensor tagged %q", tag)
	}
	return t, nil
}

func (m mapStore) Save(tag string, t *tensor.Tensor) error { m[tag] = t; return nil }

func TestLoadByTag(t *testing.T) {
	x := tensor.RandN(40, 2, 5)
	for _, n := range parties {
		res, err := RunLocal(n, func(p *Party) (any, error) {
			if p.Rank() == 1 {
				SetStore(p, mapStore{"data": x})
			}
			ct, err := p.Load("data", 1)
			if err != nil {
				return nil, err
			}
			return ct.GetPlainText()
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			assertClose(t, fmt.Sprintf("%d parties rank %d", n, r.Rank), r.Value.(*tensor.Tensor), x, ulp)
		}
		// Unknown tag: every rank fails with the source's reason.
		res, err = RunLocal(n, func(p *Party) (any, error) {
			if p.Rank() == 0 {
				SetStore(p, mapStore{})
			}
			return p.Load("missing", 0)
		})
		if err == nil {
			t.Fatal("loading a missing tag succeeded")
		}
		for _, r := range res {
			if r.Err == nil || !strings.Contains(r.Err.Error(), `"missing"`) {
				t.Errorf("rank %d: error %v does not name the tag", r.Rank, r.Err)
			}
		}
	}
}

func TestRunLocalReportsPanicsPerRank(t *testing.T) {
	res, err := RunLocal(3, func(p *Party) (any, error) {
		x := p.Encrypt(tensor.Zeros(2), 0)
		if p.Rank() == 2 {
			x.Add(tensor.Zeros(3)) // shape mismatch on one rank only
		}
		return x.GetPlainText()
	})
	if err == nil {
		t.Fatal("no error")
	}
	var me *Error
	if !errors.As(res[2].Err, &me) || me.Rank != 2 || me.Op != "Add" {
		t.Fatalf("rank 2 error %v, want an *mpc.Error from Add", res[2].Err)
	}
	for _, r := range res[:2] {
		if r.Err == nil {
			t.Errorf("rank %d finished although rank 2 failed", r.Rank)
		}
	}
}

func TestDefaultParty(t *testing.T) {
	res, err := RunLocal(1, func(p *Party) (any, error) {
		SetDefault(p)
		defer SetDefault(nil)
		x := Encrypt(tensor.FromSlice([]float64{1, 2}), 0)
		return fmt.Sprint(Rank(), WorldSize(), x.MustPlainText().Data()), nil
	})
	if err != nil || res[0].Value != "0 1 [1 2]" {
		t.Fatalf("got %v, %v", res[0].Value, err)
	}
}

func init() {
	RegisterParty("test-dot", func(p *Party) (any, error) {
		a := p.Encrypt(tensor.Arange(0, 6, 1), 0)
		b := p.Encrypt(tensor.Full(0.5, 6), 1)
		return a.Dot(b).Relu().GetPlainText()
	})
	RegisterParty("test-fail", func(p *Party) (any, error) {
		if p.Rank() == 1 {
			return nil, errors.New("rank one refuses")
		}
		return p.Encrypt(tensor.Zeros(1), 0).GetPlainText()
	})
}

func TestRunProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	res, err := RunProcesses(2, "test-dot", ProcessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		v, ok := r.Value.(*tensor.Tensor)
		if !ok || v.Item() != 7.5 {
			t.Fatalf("rank %d returned %v", r.Rank, r.Value)
		}
		if r.Stats.Rounds == 0 || r.ByOp["MatMul"].BytesSent == 0 {
			t.Errorf("rank %d stats missing: %+v %v", r.Rank, r.Stats, r.ByOp)
		}
	}
	res, err = RunProcesses(2, "test-fail", ProcessOptions{})
	if err == nil || !strings.Contains(err.Error(), "rank one refuses") {
		t.Fatalf("error %v does not carry rank 1's failure", err)
	}
	if res[0].Err == nil {
		t.Error("rank 0 succeeded although its peer left")
	}
}

func ExampleCrypTensor_Relu() {
	res, err := RunLocal(2, func(p *Party) (any, error) {
		x := p.Encrypt(tensor.FromSlice([]float64{-1.5, 0, 2.25}), 0)
		return x.Relu().GetPlainText()
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res[1].Value.(*tensor.Tensor).Data())
	// Output: [0 0 2.25]
}

func ExampleAdd() {
	res, _ := RunLocal(2, func(p *Party) (any, error) {
		x := p.Encrypt(tensor.FromSlice([]float64{1, 2}), 1)
		// A public operand on the left gives the same result as on the right.
		left := Add(tensor.FromSlice([]float64{10, 20}), x).MustPlainText()
		right := x.Add(tensor.FromSlice([]float64{10, 20})).MustPlainText()
		return fmt.Sprint(left.Data(), right.Data()), nil
	})
	fmt.Println(res[0].Value)
	// Output: [11 22] [11 22]
}
