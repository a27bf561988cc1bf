// Command bandits is CrypTen's contextual-bandits example: an online
// learner picks one of K arms for each arriving context and learns, per
// arm, a linear model of the reward from the contexts it chose it for,
// while the contexts and the rewards stay encrypted. Party 0 holds the
// contexts (a user's features, say), party 1 observes the rewards (the
// outcome of the action taken); neither ever sees the other's values, nor
// the learned models. Only the chosen arm of each step is revealed: that
// is the action the system must take.
//
// The learner is ridge regression per arm: for arm k it keeps the inverse
// of A_k = λI + Σ x xᵀ (updated by Sherman–Morrison, one encrypted
// reciprocal per step), b_k = Σ r x and the weights w_k = A_k⁻¹ b_k. The
// two policies of CrypTen's example choose the arm: epsilon-greedy plays
// argmax_k w_k·x, or with probability ε (public coins) an arm at random;
// LinUCB plays argmax_k w_k·x + α·sqrt(xᵀ A_k⁻¹ x), the estimate plus
// an upper confidence bonus that shrinks as the arm is tried in x's
// direction (its square root is taken of the bonus scaled into sqrt's
// accurate range). The same learner then runs in plaintext on the same contexts,
// rewards and coins, once taking the encrypted run's actions (to measure
// the fixed-point drift of the weights and how often the encrypted choice
// differs from plaintext's), and once on its own (to compare the reward
// collected).
//
// The data are synthetic: contexts uniform on the unit sphere in d
// dimensions, rewards θ_k·x plus Gaussian noise for hidden θ_k.
//
// Usage:
//
//	go run ./examples/bandits [-policy epsilon-greedy|linucb] [-steps 500] [-arms 5] [-features 10] [-epsilon 0.1] [-alpha 0.5] [-parties 2]
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/mpc/nn"
	"github.com/gomplab/gomplab/tensor"
)

type config struct {
	policy                         string // "epsilon-greedy" or "linucb"
	steps, arms, features, parties int
	epsilon, alpha, lambda, noise  float64
	seed                           uint64
}

var defaults = config{policy: "epsilon-greedy", steps: 500, arms: 5, features: 10, parties: 2, epsilon: 0.1, alpha: 0.5, lambda: 1, noise: 0.1, seed: 1}

func main() {
	c := defaults
	flag.StringVar(&c.policy, "policy", c.policy, "epsilon-greedy or linucb")
	flag.IntVar(&c.steps, "steps", c.steps, "contexts to act on")
	flag.IntVar(&c.arms, "arms", c.arms, "arms (actions)")
	flag.IntVar(&c.features, "features", c.features, "context features")
	flag.IntVar(&c.parties, "parties", c.parties, "MPC parties (party 0 holds the contexts, party 1 the rewards)")
	flag.Float64Var(&c.epsilon, "epsilon", c.epsilon, "exploration probability (epsilon-greedy)")
	flag.Float64Var(&c.alpha, "alpha", c.alpha, "weight of the confidence bonus (linucb)")
	flag.Float64Var(&c.lambda, "lambda", c.lambda, "ridge regularization")
	flag.Float64Var(&c.noise, "noise", c.noise, "reward noise (standard deviation)")
	flag.Uint64Var(&c.seed, "seed", c.seed, "random seed")
	flag.Parse()
	if _, err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "bandits:", err)
		os.Exit(1)
	}
}

// world is the simulation: contexts (steps, d), the reward of every arm
// for every context (steps, K) and the exploration coins.
type world struct {
	contexts, rewards *tensor.Tensor
	explore           []int // -1: exploit; else the arm drawn at random
}

func newWorld(c config) *world {
	r := tensor.NewRNG(c.seed)
	x := r.Normal(0, 1, c.steps, c.features)
	norms := x.Mul(x).Sum(1, true).Apply(math.Sqrt)
	x = x.Div(norms)
	theta := r.Normal(0, 1, c.arms, c.features)
	rewards := tensor.MatMul(x, theta.T()).Add(r.Normal(0, c.noise, c.steps, c.arms))
	w := &world{contexts: x, rewards: rewards, explore: make([]int, c.steps)}
	for t := range w.explore {
		w.explore[t] = -1
		if c.policy != "linucb" && r.Float64() < c.epsilon {
			w.explore[t] = r.Intn(c.arms)
		}
	}
	return w
}

// trace is one run of the learner.
type trace struct {
	Actions []int
	Reward  float64        // total reward collected
	Weights *tensor.Tensor // (K, d), revealed at the end for the comparison
	// Choices and Margins hold, per step, the arm with the best score and
	// its lead over the second best (plaintext runs only).
	Choices []int
	Margins []float64
}

