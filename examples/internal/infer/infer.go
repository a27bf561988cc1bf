// Package infer is what the image-classification examples share: a model
// owner trains a network in the clear, shares it with the data owner as
// architecture plus secret-shared weights, the data owner encrypts its
// images, the parties classify them jointly, and only the data owner learns
// the logits; the same model then runs on the same images in plaintext and
// the two are compared (CrypTen's Tutorial 4, mpc_cifar and tfe_benchmarks).
package infer

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

// TrainConfig is the model owner's plaintext training.
type TrainConfig struct {
	Epochs, Batch int
	LR            float64 // Adam's learning rate
	Seed          uint64  // batch order
}

// Train trains m in the clear on images x and labels y with Adam and
// cross-entropy, printing each epoch's mean loss to w, and leaves m in
// evaluation mode.
func Train(w io.Writer, m *nn.Model, x, y *tensor.Tensor, c TrainConfig) error {
	if c.Epochs < 0 || c.Batch < 1 {
		return fmt.Errorf("training: %d epochs of batches of %d: want epochs >= 0 and a positive batch", c.Epochs, c.Batch)
	}
	n := x.Shape()[0]
	opt := nn.NewAdam(m.Parameters(), c.LR)
	rng := tensor.NewRNG(c.Seed)
	m.Train()
	for epoch := 1; epoch <= c.Epochs; epoch++ {
		start := time.Now()
		perm := rng.Perm(n)
		var total float64
		batches := 0
		for i := 0; i < n; i += c.Batch {
			idx := perm[i:min(i+c.Batch, n)]
			if len(idx) < 2 && batches > 0 {
				break // a batch of one has no batch statistics
			}
			opt.ZeroGrad()
			out, err := m.Forward(nn.NewVariable(x.IndexSelect(0, idx)))
			if err != nil {
				return err
			}
			loss := nn.CrossEntropyLoss(out, nn.NewVariable(y.IndexSelect(0, idx)))
			if err := loss.Backward(); err != nil {
				return err
			}
			if err := opt.Step(); err != nil {
				return err
			}
			total += loss.Tensor().Item()
			batches++
		}
		fmt.Fprintf(w, "  epoch %d: mean loss %.4f (%v)\n", epoch, total/float64(batches), time.Since(start).Round(time.Millisecond))
	}
	m.Eval()
	return nil
}

// Outcome is what a comparison found.
type Outcome struct {
	Images                   int
	Agree                    int     // encrypted top-1 equal to plaintext's
	EncCorrect, PlainCorrect int     // top-1 equal to the true label
	MaxLogitError            float64 // encrypted against plaintext logits
	// Margins counts the images whose plaintext top-2 margin exceeds twice
	// MaxLogitError, and MarginAgree those of them where the encrypted top-1
	// equals plaintext's (it must: the error cannot reorder them).
	Margins, MarginAgree int
	Bytes, Rounds        int64 // sent by party 0 during inference
	Elapsed              time.Duration
}

// Agreement is the fraction of images on which encrypted and plaintext
// top-1 labels agree.
func (o *Outcome) Agreement() float64 { return float64(o.Agree) / float64(o.Images) }

// EncAccuracy is the encrypted model's accuracy.
func (o *Outcome) EncAccuracy() float64 { return float64(o.EncCorrect) / float64(o.Images) }

// PlainAccuracy is the plaintext model's accuracy.
func (o *Outcome) PlainAccuracy() float64 { return float64(o.PlainCorrect) / float64(o.Images) }

// Argmax returns the index of each row's largest value.
func Argmax(t *tensor.Tensor) []int {
	a := t.Argmax(1, false).Data()
	out := make([]int, len(a))
	for i, v := range a {
		out[i] = int(v)
	}
	return out
}

