package syft_test

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
)

// The PySyft tutorial's first steps: send two tensors to bob, add them
// where they are, and get the result back.
func Example() {
	bob := syft.NewVirtualWorker("bob")
	defer bob.Shutdown()

	x, _ := syft.Send(tensor.FromSlice([]float64{1, 2, 3, 4, 5}), bob)
	y, _ := syft.Send(tensor.FromSlice([]float64{1, 1, 1, 1, 1}), bob)
	defer x.Free() // (or let x be garbage collected: it owns its object)
	defer y.Free()
	z, _ := x.Add(y) // computed on bob; z is a pointer
	objs, _ := bob.List()
	fmt.Println("bob holds", len(objs), "objects")

	v, err := z.Get() // brings the value back and removes it from bob
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Data())
	objs, _ = bob.List()
	fmt.Println("bob holds", len(objs), "objects")
	// Output:
	// bob holds 3 objects
	// [2 3 4 5 6]
	// bob holds 2 objects
}

// Move sends an object from one worker to another directly; the pointer
// follows it.
func ExamplePointer_Move() {
	bob := syft.NewVirtualWorker("bob")
	alice := syft.NewVirtualWorker("alice")
	defer bob.Shutdown()
	defer alice.Shutdown()

	x, _ := syft.Send(tensor.FromSlice([]float64{1, 2, 3, 4, 5}), bob)
	x, _ = x.Move(alice)
	onBob, _ := bob.List()
	onAlice, _ := alice.List()
	fmt.Println(x.Location().ID(), len(onBob), len(onAlice))
	// Output: alice 0 1
}

// Pointer.Send gives alice a pointer to bob's tensor; operations through it
// run on bob.
func ExamplePointer_Send() {
	bob := syft.NewVirtualWorker("bob")
	alice := syft.NewVirtualWorker("alice")
	defer bob.Shutdown()
	defer alice.Shutdown()

	x, _ := syft.Send(tensor.FromSlice([]float64{1, 2, 3, 4}), bob)
	px, _ := x.Send(alice) // alice holds a pointer to bob's x
	fmt.Println(px.Info().Kind, "on", px.Location().ID(), "->", px.Info().Target == "bob:"+x.ID())

	doubled, _ := px.Mul(2)
	v, _ := doubled.Get()
	fmt.Println(v.Data())
	// Output:
	// pointer on alice -> true
	// [2 4 6 8]
}

// Search finds tagged objects on one worker or across several.
func ExampleSearch() {
	bob := syft.NewVirtualWorker("bob")
	alice := syft.NewVirtualWorker("alice")
	defer bob.Shutdown()
	defer alice.Shutdown()

	// Data meant to outlive its pointer is kept: a dropped pointer that
	// owns its object frees it when garbage collected.
	for _, d := range []struct {
		w    syft.Worker
		v    float64
		tags []string
	}{
		{bob, 1, []string{"#mnist", "#train"}},
		{alice, 2, []string{"#mnist", "#train"}},
		{alice, 3, []string{"#mnist", "#test"}},
	} {
		p, _ := syft.Send(tensor.FromSlice([]float64{d.v}), d.w, syft.WithTags(d.tags...))
		p.Keep()
	}

	found, _ := syft.Search([]syft.Worker{bob, alice}, "#mnist", "#train")
	for _, p := range found {
		fmt.Println(p.Location().ID(), p.Tags())
	}
	// Output:
	// bob [#mnist #train]
	// alice [#mnist #train]
}

// A data owner's private data can be computed on, but its values (and
// values computed from it) are refused to users the owner did not allow.
func ExampleAsPrivate() {
	bob := syft.NewVirtualWorker("bob") // acts as the ordinary user "me"
	defer bob.Shutdown()
	owner := bob.Owner()
	defer owner.Close()

	p, _ := syft.Send(tensor.FromSlice([]float64{52000, 61000, 58000}), owner,
		syft.WithTags("#salaries"), syft.AsPrivate())
	p.Keep() // the data outlives the owner's pointer

	found, _ := bob.Search("#salaries")
	mean, _ := found[0].Mean(false)
	_, err := mean.Get()
	fmt.Println(errors.Is(err, workers.ErrPermission), mean.Private())
	// Output: true true
}
