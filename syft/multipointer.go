package syft

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gomplab/gomplab/tensor"
)

// MultiPointer is PySyft 0.2's MultiPointerTensor: one pointer per worker,
// as when one tensor is sent to several workers (SendAll), so that an
// operation runs on every worker (each on its own copy, where it is) and
// the results are gathered (Get) or summed (Sum).
type MultiPointer struct {
	ptrs []*Pointer
}

// SendAll sends t to every worker in ws and returns the MultiPointer to
// the copies (PySyft's x.send(bob, alice)). If a send fails, the copies
// already sent are freed.
func SendAll(t *tensor.Tensor, ws []Worker, opts ...SendOption) (*MultiPointer, error) {
	if len(ws) == 0 {
		return nil, errors.New("syft: SendAll to no workers")
	}
	m := &MultiPointer{}
	for _, w := range ws {
		p, err := Send(t, w, opts...)
		if err != nil {
			m.Free()
			return nil, fmt.Errorf("syft: SendAll: %w", err)
		}
		m.ptrs = append(m.ptrs, p)
	}
	if err := distinctWorkers(m.ptrs); err != nil {
		m.Free()
		return nil, err
	}
	return m, nil
}

// NewMultiPointer groups pointers on distinct workers.
func NewMultiPointer(ptrs ...*Pointer) (*MultiPointer, error) {
	if len(ptrs) == 0 {
		return nil, errors.New("syft: NewMultiPointer of no pointers")
	}
	for i, p := range ptrs {
		if p == nil {
			return nil, fmt.Errorf("syft: NewMultiPointer: pointer %d is nil", i)
		}
	}
	if err := distinctWorkers(ptrs); err != nil {
		return nil, err
	}
	return &MultiPointer{ptrs: slices.Clone(ptrs)}, nil
}

func distinctWorkers(ptrs []*Pointer) error {
	seen := map[string]bool{}
	for _, p := range ptrs {
		id := p.Location().ID()
		if seen[id] {
			return fmt.Errorf("syft: MultiPointer: two pointers on worker %s (one per worker)", id)
		}
		seen[id] = true
	}
	return nil
}

// Pointers are the pointers, one per worker, in order.
func (m *MultiPointer) Pointers() []*Pointer { return slices.Clone(m.ptrs) }

// String lists the pointers.
func (m *MultiPointer) String() string {
	s := "(MultiPointer"
	for _, p := range m.ptrs {
		s += " " + p.String()
	}
	return s + ")"
}

// Apply runs f on every pointer (on each worker) and groups the results.
// If f fails on one, the results already made are freed.
func (m *MultiPointer) Apply(f func(*Pointer) (*Pointer, error)) (*MultiPointer, error) {
	out := &MultiPointer{}
	for _, p := range m.ptrs {
		q, err := f(p)
		if err != nil {
			out.Free()
			return nil, fmt.Errorf("syft: MultiPointer on %s: %w", p.Location().ID(), err)
		}
		out.ptrs = append(out.ptrs, q)
	}
	return out, nil
}

// pairwise runs f on the pointers of m and o on the same worker.
func (m *MultiPointer) pairwise(o *MultiPointer, f func(a, b *Pointer) (*Pointer, error)) (*MultiPointer, error) {
	if o == nil {
		return nil, errors.New("syft: MultiPointer: nil operand")
	}
	byWorker := map[string]*Pointer{}
	for _, q := range o.ptrs {
		byWorker[q.Location().ID()] = q
	}
	if len(byWorker) != len(m.ptrs) {
		return nil, fmt.Errorf("syft: MultiPointer: operands on %d and %d workers: they must be on the same workers", len(m.ptrs), len(o.ptrs))
	}
	return m.Apply(func(p *Pointer) (*Pointer, error) {
		q, ok := byWorker[p.Location().ID()]
		if !ok {
			return nil, errors.New("the other operand has no pointer on this worker")
		}
		return f(p, q)
	})
}

// Add adds, on every worker, the two operands' tensors there.
func (m *MultiPointer) Add(o *MultiPointer) (*MultiPointer, error) {
	return m.pairwise(o, func(a, b *Pointer) (*Pointer, error) { return a.Add(b) })
}

// Sub subtracts on every worker.
func (m *MultiPointer) Sub(o *MultiPointer) (*MultiPointer, error) {
	return m.pairwise(o, func(a, b *Pointer) (*Pointer, error) { return a.Sub(b) })
}

// Mul multiplies elementwise on every worker.
func (m *MultiPointer) Mul(o *MultiPointer) (*MultiPointer, error) {
	return m.pairwise(o, func(a, b *Pointer) (*Pointer, error) { return a.Mul(b) })
}

// MatMul multiplies matrices on every worker.
func (m *MultiPointer) MatMul(o *MultiPointer) (*MultiPointer, error) {
	return m.pairwise(o, func(a, b *Pointer) (*Pointer, error) { return a.MatMul(b) })
}

// Get gathers every worker's tensor, in order, and removes them (each
// under Pointer.Get's rules: a private one is refused and stays).
func (m *MultiPointer) Get() ([]*tensor.Tensor, error) { return m.gather(false) }

// GetCopy is Get that leaves the tensors on the workers.
func (m *MultiPointer) GetCopy() ([]*tensor.Tensor, error) { return m.gather(true) }

func (m *MultiPointer) gather(keep bool) ([]*tensor.Tensor, error) {
	out := make([]*tensor.Tensor, len(m.ptrs))
	for i, p := range m.ptrs {
		var err error
		if keep {
			out[i], err = p.GetCopy()
		} else {
			out[i], err = p.Get()
		}
		if err != nil {
			return nil, fmt.Errorf("syft: MultiPointer: %w", err)
		}
	}
	return out, nil
}

// Sum gets every worker's tensor and returns their sum (PySyft's
// get(sum_results=True)).
func (m *MultiPointer) Sum() (*tensor.Tensor, error) {
	ts, err := m.Get()
	if err != nil {
		return nil, err
	}
	s := ts[0]
	for _, t := range ts[1:] {
		s = s.Add(t)
	}
	return s, nil
}

// Free frees every pointer's object.
func (m *MultiPointer) Free() error {
	var errs []error
	for _, p := range m.ptrs {
		errs = append(errs, p.Free())
	}
	return errors.Join(errs...)
}
