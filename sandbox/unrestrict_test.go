package sandbox

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

// unrestrictRoutes try to reveal restricted data on a party whose policy
// names only the requester, by getting around the party's restriction.
var unrestrictRoutes = []struct{ name, body string }{
	{"direct", `y, err := mpc.Load("secret", 0)
	if err != nil { return nil, err }
	return y.GetPlainText()`},
	{"party copied before the load", `pp := *mpc.Default()
	y, err := mpc.Load("secret", 0)
	if err != nil { return nil, err }
	return pp.Zeros(3).Add(y).GetPlainText()`},
	{"party copied after the load", `y, err := mpc.Load("secret", 0)
	if err != nil { return nil, err }
	pp := *mpc.Default()
	return pp.Zeros(3).Add(y).GetPlainText()`},
	{"copy loads", `pp := *mpc.Default()
	y, err := pp.Load("secret", 0)
	if err != nil { return nil, err }
	return mpc.Default().Zeros(3).Add(y).GetPlainText()`},
	{"copy loads, original concatenates", `pp := *mpc.Default()
	y, err := pp.Load("secret", 0)
	if err != nil { return nil, err }
	return mpc.Concat(0, mpc.Default().Zeros(1), y).GetPlainText()`},
	{"copy loads, original stacks", `pp := *mpc.Default()
	y, err := pp.Load("secret", 0)
	if err != nil { return nil, err }
	return mpc.Stack(0, mpc.Default().Zeros(3), y).GetPlainText()`},
	{"copy loads, original selects", `pp := *mpc.Default()
	y, err := pp.Load("secret", 0)
	if err != nil { return nil, err }
	return mpc.Where(tensor.Ones(3), y, mpc.Default().Zeros(3)).GetPlainText()`},
	{"public operand first", `y, err := mpc.Load("secret", 0)
	if err != nil { return nil, err }
	return mpc.Add(tensor.Zeros(3), y).GetPlainText()`},
	{"reveal to one party", `y, err := mpc.Load("secret", 0)
	if err != nil { return nil, err }
	return y.GetPlainTextTo(mpc.Rank())`},
	{"binary", `y, err := mpc.Load("secret", 0)
	if err != nil { return nil, err }
	return y.ToBinary().GetPlainText()`},
	{"wide", `y, err := mpc.Load("secret", 0)
	if err != nil { return nil, err }
	return y.Wide().GetPlainText()`},
	{"nn variable", `y, err := nn.LoadEncrypted(mpc.Default(), "secret", 0)
	if err != nil { return nil, err }
	return y.PlainText()`},
	{"model decrypt", `m, err := nn.LoadModel("model", 0)
	if err != nil { return nil, err }
	if err := m.Decrypt(); err != nil { return nil, err }
	return m.StateDict()`},
	{"zero party", `var q mpc.Party
	y, err := mpc.Load("secret", 0)
	if err != nil { return nil, err }
	return q.Zeros(3).Add(y).GetPlainText()`},
}

// TestJailCannotUnrestrict: on parties restricted by a private load and
// whose policy names only the requester, no way of writing the job
// reveals the canaries: each attempt is refused (or fails), on every
// rank.
func TestJailCannotUnrestrict(t *testing.T) {
	for _, rt := range unrestrictRoutes {
		t.Run(rt.name, func(t *testing.T) {
			src := `package main

import (
	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

var _, _ = nn.LoadModel, tensor.Zeros

func f() (any, error) {
	` + rt.body + `
}
`
			res, _ := mpc.RunLocal(2, func(p *mpc.Party) (any, error) {
				if p.Rank() == 0 {
					mpc.SetStore(p, restrictedCanaries{})
				}
				var out strings.Builder
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				v, err := Run(ctx, Program{Source: src, Entry: "f"}, nil, Env{Party: p, Stdout: &out, JobID: "j"})
				return fmt.Sprintf("value %v error %v output %q", v, err, out.String()), nil
			}, mpc.WithRevealPolicy(mpc.RevealPolicy{Request: "r-u", Recipients: []string{"requester"}}))
			for _, r := range res {
				text := fmt.Sprint(r.Value, r.Err)
				if containsAny(text, plainCanaries()) || !strings.Contains(text, "error ") || strings.Contains(text, "error <nil>") {
					t.Errorf("rank %d: %s", r.Rank, text)
				}
			}
		})
	}
}

// restrictedCanaries is canaryStore, every object restricted.
type restrictedCanaries struct{ canaryStore }

func (s restrictedCanaries) LoadTagged(tag string) (*tensor.Tensor, bool, error) {
	t, err := s.Load(tag)
	return t, true, err
}

func (s restrictedCanaries) SaveTagged(tag string, t *tensor.Tensor, restricted bool) error {
	if !restricted {
		return fmt.Errorf("an unrestricted save of %q from a restricted job", tag)
	}
	return nil
}
