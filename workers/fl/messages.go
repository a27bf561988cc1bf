package fl

import "github.com/gomplab/gomplab/workers/store"

// Message types of federated learning (package syft's federated datasets,
// remote training and aggregation). Register adds them to a Handler
// (daemon.NewWorker does, for daemons and virtual workers alike). Every
// one of them refuses grant sessions: only a user drives training, never
// another worker holding a grant.
const (
	// MsgBatch selects rows of a dataset stored on the worker into a new
	// (data, target) pair there: batches are cut where the data is.
	MsgBatch = "fl.batch"
	// MsgTrain runs training steps of a stored model on stored batches.
	MsgTrain = "fl.train"
	// MsgAverage averages stored models into a new stored model (the
	// secure worker of PySyft's tutorial, which sees the models).
	MsgAverage = "fl.average"
	// MsgShare secret-shares a stored model for a round of secure
	// aggregation and sends each share to its participant directly.
	MsgShare = "fl.share"
	// MsgMask carries one participant's random mask to another, worker
	// to worker under a grant the receiver issued for it; the receiver
	// authenticates the sender by the link (its certificate), and the
	// mask says whether the sender contributes to the round.
	MsgMask = "fl.mask"
	// MsgSum adds the shares a participant holds for a round and returns
	// only that sum.
	MsgSum = "fl.sum"
	// MsgAbort discards a round of secure aggregation on a participant.
	MsgAbort = "fl.abort"
)

// BatchRequest cuts a batch: rows Indices (along dim 0) of the tensors
// Data and Targets, stored as new objects DataID and TargetID (fresh when
// empty). The results are as private as their sources.
type BatchRequest struct {
	Data     string `msgpack:"data"`
	Targets  string `msgpack:"targets"`
	Indices  []int  `msgpack:"indices"`
	DataID   string `msgpack:"data_id,omitempty"`
	TargetID string `msgpack:"target_id,omitempty"`
}

// BatchReply describes the two new objects.
type BatchReply struct {
	Data   store.Info `msgpack:"data"`
	Target store.Info `msgpack:"target"`
}

// OptimizerConfig chooses the optimizer a worker runs for remote training.
type OptimizerConfig struct {
	// Name is "sgd" (default) or "adam".
	Name        string  `msgpack:"name,omitempty"`
	LR          float64 `msgpack:"lr"`
	Momentum    float64 `msgpack:"momentum,omitempty"`
	WeightDecay float64 `msgpack:"weight_decay,omitempty"`
	// Key names the optimizer state kept on the worker between requests
	// (momentum buffers, Adam moments), per user; empty keys it by the
	// model object's id.
	Key string `msgpack:"key,omitempty"`
}

// BatchRef names a stored (data, target) pair.
type BatchRef struct {
	Data   string `msgpack:"data"`
	Target string `msgpack:"target"`
}

// TrainRequest runs one optimizer step per batch, in order, on the stored
// model Model (updated in place), and stores the losses under LossID (a
// 0-d tensor for one batch, else one loss per batch).
type TrainRequest struct {
	Model     string          `msgpack:"model"`
	Batches   []BatchRef      `msgpack:"batches"`
	Loss      string          `msgpack:"loss"`
	Optimizer OptimizerConfig `msgpack:"optimizer"`
	LossID    string          `msgpack:"loss_id,omitempty"`
	// Plan declares the training the step belongs to; training on data
	// the requester may not read needs one, approved by the data's owners
	// (approval.go).
	Plan *TrainPlan `msgpack:"plan,omitempty"`
	// Sample, instead of Batches, has the worker draw the steps' samples
	// itself, at random, from a data set (a plan with SampleWorker).
	Sample *SampleRequest `msgpack:"sample,omitempty"`
}

// SampleRequest names a stored data set (data and targets with the same
// number of samples) and the number of steps: the worker draws each
// step's Plan.BatchSize distinct samples from it with crypto/rand.
type SampleRequest struct {
	Data   string `msgpack:"data"`
	Target string `msgpack:"target"`
	Steps  int    `msgpack:"steps"`
}

// TrainReply describes the updated model and the stored losses.
type TrainReply struct {
	Model store.Info `msgpack:"model"`
	Loss  store.Info `msgpack:"loss"`
	// Samples counts the rows trained on.
	Samples int `msgpack:"samples"`
	// Request is the approved request the training ran under, when it
	// read data the requester may not read.
	Request string `msgpack:"request,omitempty"`
}