// Compare classifies x (n, ...) with labels under encryption at parties
// parties — party 1 shares model, party 0 the images, chunk images per
// forward pass, only party 0 learns the logits — and in plaintext, and
// reports how the two agree. It prints a summary to w.
func Compare(w io.Writer, model *nn.Model, x, labels *tensor.Tensor, parties, chunk int) (*Outcome, error) {
	if chunk < 1 {
		return nil, fmt.Errorf("images per encrypted pass: %d, want at least 1", chunk)
	}
	if parties < 2 {
		return nil, fmt.Errorf("%d parties: the model owner and the data owner are two", parties)
	}
	n := x.Shape()[0]
	plain, err := model.Forward(nn.NewVariable(x))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "encrypted inference on %d images (%d per pass), %d parties: party 1 shares the model, party 0 the images\n", n, chunk, parties)
	res, err := mpc.RunLocal(parties, func(p *mpc.Party) (any, error) {
		var mine *nn.Model
		if p.Rank() == 1 {
			mine = model
		}
		m, err := nn.ShareModel(p, mine, 1)
		if err != nil {
			return nil, err
		}
		var parts []*tensor.Tensor
		for i := 0; i < n; i += chunk {
			j := min(i+chunk, n)
			images := tensor.Zeros(append([]int{j - i}, x.Shape()[1:]...)...)
			if p.Rank() == 0 {
				images = x.Slice(0, i, j, 1)
			}
			logits, err := m.Forward(nn.NewVariable(images).Encrypt(p, 0))
			if err != nil {
				return nil, err
			}
			t, err := logits.PlainTextTo(0)
			if err != nil {
				return nil, err
			}
			if p.Rank() != 0 && t != nil {
				return nil, fmt.Errorf("party %d learned logits", p.Rank())
			}
			parts = append(parts, t)
		}
		if p.Rank() != 0 {
			return nil, nil
		}
		return tensor.Concat(0, parts...), nil
	})
	if err != nil {
		return nil, err
	}
	enc := res[0].Value.(*tensor.Tensor)
	pt := plain.Tensor()
	o := &Outcome{Images: n, MaxLogitError: tensor.MaxAbsDiff(enc, pt),
		Bytes: res[0].Stats.BytesSent, Rounds: res[0].Stats.Rounds, Elapsed: res[0].Elapsed}
	pe, pp := Argmax(enc), Argmax(pt)
	k := pt.Shape()[1]
	for i := range pe {
		l := int(labels.Data()[i])
		if pe[i] == pp[i] {
			o.Agree++
		}
		if pe[i] == l {
			o.EncCorrect++
		}
		if pp[i] == l {
			o.PlainCorrect++
		}
		if Margin(pt.Data()[i*k:(i+1)*k]) > 2*o.MaxLogitError {
			o.Margins++
			if pe[i] == pp[i] {
				o.MarginAgree++
			}
		}
	}
	fmt.Fprintf(w, "  party 0: %v, %d bytes sent, %d rounds\n", o.Elapsed.Round(time.Millisecond), o.Bytes, o.Rounds)
	fmt.Fprintf(w, "top-1 agreement with plaintext: %d/%d (%.2f%%); on the %d images whose top-2 margin exceeds twice the error: %d\n",
		o.Agree, o.Images, 100*o.Agreement(), o.Margins, o.MarginAgree)
	fmt.Fprintf(w, "accuracy: encrypted %.2f%%, plaintext %.2f%% (difference %.2f points)\n",
		100*o.EncAccuracy(), 100*o.PlainAccuracy(), 100*math.Abs(o.EncAccuracy()-o.PlainAccuracy()))
	fmt.Fprintf(w, "max abs logit error: %.2e\n", o.MaxLogitError)
	if math.IsNaN(o.MaxLogitError) {
		return o, fmt.Errorf("NaN logits")
	}
	if o.MarginAgree != o.Margins {
		return o, fmt.Errorf("encrypted top-1 differs from plaintext's on %d images whose margin exceeds twice the max logit error", o.Margins-o.MarginAgree)
	}
	return o, nil
}

// Margin is the gap between the largest and second largest of v.
func Margin(v []float64) float64 {
	a, b := math.Inf(-1), math.Inf(-1)
	for _, x := range v {
		if x > a {
			a, b = x, a
		} else if x > b {
			b = x
		}
	}
	return a - b
}
