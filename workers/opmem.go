package workers

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/gomplab/gomplab/tensor"
)

// Memory one op may take. An op is estimated from its operands' shapes
// before it runs: its result, what it allocates on the way, and storing
// the result (storeCopies copies as large as the result). An op over the limit is refused naming the
// op, the shapes, the estimate and the limit; ops within it wait, while
// the ops running at once would together pass MaxOpBytesInFlight.
const (
	// DefaultMaxOpBytes is the memory one op may take (Config.MaxOpBytes).
	DefaultMaxOpBytes = 64 << 20
	// storeCopies is how many copies of a result storing it takes: the
	// encoded record (and the buffers it grew through), its sealed copy,
	// bbolt's page, and a neighbour in the leaf bbolt rewrites.
	storeCopies = 5
)

// OpMemory is an op's estimated memory, in bytes.
type OpMemory struct {
	Result, Intermediate, Store int64
}

// Total is the whole estimate.
func (m OpMemory) Total() int64 { return m.Result + m.Intermediate + m.Store }

// EstimateOp estimates the memory op takes on operands of shapes (a nil
// shape is a scalar), before running it.
func EstimateOp(op string, shapes [][]int, p OpParams) (OpMemory, error) {
	spec, ok := LookupOp(op)
	if !ok {
		return OpMemory{}, fmt.Errorf("op %q is not allowed", op)
	}
	for i, s := range shapes {
		if s == nil {
			shapes[i] = []int{}
		}
	}
	n, err := spec.outSize(shapes, p)
	if err != nil {
		return OpMemory{}, fmt.Errorf("op %s: %w", op, err)
	}
	m := OpMemory{Result: 8 * int64(n)}
	switch {
	case spec.Arity == 2 && op != "matmul":
		// A broadcast operand may be expanded to the result's shape.
		for _, s := range shapes {
			if tensor.Numel(s) != n {
				m.Intermediate += 8 * int64(n)
			}
		}
	case op == "transpose":
		m.Intermediate = 8 * int64(n)
	case op == "var":
		// The deviations from the mean, as large as the operand.
		m.Intermediate = 8 * int64(tensor.Numel(shapes[0]))
	}
	m.Store = storeCopies * m.Result
	return m, nil
}

// opBudget bounds the estimated memory of the ops running at once.
type opBudget struct {
	mu   sync.Mutex
	used int64
	max  int64
	wake chan struct{}
}

func newOpBudget(max int64) *opBudget { return &opBudget{max: max, wake: make(chan struct{})} }

// acquire waits until n bytes fit (an op alone always fits) or ctx ends.
func (b *opBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		w := b.wake
		b.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return fmt.Errorf("waiting for memory held by other ops (%d bytes of %d): %w", b.inUse(), b.max, ctx.Err())
		}
	}
}

func (b *opBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

func (b *opBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// MaxOpBytes is the memory one op may take on this worker.
func (h *Handler) MaxOpBytes() int64 { return h.cfg.MaxOpBytes }

// admitOp refuses an op whose estimate is over the limit, or waits for
// room among the ops running; release gives the room back.
func (h *Handler) admitOp(ctx context.Context, op string, shapes [][]int, p OpParams) (m OpMemory, release func(), err error) {
	m, err = EstimateOp(op, shapes, p)
	if err != nil {
		return m, nil, err
	}
	release, err = h.admit(ctx, op, shapes, m)
	return m, release, err
}

// AdmitStep holds one step of a computation that runs on this worker
// outside the op request (a plan's operation, sandbox/plan.Check) to the
// bound of ops: it is refused when the memory of computing it (its
// result and intermediates; storing the computation's outputs is not
// counted here) is over --max-op-memory, and otherwise waits for room
// among the ops running. An operation the op table does not know is
// estimated as large as its operands together.
func (h *Handler) AdmitStep(ctx context.Context, op string, shapes [][]int) (release func(), err error) {
	var m OpMemory
	if _, ok := LookupOp(op); ok {
		if m, err = EstimateOp(op, shapes, OpParams{}); err != nil {
			return func() {}, nil // the operation reports its own error
		}
	} else {
		for _, s := range shapes {
			if s != nil {
				m.Result += 8 * int64(tensor.Numel(s))
			}
		}
	}
	m.Store = 0
	return h.admit(ctx, op, shapes, m)
}

// admit refuses an estimate over the limit, or waits for room.
func (h *Handler) admit(ctx context.Context, op string, shapes [][]int, m OpMemory) (release func(), err error) {
	if max := h.cfg.MaxOpBytes; max > 0 && m.Total() > max {
		return nil, fmt.Errorf("%w: op %s on shapes %s needs about %s (result %s, intermediates %s, storing the result %s), more than the %s one op may take on this worker (its owner sets --max-op-memory); split the computation into smaller pieces",
			ErrTooLarge, op, shapesString(shapes), bytesString(m.Total()), bytesString(m.Result), bytesString(m.Intermediate), bytesString(m.Store), bytesString(max))
	}
	if h.opBudget == nil {
		return func() {}, nil
	}
	if err := h.opBudget.acquire(ctx, m.Total()); err != nil {
		return nil, fmt.Errorf("%w: op %s: %v", ErrDeadline, op, err)
	}
	return func() { h.opBudget.release(m.Total()) }, nil
}

func shapesString(shapes [][]int) string {
	var parts []string
	for _, s := range shapes {
		if len(s) == 0 {
			parts = append(parts, "scalar")
			continue
		}
		parts = append(parts, fmt.Sprint(s))
	}
	return strings.Join(parts, " x ")
}

// bytesString prints n in binary units.
func bytesString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
