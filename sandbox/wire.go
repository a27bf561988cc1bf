package sandbox

import (
	"fmt"
	"io"
	"sync"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
)

// The messages between a worker and its party child process travel as
// serde frames on the child's stdin (worker to party) and stdout (party to
// worker). The party never opens the worker's store: it asks over the pipe.
const (
	// msgJob starts the party (worker to party, first message).
	msgJob = "job"
	// msgLoad asks for the tensor stored under Tag (party to worker).
	msgLoad = "load"
	// msgSave stores Tensor under Tag (party to worker).
	msgSave = "save"
	// msgLoadModel asks for the model stored under Tag (party to worker).
	msgLoadModel = "load_model"
	// msgReply answers load and save by Seq (worker to party).
	msgReply = "reply"
	// msgCancel asks the party to stop (worker to party).
	msgCancel = "cancel"
	// msgResult is the party's last message.
	msgResult = "result"
)

// childMsg is every message of the child protocol; Type says which
// fields are set.
type childMsg struct {
	Type   string         `msgpack:"type"`
	Seq    uint64         `msgpack:"seq,omitempty"`
	Job    *Job           `msgpack:"job,omitempty"`
	Limits *Limits        `msgpack:"limits,omitempty"`
	Tag    string         `msgpack:"tag,omitempty"`
	Tensor *tensor.Tensor `msgpack:"tensor,omitempty"`
	Model  []byte         `msgpack:"model,omitempty"` // a modelcodec blob
	Err    string         `msgpack:"err,omitempty"`
	Result *Result        `msgpack:"result,omitempty"`
	// Restriction is the worker's decision about the party (job).
	Restriction *Restriction `msgpack:"restriction,omitempty"`
	// Restricted says a loaded object is restricted (reply), or that the
	// Share marks a save of a share's words (mpc.SaveShare), kept by the
	// worker's mpc.ShareStore.
	Share bool `msgpack:"share,omitempty"`
	// saving party is (save).
	Restricted bool `msgpack:"restricted,omitempty"`
	// Rendezvous says the job message came with rank 0's bound
	// rendezvous as descriptor rendezvousFD.
	Rendezvous bool `msgpack:"rendezvous,omitempty"`
}

// maxChildFrame bounds one message of the child protocol (a job with its
// arguments, a stored tensor, a result).
const maxChildFrame = 1 << 30

// decodeChildMsg decodes one frame payload, checking that the fields its
// type needs are there.
func decodeChildMsg(b []byte) (*childMsg, error) {
	var m childMsg
	if err := serde.DecodeBody(b, &m, serde.Limits{MaxBytes: maxChildFrame}); err != nil {
		return nil, fmt.Errorf("party protocol: %w", err)
	}
	switch m.Type {
	case msgJob:
		if m.Job == nil {
			return nil, fmt.Errorf("party protocol: job message without a job")
		}
		if err := m.Job.validate(); err != nil {
			return nil, fmt.Errorf("party protocol: %w", err)
		}
	case msgLoad, msgLoadModel:
		if m.Tag == "" {
			return nil, fmt.Errorf("party protocol: load without a tag")
		}
	case msgSave:
		if m.Tag == "" || m.Tensor == nil {
			return nil, fmt.Errorf("party protocol: save without a tag or tensor")
		}
	case msgResult:
		if m.Result == nil {
			return nil, fmt.Errorf("party protocol: result message without a result")
		}
	case msgReply, msgCancel:
	default:
		return nil, fmt.Errorf("party protocol: unknown message type %q", m.Type)
	}
	return &m, nil
}

// msgWriter serializes frames from several goroutines onto one stream.
type msgWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *msgWriter) send(m *childMsg) error {
	b, err := serde.EncodeBody(m)
	if err != nil {
		return fmt.Errorf("party protocol: encode %s: %w", m.Type, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return serde.WriteFrame(w.w, b)
}

// readMsg reads and decodes one message.
func readMsg(r io.Reader) (*childMsg, error) {
	b, err := serde.ReadFrame(r, maxChildFrame)
	if err != nil {
		return nil, err
	}
	return decodeChildMsg(b)
}