// learner is the per-arm ridge regression, on plaintext or encrypted
// Variables alike.
type learner struct {
	ainv, b, w []*nn.Variable // per arm: (d, d), (d, 1), (1, d)
}

func newLearner(c config, p *mpc.Party) *learner {
	l := &learner{}
	for k := 0; k < c.arms; k++ {
		ainv := nn.NewVariable(tensor.Eye(c.features).MulScalar(1 / c.lambda))
		b := nn.NewVariable(tensor.Zeros(c.features, 1))
		w := nn.NewVariable(tensor.Zeros(1, c.features))
		if p != nil {
			// Public initial values, encrypted so the updates stay secret.
			ainv, b, w = ainv.Encrypt(p, 0), b.Encrypt(p, 0), w.Encrypt(p, 0)
		}
		l.ainv, l.b, l.w = append(l.ainv, ainv), append(l.b, b), append(l.w, w)
	}
	return l
}

// update adds the observation (x, r) to arm k.
func (l *learner) update(k int, x, r *nn.Variable) {
	u := l.ainv[k].MatMul(x)                            // A⁻¹x, (d, 1)
	den := x.T().MatMul(u).AddScalar(1).Reciprocal()    // 1/(1 + xᵀA⁻¹x), in (0.5, 1]
	l.ainv[k] = l.ainv[k].Sub(u.MatMul(u.T()).Mul(den)) // Sherman–Morrison
	l.b[k] = l.b[k].Add(x.Mul(r))
	l.w[k] = l.ainv[k].MatMul(l.b[k]).T()
}

// bonus returns LinUCB's α·sqrt(xᵀ A_k⁻¹ x) for every arm, (K, 1). The
// quadratic forms lie in (0, 1/λ]; scaled by 100λ they fall in sqrt's
// accurate range [0.1, 100] down to 10⁻³/λ, far below any bonus that
// decides a choice.
func (l *learner) bonus(c config, x *nn.Variable) *nn.Variable {
	k := len(l.ainv)
	u := nn.Concat(0, l.ainv...).MatMul(x).Reshape(k, c.features) // row k: (A_k⁻¹ x)ᵀ
	q := u.Mul(x.Reshape(1, c.features)).Sum(1).Reshape(k, 1)     // xᵀ A_k⁻¹ x
	scale := 100 * c.lambda
	return q.MulScalar(scale).Sqrt().MulScalar(c.alpha / math.Sqrt(scale))
}

// play runs the learner over the world on party p (nil: plaintext). With
// follow set, it takes those actions instead of its own (plaintext only).
func play(p *mpc.Party, c config, wd *world, follow []int) (*trace, error) {
	l := newLearner(c, p)
	tr := &trace{}
	for t := 0; t < c.steps; t++ {
		x := nn.NewVariable(wd.contexts.Slice(0, t, t+1, 1).Reshape(c.features, 1))
		if p != nil {
			if p.Rank() != 0 {
				x = nn.NewVariable(tensor.Zeros(c.features, 1))
			}
			x = x.Encrypt(p, 0) // party 0's context
		}
		scores := nn.Concat(0, l.w...).MatMul(x) // (K, 1)
		if c.policy == "linucb" {
			scores = scores.Add(l.bonus(c, x))
		}
		var action int
		switch {
		case follow != nil:
			action = follow[t]
		case wd.explore[t] >= 0:
			action = wd.explore[t]
		default:
			onehot, err := scores.ArgmaxOneHot(0).PlainText() // the action, revealed
			if err != nil {
				return nil, fmt.Errorf("step %d: %w", t, err)
			}
			action = int(onehot.Argmax(0, false).Data()[0])
		}
		if p == nil {
			sc := scores.Tensor()
			tr.Choices = append(tr.Choices, int(sc.Argmax(0, false).Data()[0]))
			tr.Margins = append(tr.Margins, margin(sc.Data()))
		}
		tr.Actions = append(tr.Actions, action)
		reward := wd.rewards.Data()[t*c.arms+action]
		tr.Reward += reward
		r := nn.NewVariable(tensor.FromSlice([]float64{reward}).Reshape(1, 1))
		if p != nil {
			if p.Rank() != 1 {
				r = nn.NewVariable(tensor.Zeros(1, 1))
			}
			r = r.Encrypt(p, 1) // party 1 observed the outcome
		}
		l.update(action, x, r)
		if err := l.w[action].Err(); err != nil {
			return nil, fmt.Errorf("step %d: %w", t, err)
		}
	}
	w, err := nn.Concat(0, l.w...).PlainText()
	if err != nil {
		return nil, err
	}
	tr.Weights = w
	return tr, nil
}

