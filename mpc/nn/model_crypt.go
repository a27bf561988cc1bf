package nn

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

// Encrypt secret-shares the model's parameters and buffers from party src,
// in place, as CrypTen's model.encrypt(src). Every party must hold the same
// architecture (same code, or ShareModel); only src's weights are used, so
// the others may hold any values of the right shapes. Gradients are
// cleared. It costs no communication: shares come from pairwise seeds.
func (m *Model) Encrypt(p *mpc.Party, src int) error {
	if p == nil {
		return errors.New("nn: Encrypt: nil party")
	}
	if src < 0 || src >= p.WorldSize() {
		return fmt.Errorf("nn: Encrypt: source rank %d outside [0, %d)", src, p.WorldSize())
	}
	ps := m.root.Params()
	for _, q := range ps {
		if q.Var.Encrypted() {
			return fmt.Errorf("nn: Encrypt: parameter %q is already encrypted", q.Name)
		}
	}
	return guard("Encrypt", func() {
		for _, q := range ps {
			q.Var.val = crypt{p.Encrypt(q.Var.Tensor(), src)}
			q.Var.grad = nil
		}
	})
}

// Decrypt reveals the model's parameters and buffers to every party (one
// round per parameter) and makes them plaintext again.
func (m *Model) Decrypt() error { return m.decrypt(-1) }

// DecryptTo reveals the parameters to party dst only. On the other parties
// they become zeros, so the model keeps its architecture but not its weights.
func (m *Model) DecryptTo(dst int) error { return m.decrypt(dst) }

func (m *Model) decrypt(dst int) error {
	ps := m.root.Params()
	return guard("Decrypt", func() {
		for _, q := range ps {
			c := q.Var.CrypTensor()
			if c == nil {
				continue
			}
			var t *tensor.Tensor
			var err error
			if dst < 0 {
				t, err = c.GetPlainText()
			} else if t, err = c.GetPlainTextTo(dst); err == nil && t == nil {
				t = tensor.Zeros(c.Shape()...)
			}
			if err != nil {
				panic(opError{fmt.Errorf("parameter %q: %w", q.Name, err)})
			}
			q.Var.val = plain{t}
			q.Var.grad = nil
		}
	})
}

// ShareModel gives every party an encrypted copy of the model that party
// src holds (m; the other parties pass nil). Party src sends the model's
// architecture (its Spec: layer types and shapes, no weights); every party
// builds it and then receives the weights as secret shares, so no party
// but src ever sees them. src's own m is left as it was. The result is in
// evaluation mode, for inference; call Train to fine-tune it.
func ShareModel(p *mpc.Party, m *Model, src int) (*Model, error) {
	return shareModel(p, "ShareModel", m, false, nil, src)
}

// shareModel is ShareModel for op; srcErr, set on src, is a failure to
// obtain the model there, reported on every rank in place of the spec, and
// restricted, on src, says the model is private data the requester may not
// read (every party then becomes restricted, see mpc.Announce).
func shareModel(p *mpc.Party, op string, m *Model, restricted bool, srcErr error, src int) (*Model, error) {
	if p == nil {
		return nil, fmt.Errorf("nn: %s: nil party", op)
	}
	if src < 0 || src >= p.WorldSize() {
		return nil, fmt.Errorf("nn: %s: source rank %d outside [0, %d)", op, src, p.WorldSize())
	}
	// The announcement carries the spec or the error, so a failure at src
	// stops every party instead of leaving them waiting.
	var b []byte
	var sd map[string]*tensor.Tensor
	if p.Rank() == src {
		err := srcErr
		if err == nil {
			b, err = describeForSharing(m)
		}
		if err == nil {
			sd, err = m.StateDict()
		}
		srcErr = err
	}
	got, err := mpc.Announce(p, src, b, restricted, srcErr)
	if err != nil {
		if p.Rank() == src {
			return nil, fmt.Errorf("nn: %s: %w", op, err)
		}
		return nil, fmt.Errorf("nn: %s: the source cannot share its model: %w", op, err)
	}
	if len(got) > MaxSpecBytes {
		return nil, fmt.Errorf("nn: %s: architecture message of %d bytes", op, len(got))
	}
	spec, err := UnmarshalSpec(got)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", op, err)
	}
	out, err := BuildModel(spec)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", op, err)
	}
	if sd != nil {
		if err := out.LoadStateDict(sd); err != nil {
			return nil, fmt.Errorf("nn: %s: %w", op, err)
		}
	}
	out.Eval()
	if err := out.Encrypt(p, src); err != nil {
		return nil, err
	}
	return out, nil
}

func describeForSharing(m *Model) ([]byte, error) {
	if m == nil {
		return nil, errors.New("no model given at the source rank")
	}
	if m.Encrypted() {
		return nil, errors.New("the model is already encrypted")
	}
	s, err := m.Spec()
	if err != nil {
		return nil, err
	}
	b, err := s.Marshal()
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSpecBytes {
		return nil, fmt.Errorf("architecture of %d bytes exceeds %d", len(b), MaxSpecBytes)
	}
	return b, nil
}
