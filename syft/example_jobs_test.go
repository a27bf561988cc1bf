package syft_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

// exampleProduct runs on every worker: each loads its own private tensor
// tagged "crypten_data", secret-shared; the product is decrypted.
func exampleProduct() (any, error) {
	a, err := mpc.Load("crypten_data", 0)
	if err != nil {
		return nil, err
	}
	b, err := mpc.Load("crypten_data", 1)
	if err != nil {
		return nil, err
	}
	return a.Mul(b).GetPlainText()
}

func ExampleRunMultiWorkers() {
	alice, bob := syft.NewVirtualWorker("alice"), syft.NewVirtualWorker("bob")
	defer alice.Shutdown()
	defer bob.Shutdown()
	// The data owners put private tensors on their workers.
	a, _ := syft.Send(tensor.FromSlice([]float64{1, 2, 3}), alice.Owner(), syft.WithTags("crypten_data"), syft.AsPrivate())
	b, _ := syft.Send(tensor.FromSlice([]float64{4, 5, 6}), bob.Owner(), syft.WithTags("crypten_data"), syft.AsPrivate())
	a.Keep()
	b.Keep()

	// The data scientist ("me", who may read neither) submits the job:
	// both owners must approve it before it runs.
	f, err := syft.FuncOf(exampleProduct)
	if err != nil {
		fmt.Println(err)
		return
	}
	job := &syft.Job{Workers: []syft.Worker{alice, bob}, MasterAddr: "127.0.0.1", Func: f}
	st, err := syft.Submit(job)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("alice:", st.Verdicts[0].Status, "bob:", st.Verdicts[1].Status)

	// Each owner reviews the request (syft.ShowRequest: the exact source,
	// what it loads, who learns the result) and approves it.
	for _, owner := range []*syft.VirtualWorker{alice.Owner(), bob.Owner()} {
		if _, err := syft.Approve(owner, st.ID, "me"); err != nil {
			fmt.Println(err)
			return
		}
	}
	results, err := job.Run(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results.Ranks {
		fmt.Printf("rank %d (%s): %.1f\n", r.Rank, r.Worker, r.Value.(*tensor.Tensor).Data())
	}
	// Output:
	// alice: pending bob: pending
	// rank 0 (alice): [4.0 10.0 18.0]
	// rank 1 (bob): [4.0 10.0 18.0]
}

func ExampleRunSource() {
	alice, bob := syft.NewVirtualWorker("alice"), syft.NewVirtualWorker("bob")
	defer alice.Shutdown()
	defer bob.Shutdown()
	src := `package main

import "os"

func f() { os.Exit(1) }
`
	_, err := syft.RunSource([]syft.Worker{alice, bob}, "127.0.0.1", src, "f")
	fmt.Println(sandbox.KindOf(err))
	fmt.Println(strings.SplitN(err.Error(), " (", 2)[0])
	// Output:
	// forbidden
	// syft: job.go:3:8: forbidden: import "os" is not allowed in a job
}

func ExampleFunc2Plan() {
	w := tensor.MustNew([]float64{1, 2, 3, 4}, 2, 2)
	p, err := syft.Func2Plan("scaled", func(b *syft.PlanBuilder, x *syft.Placeholder) *syft.Placeholder {
		return x.MatMul(b.State("w", w)).Relu().Mul(0.5)
	}, []int{1, 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p)
	out, _ := p.Run(tensor.MustNew([]float64{1, -1}, 1, 2))
	fmt.Println(out[0].Data())
	// Output:
	// plan scaled(x0 [1 2])
	//   v2 = matmul(x0, w)
	//   v3 = relu(v2)
	//   v4 = mul(v3, 0.5)
	//   return v4
	// [0 0]
}