// margin is the gap between the two largest values of v.
func margin(v []float64) float64 {
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

// outcome compares the encrypted run with plaintext.
type outcome struct {
	policy             string
	alpha              float64
	Enc, Replay, Plain *trace
	WeightError        float64 // encrypted against the replay's weights
	Greedy, Differ     int     // greedy steps; those where the replay would have chosen otherwise
	DifferWide         int     // of those, the ones whose plaintext margin exceeded twice the bound
	Oracle             float64 // reward of always playing the best arm
	Bytes, Rounds      int64
	Elapsed            time.Duration
}

// differenceBound bounds how far the gap between two arms' encrypted
// scores can lie from plaintext's: each score w_k·x moves by at most
// |Δw_k|₂·|x| ≤ √d·max|Δw| (|x| = 1), two scores twice that, plus 1e-3 for
// the rounding of the products. The weights' error grows over the run, so
// the final one bounds every step's. LinUCB's bonus adds its own error:
// A⁻¹'s drift is of the weights' order, sqrt's error on the scaled form
// below 10⁻³ (docs/mpc.md), so α·(√d·max|Δw| + 10⁻²) bounds it with room.
func (o *outcome) differenceBound() float64 {
	d := math.Sqrt(float64(o.Enc.Weights.Shape()[1])) * o.WeightError
	b := 2*d + 1e-3
	if o.policy == "linucb" {
		b += 2 * o.alpha * (d + 1e-2)
	}
	return b
}

func run(w io.Writer, c config) (*outcome, error) {
	if c.steps < 1 || c.arms < 2 || c.features < 1 || c.parties < 2 {
		return nil, fmt.Errorf("-steps %d, -arms %d, -features %d, -parties %d: want at least 1 step, 2 arms, 1 feature and 2 parties",
			c.steps, c.arms, c.features, c.parties)
	}
	if c.lambda < 0.5 {
		return nil, fmt.Errorf("-lambda %g: want at least 0.5 (A⁻¹ starts at I/λ and its fixed-point range ends there)", c.lambda)
	}
	if c.policy != "epsilon-greedy" && c.policy != "linucb" {
		return nil, fmt.Errorf("-policy %q: want epsilon-greedy or linucb", c.policy)
	}
	wd := newWorld(c)
	what := fmt.Sprintf("epsilon-greedy (epsilon %.2f)", c.epsilon)
	if c.policy == "linucb" {
		what = fmt.Sprintf("LinUCB (alpha %.2f)", c.alpha)
	}
	fmt.Fprintf(w, "contextual bandit, %s: %d arms, %d features, %d steps; party 0 holds the contexts, party 1 the rewards, %d parties\n",
		what, c.arms, c.features, c.steps, c.parties)
	res, err := mpc.RunLocal(c.parties, func(p *mpc.Party) (any, error) { return play(p, c, wd, nil) })
	if err != nil {
		return nil, err
	}
	o := &outcome{policy: c.policy, alpha: c.alpha, Enc: res[0].Value.(*trace), Bytes: res[0].Stats.BytesSent, Rounds: res[0].Stats.Rounds, Elapsed: res[0].Elapsed}
	if o.Replay, err = play(nil, c, wd, o.Enc.Actions); err != nil {
		return nil, err
	}
	if o.Plain, err = play(nil, c, wd, nil); err != nil {
		return nil, err
	}
	o.WeightError = tensor.MaxAbsDiff(o.Enc.Weights, o.Replay.Weights)
	for t := 0; t < c.steps; t++ {
		o.Oracle += wd.rewards.Slice(0, t, t+1, 1).MaxAll()
		// Where the learner exploited, would plaintext, fed the same
		// history, have chosen the same arm?
		if wd.explore[t] >= 0 {
			continue
		}
		o.Greedy++
		if o.Replay.Choices[t] != o.Enc.Actions[t] {
			o.Differ++
			if o.Replay.Margins[t] > o.differenceBound() {
				o.DifferWide++
			}
		}
	}
	fmt.Fprintf(w, "  party 0: %v, %d bytes sent, %d rounds (%d per step)\n", o.Elapsed.Round(time.Millisecond), o.Bytes, o.Rounds, o.Rounds/int64(c.steps))
	fmt.Fprintf(w, "reward collected: encrypted %.2f, plaintext %.2f, best arm every time %.2f\n", o.Enc.Reward, o.Plain.Reward, o.Oracle)
	fmt.Fprintf(w, "learned weights: encrypted within %.2e of plaintext fed the same actions\n", o.WeightError)
	fmt.Fprintf(w, "choices by the policy (not by a coin): %d; plaintext would have chosen otherwise at %d, of which %d had a score margin above %.1e\n",
		o.Greedy, o.Differ, o.DifferWide, o.differenceBound())
	return o, nil
}
