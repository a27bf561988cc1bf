package repl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/gomplab/gomplab/kernel/display"
	"github.com/gomplab/gomplab/kernel/internal/iopub"
)

// maxRequestLine bounds one request line from the kernel process.
const maxRequestLine = 64 << 20

// Bundle turns a cell's result into the MIME bundle of its execute_result,
// or reports false when there is nothing to show. Rendering runs compiled
// methods (HTML, String, ...) of the values: a panic in one, or a bundle
// that cannot be sent as JSON, is returned as an error instead of ending
// the interpreter. Typed nil pointers show as <nil>.
func Bundle(res Result) (data map[string]any, ok bool, err error) {
	if !res.HasValue {
		return nil, false, nil
	}
	vals, ok := FormatValues(res.Values)
	if !ok {
		return nil, false, nil
	}
	defer func() {
		if r := recover(); r != nil {
			data, ok, err = nil, false, fmt.Errorf("rendering the result panicked: %v", r)
		}
	}()
	if len(vals) == 1 {
		data = display.Auto(vals[0]).Data
	} else {
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		data = map[string]any{display.MIMEText: strings.Join(parts, " ")}
	}
	if _, err := json.Marshal(data); err != nil {
		return nil, false, fmt.Errorf("the result cannot be shown: its MIME bundle is not JSON: %v", err)
	}
	return data, true, nil
}

// emitter writes events, one JSON line each, from any goroutine.
type emitter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (e *emitter) emit(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enc.Encode(ev); err != nil {
		// A bundle that cannot be encoded (a JSONer returning channels,
		// say) is reported instead of lost silently.
		_ = e.enc.Encode(Event{Kind: "stream", Name: "stderr", Text: fmt.Sprintf("kernel: cannot send %s: %v\n", ev.Kind, err)})
	}
}

// streamWriter sends everything written to it as stream events.
type streamWriter struct {
	em   *emitter
	name string
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.em.emit(Event{Kind: "stream", Name: w.name, Text: string(p)})
	return len(p), nil
}

// inputReader serves reads from os.Stdin in cells by asking the front end
// (input_request) for a line.
type inputReader struct {
	em      *emitter
	sess    *Session
	replies chan string
	mu      sync.Mutex
	allow   bool
	buf     []byte
}

func (r *inputReader) setAllow(allow bool) {
	r.mu.Lock()
	r.allow = allow
	r.mu.Unlock()
}

// errInputNotAllowed is what a cell reading stdin gets when the front end
// does not support input (allow_stdin false, as in nbconvert).
var errInputNotAllowed = errors.New("reading from stdin is not supported by this front end")

func (r *inputReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		if !r.allow {
			return 0, errInputNotAllowed
		}
		// Drop answers to earlier requests that nobody waited for.
		for len(r.replies) > 0 {
			<-r.replies
		}
		sig := r.sess.interruption()
		r.em.emit(Event{Kind: "input_request"})
		select {
		case v := <-r.replies:
			r.buf = []byte(v + "\n")
		case <-sig.fired:
			waitInterrupted(sig)
			return 0, errors.New("input interrupted")
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Serve runs the interpreter side of the kernel: it reads Requests from r
// and writes Events to w until r ends. Cell output goes out as stream
// events and display calls as display events.
func Serve(r io.Reader, w io.Writer) error {
	em := &emitter{enc: json.NewEncoder(w)}
	in := &inputReader{em: em, replies: make(chan string, 1)}
	sess, err := New(Options{
		Stdout: &streamWriter{em: em, name: "stdout"},
		Stderr: &streamWriter{em: em, name: "stderr"},
		Stdin:  in,
		Env:    os.Environ(),
	})
	if err != nil {
		return err
	}
	in.sess = sess
	iopub.SetSender(func(o iopub.Output) error {
		em.emit(Event{Kind: o.Kind, Data: o.Data, Metadata: o.Metadata, Transient: o.Transient, Wait: o.Wait})
		return nil
	})
	defer iopub.SetSender(nil)

	work := make(chan Request, 64)
	readErr := make(chan error, 1)
	go func() {
		defer close(work)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), maxRequestLine)
		for sc.Scan() {
			var req Request
			if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
				em.emit(Event{Kind: "stream", Name: "stderr", Text: fmt.Sprintf("kernel: bad request to interpreter: %v\n", err)})
				continue
			}
			switch req.Op {
			case "interrupt":
				if !sess.Interrupt() {
					// No cell is running: stop what earlier cells left
					// running, in turn with the other requests.
					select {
					case work <- Request{Op: "stop"}:
					default:
					}
				}
			case "input_reply":
				select {
				case in.replies <- req.Value:
				default:
				}
			default:
				work <- req
			}
		}
		// The kernel process is gone (or closed the pipe to stop us): stop
		// a running cell so the loop below can finish.
		sess.Interrupt()
		readErr <- sc.Err()
	}()

	em.emit(Event{Kind: "ready"})
	for req := range work {
		switch req.Op {
		case "execute":
			in.setAllow(req.AllowStdin)
			res, cerr := sess.Execute(context.Background(), req.Code)
			ev := Event{Kind: "done", ID: req.ID, Error: cerr}
			if cerr == nil {
				data, ok, err := Bundle(res)
				switch {
				case err != nil:
					ev.Error = &CellError{Ename: "RenderError", Evalue: err.Error(),
						Traceback: []string{"\x1b[31mRenderError\x1b[0m: " + err.Error()}}
				case ok:
					ev.Data = data
				}
			}
			em.emit(ev)
		case "complete":
			m, start, end := sess.Complete(req.Code, req.CursorPos)
			if m == nil {
				m = []string{}
			}
			em.emit(Event{Kind: "complete", ID: req.ID, Matches: m, CursorStart: start, CursorEnd: end})
		case "stop":
			if err := sess.StopBackground(); err != nil {
				em.emit(Event{Kind: "stuck", Text: err.Error()})
			}
		case "inspect":
			data, found := sess.Inspect(req.Code, req.CursorPos, req.DetailLevel)
			em.emit(Event{Kind: "inspect", ID: req.ID, Data: data, Found: found})
		default:
			em.emit(Event{Kind: "done", ID: req.ID, Error: &CellError{Ename: "KernelError", Evalue: "unknown request " + req.Op, Traceback: []string{}}})
		}
	}
	return <-readErr
}
