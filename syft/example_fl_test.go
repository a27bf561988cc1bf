package syft_test

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

func ExampleFederate() {
	bob, alice := syft.NewVirtualWorker("bob"), syft.NewVirtualWorker("alice")
	defer bob.Shutdown()
	defer alice.Shutdown()
	data := tensor.MustNew([]float64{0, 0, 0, 1, 1, 0, 1, 1}, 4, 2)
	target := tensor.MustNew([]float64{0, 0, 1, 1}, 4, 1)
	fd, err := syft.Federate(data, target, bob, alice)
	if err != nil {
		panic(err)
	}
	for _, p := range fd.Parts() {
		fmt.Println(p.Worker.ID(), p.Len, p.Data.Shape())
	}
	// Output:
	// bob 2 [2 2]
	// alice 2 [2 2]
}

func ExampleNewFederatedDataLoader() {
	bob, alice := syft.NewVirtualWorker("bob"), syft.NewVirtualWorker("alice")
	defer bob.Shutdown()
	defer alice.Shutdown()
	fd, err := syft.Federate(tensor.Zeros(10, 3), tensor.Zeros(10), bob, alice)
	if err != nil {
		panic(err)
	}
	loader, err := syft.NewFederatedDataLoader(fd, syft.LoaderOptions{BatchSize: 2, Shuffle: true, Seed: 1, DropLast: true})
	if err != nil {
		panic(err)
	}
	it := loader.Iter()
	for it.Next() {
		b := it.Batch() // pointers to data and targets, cut on the worker
		fmt.Println(b.Worker.ID(), b.Index, b.Data.Shape(), b.Target.Shape())
	}
	if err := it.Err(); err != nil {
		panic(err)
	}
	// Output:
	// bob 0 [2 3] [2]
	// bob 1 [2 3] [2]
	// alice 0 [2 3] [2]
	// alice 1 [2 3] [2]
}

// The seed tutorial's toy model, trained where the data is.
func ExampleModelPointer_Train() {
	bob, alice := syft.NewVirtualWorker("bob"), syft.NewVirtualWorker("alice")
	defer bob.Shutdown()
	defer alice.Shutdown()
	data := tensor.MustNew([]float64{0, 0, 0, 1, 1, 0, 1, 1}, 4, 2)
	target := tensor.MustNew([]float64{0, 0, 1, 1}, 4, 1)
	fd, _ := syft.Federate(data, target, bob, alice)
	model := nn.NewModel(nn.NewLinear(2, 1, tensor.NewRNG(1)))
	opt := syft.NewOptimizer("sgd", 0.1) // one state per worker, kept there
	var first, last float64
	for iter := 0; iter < 20; iter++ {
		total := 0.0
		for _, p := range fd.Parts() {
			mp, err := syft.SendModel(model, p.Worker)
			if err != nil {
				panic(err)
			}
			loss, err := mp.Train(p.Data, p.Targets, syft.TrainConfig{Loss: "sum_squared", Optimizer: opt})
			if err != nil {
				panic(err)
			}
			model, _ = mp.Get()
			l, _ := loss.Get()
			total += l.Item()
		}
		if iter == 0 {
			first = total
		}
		last = total
	}
	fmt.Printf("loss fell more than tenfold: %v\n", last < first/10)
	// Output: loss fell more than tenfold: true
}

func ExampleSecureAggregate() {
	bob, alice := syft.NewVirtualWorker("bob"), syft.NewVirtualWorker("alice")
	defer bob.Shutdown()
	defer alice.Shutdown()
	a := nn.NewModel(nn.NewLinear(2, 1, tensor.NewRNG(1)))
	b := nn.NewModel(nn.NewLinear(2, 1, tensor.NewRNG(2)))
	pa, _ := syft.SendModel(a, bob)
	pb, _ := syft.SendModel(b, alice)
	// bob and alice exchange random shares of their models; this process
	// receives only two sums that add up to the total.
	res, err := syft.SecureAggregate([]*syft.ModelPointer{pa, pb}, syft.SecureAggOptions{})
	if err != nil {
		panic(err)
	}
	sa, _ := a.StateDict()
	sb, _ := b.StateDict()
	got, _ := res.Model.StateDict()
	want := sa["weight"].Add(sb["weight"]).DivScalar(2)
	fmt.Println(res.Included, tensor.MaxAbsDiff(want, got["weight"]) <= math.Ldexp(1, -25))
	// Output: [bob alice] true
}

func ExampleAverageOn() {
	bob, alice, secure := syft.NewVirtualWorker("bob"), syft.NewVirtualWorker("alice"), syft.NewVirtualWorker("secure")
	defer bob.Shutdown()
	defer alice.Shutdown()
	defer secure.Shutdown()
	pa, _ := syft.SendModel(nn.NewModel(nn.NewLinear(1, 1, tensor.NewRNG(1))), bob)
	pb, _ := syft.SendModel(nn.NewModel(nn.NewLinear(1, 1, tensor.NewRNG(2))), alice)
	avg, err := syft.AverageOn(secure, []*syft.ModelPointer{pa, pb}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(avg.Location().ID())
	m, _ := avg.Get()
	fmt.Println(m.NumParams())
	// Output:
	// secure
	// 2
}

func ExampleFederatedFromTags() {
	bob := syft.NewVirtualWorker("bob")
	defer bob.Shutdown()
	// The data owner loaded a private dataset under tags.
	owner := bob.Owner()
	x, _ := syft.Send(tensor.Zeros(6, 3), owner, syft.WithTags("#images"), syft.AsPrivate())
	y, _ := syft.Send(tensor.Zeros(6), owner, syft.WithTags("#labels"), syft.AsPrivate())
	x.Keep()
	y.Keep()

	fd, err := syft.FederatedFromTags("#images", "#labels", bob)
	if err != nil {
		panic(err)
	}
	p := fd.Part("bob")
	fmt.Println(p.Len, p.Data.Private())
	// Output: 6 true
}

func ExampleNewFedAvg() {
	bob, alice := syft.NewVirtualWorker("bob"), syft.NewVirtualWorker("alice")
	defer bob.Shutdown()
	defer alice.Shutdown()
	// y = 2x - 1, split between bob and alice.
	x := tensor.Linspace(-1, 1, 40).Reshape(40, 1)
	y := x.MulScalar(2).AddScalar(-1)
	fd, _ := syft.Federate(x, y, bob, alice)
	loader, _ := syft.NewFederatedDataLoader(fd, syft.LoaderOptions{BatchSize: 10, Shuffle: true, Seed: 1})
	fa, err := syft.NewFedAvg(nn.NewModel(nn.NewLinear(1, 1, tensor.NewRNG(1))), syft.FedAvgConfig{
		Loader: loader, LocalSteps: 2,
		Train: syft.TrainConfig{Loss: "mse", Optimizer: syft.Optimizer{LR: 0.3}},
	})
	if err != nil {
		panic(err)
	}
	var st *syft.RoundStats
	for r := 0; r < 30; r++ {
		if st, err = fa.Round(); err != nil {
			panic(err)
		}
	}
	sd, _ := fa.Model().StateDict()
	fmt.Println(st.Included, st.Loss < 1e-3)
	fmt.Printf("w %.2f b %.2f\n", sd["weight"].Item(), sd["bias"].Item())
	// Output:
	// [alice bob] true
	// w 2.00 b -1.00
}