// AverageRequest averages the stored models IDs (same architecture),
// weighted by Weights (equal when empty), into a new model ResultID.
// With Free, the inputs are deleted afterwards.
type AverageRequest struct {
	IDs      []string  `msgpack:"ids"`
	Weights  []float64 `msgpack:"weights,omitempty"`
	ResultID string    `msgpack:"result_id,omitempty"`
	Free     bool      `msgpack:"free,omitempty"`
}

// Participant is one worker of a secure-aggregation round, as every
// participant sees it.
type Participant struct {
	Worker string `msgpack:"worker"`
	// Target is how other participants reach it (with the fingerprint of
	// its certificate), with a grant allowing them to send it their mask
	// (the grant differs per round and sender).
	Target store.PointerTarget `msgpack:"target"`
}

// ShareRequest asks a participant to secret-share its model Model for
// round Round: encode each parameter (times the participant's own weight,
// by Weighting) in fixed point with FracBits fractional bits into Z_2^64,
// followed by the round's mean training loss (with Loss), any Extras
// (tensors the requester may read) and the weight itself, split the
// vector into one random additive share per participant, and send share
// j to participant j directly (fl.mask).
type ShareRequest struct {
	Round        string        `msgpack:"round"`
	Model        string        `msgpack:"model"`
	Extras       []string      `msgpack:"extras,omitempty"`
	Index        int           `msgpack:"index"`
	Participants []Participant `msgpack:"participants"`
	// Weighting is WeightEqual (default) or WeightSamples: each
	// participant weighs its own model, by the samples it recorded when
	// it trained it. A model trained on data the requester may not read
	// is weighed as its approval says.
	Weighting string `msgpack:"weighting,omitempty"`
	// Weights were chosen by the client in earlier versions; any are
	// refused (a client choosing weights could isolate one model).
	Weights []float64 `msgpack:"weights,omitempty"`
	// Loss aggregates the mean loss of the round's training with the
	// model.
	Loss     bool `msgpack:"loss,omitempty"`
	FracBits int  `msgpack:"frac_bits"`
}

// ShareReply describes the shared vector: its layout, so that the
// orchestrator can check every participant shared the same architecture.
type ShareReply struct {
	Length int      `msgpack:"length"`
	Layout string   `msgpack:"layout"`
	Spec   []byte   `msgpack:"spec"`
	Names  []string `msgpack:"names"`
	Shapes [][]int  `msgpack:"shapes"`
}

// Names of the vector elements a share carries besides the model's
// parameters (ShareReply.Names).
const (
	// NameLoss is the weighted mean training loss of the round.
	NameLoss = "#loss"
	// NameWeight is the participant's weight: the sum of every
	// participant's is the divisor of the average.
	NameWeight = "#weight"
	// ExtraPrefix prefixes the name of an extra tensor.
	ExtraPrefix = "extra:"
)

// MaskRequest is participant From's random mask for participant To in
// Round, sent worker to worker. Digest and Layout bind it to the round's
// setup and the model's layout; Plan is the sender's attestation: the
// plan id of the approved training its model comes from when it trained
// on data the round's user may not read ("" otherwise).
type MaskRequest struct {
	Round  string `msgpack:"round"`
	From   int    `msgpack:"from"`
	To     int    `msgpack:"to"`
	Digest []byte `msgpack:"digest"`
	Layout string `msgpack:"layout"`
	Plan   string `msgpack:"plan,omitempty"`
	Data   []byte `msgpack:"data"`
}

// SumRequest asks a participant for the sum of the shares it holds for
// Round: one from every participant, itself included.
type SumRequest struct {
	Round string `msgpack:"round"`
}

// SumReply carries the sum of a participant's shares, little-endian
// uint64 ring elements. Alone it is uniformly random: only the sum of
// every participant's reply reveals anything, and that is the aggregate.
type SumReply struct {
	Sum []byte `msgpack:"sum"`
}

// AbortRequest discards a round's shares and state.
type AbortRequest struct {
	Round string `msgpack:"round"`
}

// AbortReply counts what was discarded (the participant's own share and
// the masks it held).
type AbortReply struct {
	Discarded int `msgpack:"discarded"`
}
