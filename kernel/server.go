// Package kernel is gomplab's Jupyter kernel: the Jupyter messaging
// protocol 5.3 over ZeroMQ (go-zeromq/zmq4) with HMAC-SHA256 signing, on
// the five kernel sockets (shell, control, iopub, stdin, heartbeat).
//
// The process that speaks the protocol does not run cells itself: it
// starts an interpreter child process (package repl, one yaegi
// interpreter) and relays requests to it. A cell that crashes the Go
// runtime, which no recover can catch inside one process (a panic in a
// goroutine the cell started, a stack overflow, running out of memory),
// then ends only the child: the user sees an error explaining that the
// interpreter state was lost, and the next cell runs in a fresh
// interpreter. Control messages are served on their own goroutine, so
// interrupt and shutdown work while a cell runs; SIGINT is an interrupt
// too.
//
// The wire format (DecodeWire, EncodeWire, Signer), the history store and
// the connection file parser are pure and tested without a network.
package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/token"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/gomplab/gomplab/kernel/repl"
)

// Config configures Run.
type Config struct {
	Conn *ConnectionInfo
	// InterpreterCommand returns the command that starts an interpreter
	// child, which must call repl.Serve on file descriptors 3 (requests)
	// and 4 (events).
	InterpreterCommand func() *exec.Cmd
	// Version is reported in kernel_info_reply.
	Version string
	Log     *slog.Logger
}

// streamFlushInterval is how long stream output may wait before it is sent,
// so that a loop printing many short lines sends few messages.
const streamFlushInterval = 50 * time.Millisecond

// interruptGrace is how long a cell may take to stop after an interrupt
// before the interpreter is killed and replaced. The interpreter itself
// reports a cell that did not stop after repl.StopGrace; this catches an
// interpreter that does not answer at all.
const interruptGrace = 2 * time.Second

// server holds the sockets and state of one running kernel.
type server struct {
	cfg     Config
	signer  *Signer
	session string
	log     *slog.Logger

	shell, control, stdin, iopub, hb zmq4.Socket
	shellMu, controlMu, stdinMu      sync.Mutex
	iopubMu                          sync.Mutex

	interp  *interpreter
	history *History
	count   int

	// current is the request whose cell is running (or ran last): stream
	// output from the child is attributed to it.
	curMu   sync.Mutex
	current *Message
	streams streamBuffer

	interruptMu   sync.Mutex
	interruptedAt time.Time

	// abortBefore is when the last cell failed with stop_on_error: execute
	// requests sent before it (queued behind the failing cell, as "Run
	// All" queues them) are aborted rather than run.
	abortBefore time.Time

	quit     chan struct{}
	quitOnce sync.Once
}

// Run serves the kernel until a shutdown request, SIGTERM or ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s := &server{
		cfg:     cfg,
		signer:  NewSigner([]byte(cfg.Conn.Key)),
		session: newID(),
		log:     cfg.Log,
		history: NewHistory(1),
		quit:    make(chan struct{}),
	}
	s.interp = &interpreter{newCmd: cfg.InterpreterCommand, raw: s.rawOutput}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	s.shell = zmq4.NewRouter(ctx, zmq4.WithID(zmq4.SocketIdentity("kernel-shell")))
	s.control = zmq4.NewRouter(ctx, zmq4.WithID(zmq4.SocketIdentity("kernel-control")))
	s.stdin = zmq4.NewRouter(ctx, zmq4.WithID(zmq4.SocketIdentity("kernel-stdin")))
	s.iopub = zmq4.NewPub(ctx)
	s.hb = zmq4.NewRep(ctx)
	for _, b := range []struct {
		sock zmq4.Socket
		port int
		name string
	}{{s.shell, cfg.Conn.ShellPort, "shell"}, {s.control, cfg.Conn.ControlPort, "control"},
		{s.stdin, cfg.Conn.StdinPort, "stdin"}, {s.iopub, cfg.Conn.IOPubPort, "iopub"}, {s.hb, cfg.Conn.HBPort, "heartbeat"}} {
		if err := b.sock.Listen(cfg.Conn.endpoint(b.port)); err != nil {
			return fmt.Errorf("listen %s on %s: %w", b.name, cfg.Conn.endpoint(b.port), err)
		}
		defer b.sock.Close()
	}

	if err := s.interp.start(); err != nil {
		return err
	}
	defer s.interp.kill()
	s.publish(nil, "status", map[string]any{"execution_state": "starting"})

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	go s.heartbeat()
	go s.serve(s.control, &s.controlMu, "control")
	go s.serve(s.shell, &s.shellMu, "shell")
	go s.stdinLoop()
	go s.flushLoop()

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.quit:
			// Give the last replies a moment to leave before closing.
			time.Sleep(50 * time.Millisecond)
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGINT {
				s.log.Info("SIGINT: interrupting the running cell")
				s.interrupt()
				continue
			}
			s.log.Info("SIGTERM: shutting down")
			return nil
		}
	}
}

func (s *server) stop() { s.quitOnce.Do(func() { close(s.quit) }) }

// heartbeat echoes every ping so front ends know the kernel is alive, even
// while a cell runs.
func (s *server) heartbeat() {
	for {
		msg, err := s.hb.Recv()
		if err != nil {
			return
		}
		if err := s.hb.Send(msg); err != nil {
			return
		}
	}
}

// serve reads one router socket (shell or control) and handles its
// requests in order, on this goroutine.
func (s *server) serve(sock zmq4.Socket, mu *sync.Mutex, name string) {
	for {
		raw, err := sock.Recv()
		if err != nil {
			select {
			case <-s.quit:
			default:
				s.log.Debug("receive failed", "socket", name, "err", err)
			}
			return
		}
		msg, err := DecodeWire(raw.Frames, s.signer)
		if err != nil {
			s.log.Warn("dropped message", "socket", name, "err", err)
			continue
		}
		s.handle(sock, mu, msg)
	}
}

// reply sends a reply on sock (shell or control).
func (s *server) reply(sock zmq4.Socket, mu *sync.Mutex, req *Message, msgType string, content any) {
	m, err := NewReply(req, msgType, s.session, content)
	if err != nil {
		s.log.Error("build reply", "type", msgType, "err", err)
		return
	}
	s.sendOn(sock, mu, m)
}

func (s *server) sendOn(sock zmq4.Socket, mu *sync.Mutex, m *Message) {
	frames, err := EncodeWire(m, s.signer)
	if err != nil {
		s.log.Error("encode", "type", m.Header.MsgType, "err", err)
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if err := sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		s.log.Warn("send failed", "type", m.Header.MsgType, "err", err)
	}
}

// publish sends an iopub message whose parent is req (nil for none).
func (s *server) publish(req *Message, msgType string, content any) {
	m, err := NewReply(req, msgType, s.session, content)
	if err != nil {
		s.log.Error("build iopub message", "type", msgType, "err", err)
		return
	}
	m.Identities = [][]byte{[]byte(msgType)}
	s.sendOn(s.iopub, &s.iopubMu, m)
}

// handle answers one shell or control request, bracketed by busy/idle.
func (s *server) handle(sock zmq4.Socket, mu *sync.Mutex, req *Message) {
	t := req.Header.MsgType
	s.publish(req, "status", map[string]any{"execution_state": "busy"})
	defer s.publish(req, "status", map[string]any{"execution_state": "idle"})
	switch t {
	case "kernel_info_request":
		s.reply(sock, mu, req, "kernel_info_reply", s.kernelInfo())
	case "execute_request":
		s.execute(sock, mu, req)
	case "complete_request":
		s.complete(sock, mu, req)
	case "inspect_request":
		s.inspect(sock, mu, req)
	case "is_complete_request":
		var c struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(req.Content, &c)
		ic := repl.IsComplete(c.Code)
		content := map[string]any{"status": ic.Status}
		if ic.Status == "incomplete" {
			content["indent"] = ic.Indent
		}
		s.reply(sock, mu, req, "is_complete_reply", content)
	case "history_request":
		s.historyReply(sock, mu, req)
	case "comm_info_request":
		s.reply(sock, mu, req, "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}})
	case "connect_request":
		c := s.cfg.Conn
		s.reply(sock, mu, req, "connect_reply", map[string]any{"status": "ok", "shell_port": c.ShellPort,
			"iopub_port": c.IOPubPort, "stdin_port": c.StdinPort, "hb_port": c.HBPort, "control_port": c.ControlPort})
	case "interrupt_request":
		s.interrupt()
		s.reply(sock, mu, req, "interrupt_reply", map[string]any{"status": "ok"})
	case "shutdown_request":
		var c struct {
			Restart bool `json:"restart"`
		}
		_ = json.Unmarshal(req.Content, &c)
		s.reply(sock, mu, req, "shutdown_reply", map[string]any{"status": "ok", "restart": c.Restart})
		s.stop()
	case "comm_open":
		// No comm targets exist; tell the front end the comm is closed.
		var c struct {
			CommID string `json:"comm_id"`
		}
		_ = json.Unmarshal(req.Content, &c)
		s.publish(req, "comm_close", map[string]any{"comm_id": c.CommID, "data": map[string]any{}})
	case "comm_msg", "comm_close":
		// Nothing to deliver to: no comms are ever open.
	default:
		s.log.Warn("unhandled message type", "type", t)
	}
}

func (s *server) kernelInfo() map[string]any {
	return map[string]any{
		"status":                 "ok",
		"protocol_version":       ProtocolVersion,
		"implementation":         "gomplab",
		"implementation_version": s.cfg.Version,
		"language_info": map[string]any{
			"name":               "go",
			"version":            strings.TrimPrefix(runtime.Version(), "go"),
			"mimetype":           "text/x-go",
			"file_extension":     ".go",
			"pygments_lexer":     "go",
			"codemirror_mode":    "go",
			"nbconvert_exporter": "script",
		},
		"banner": "gomplab " + s.cfg.Version + ": Go (yaegi) with gomplab's tensors, workers and MPC\n" +
			"Rich output: import \"gomplab/display\"",
		"help_links": []map[string]string{
			{"text": "Go documentation", "url": "https://pkg.go.dev/std"},
		},
		"debugger": false,
	}
}

type executeRequest struct {
	Code            string            `json:"code"`
	UserExpressions map[string]string `json:"user_expressions"`
	Silent          bool              `json:"silent"`
	StoreHistory    *bool             `json:"store_history"`
	AllowStdin      bool              `json:"allow_stdin"`
	StopOnError     bool              `json:"stop_on_error"`
}

// execute runs one cell in the interpreter and relays its output.
func (s *server) execute(sock zmq4.Socket, mu *sync.Mutex, req *Message) {
	var c executeRequest
	if err := json.Unmarshal(req.Content, &c); err != nil {
		s.reply(sock, mu, req, "execute_reply", errorContent("BadRequest", err.Error(), s.count))
		return
	}
	if sent, err := time.Parse(time.RFC3339Nano, req.Header.Date); err == nil && sent.Before(s.abortBefore) {
		s.reply(sock, mu, req, "execute_reply", map[string]any{"status": "aborted", "execution_count": s.count})
		return
	}
	store := !c.Silent && (c.StoreHistory == nil || *c.StoreHistory)
	if !c.Silent {
		s.count++
	}
	count := s.count
	if !c.Silent {
		s.publish(req, "execute_input", map[string]any{"code": c.Code, "execution_count": count})
	}
	s.curMu.Lock()
	s.current = req
	s.curMu.Unlock()

	if name, detail, ok := helpQuery(c.Code); ok {
		// "?name" or "name?" shows name's documentation in the pager, as
		// IPython does; "??name" with more detail (the source, where
		// there is one).
		if store {
			s.history.Add(count, c.Code, "")
		}
		ev, err := s.ask(repl.Request{Op: "inspect", Code: name, CursorPos: len([]rune(name)), DetailLevel: detail})
		if err != nil || !ev.Found {
			msg := fmt.Sprintf("no documentation found for %q", name)
			s.publish(req, "error", map[string]any{"ename": "NotFound", "evalue": msg, "traceback": []string{msg}})
			s.reply(sock, mu, req, "execute_reply", errorContent("NotFound", msg, count))
			return
		}
		s.reply(sock, mu, req, "execute_reply", map[string]any{
			"status": "ok", "execution_count": count, "user_expressions": map[string]any{},
			"payload": []any{map[string]any{"source": "page", "data": ev.Data, "start": 0}},
		})
		return
	}

	result, cellErr := s.runCell(req, c)

	output := ""
	if cellErr == nil && result != nil {
		if txt, ok := result["text/plain"].(string); ok {
			output = txt
		}
		if !c.Silent {
			s.publish(req, "execute_result", map[string]any{"execution_count": count, "data": result, "metadata": map[string]any{}})
		}
	}
	if store {
		s.history.Add(count, c.Code, output)
	}
	if cellErr != nil {
		if c.StopOnError {
			s.abortBefore = time.Now()
		}
		if !c.Silent {
			s.publish(req, "error", map[string]any{"ename": cellErr.Ename, "evalue": cellErr.Evalue, "traceback": cellErr.Traceback})
		}
		s.reply(sock, mu, req, "execute_reply", errorContent(cellErr.Ename, cellErr.Evalue, count, cellErr.Traceback...))
		return
	}
	s.reply(sock, mu, req, "execute_reply", map[string]any{
		"status": "ok", "execution_count": count, "payload": []any{}, "user_expressions": s.userExpressions(c.UserExpressions),
	})
}

// userExpressions evaluates the request's user_expressions after the cell,
// each to a MIME bundle or an error, as the protocol asks.
func (s *server) userExpressions(exprs map[string]string) map[string]any {
	out := map[string]any{}
	for name, expr := range exprs {
		id := s.interp.id()
		events, _ := s.interp.channels()
		if err := s.interp.send(repl.Request{Op: "execute", ID: id, Code: expr}); err != nil {
			out[name] = errorContent("KernelError", err.Error(), s.count)
			continue
		}
		out[name] = errorContent("KernelError", "no answer", s.count)
	wait:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					break wait
				}
				if ev.Kind == "stream" {
					s.streams.add(ev.Name, ev.Text)
				}
				if ev.Kind != "done" || ev.ID != id {
					continue
				}
				if ev.Error != nil {
					out[name] = map[string]any{"status": "error", "ename": ev.Error.Ename, "evalue": ev.Error.Evalue, "traceback": ev.Error.Traceback}
				} else {
					out[name] = map[string]any{"status": "ok", "data": orEmpty(ev.Data), "metadata": map[string]any{}}
				}
				break wait
			case <-time.After(10 * time.Second):
				break wait
			}
		}
	}
	return out
}

// helpQuery recognizes a help request: a cell that is only a (dotted)
// name preceded or followed by "?" (detail level 0) or "??" (level 1).
func helpQuery(code string) (string, int, bool) {
	c := strings.TrimSpace(code)
	detail := 0
	switch {
	case strings.HasPrefix(c, "??"):
		c, detail = strings.TrimPrefix(c, "??"), 1
	case strings.HasSuffix(c, "??"):
		c, detail = strings.TrimSuffix(c, "??"), 1
	case strings.HasPrefix(c, "?"):
		c = strings.TrimPrefix(c, "?")
	case strings.HasSuffix(c, "?"):
		c = strings.TrimSuffix(c, "?")
	default:
		return "", 0, false
	}
	c = strings.TrimSpace(c)
	if c == "" {
		return "", 0, false
	}
	for _, part := range strings.Split(c, ".") {
		if !token.IsIdentifier(part) {
			return "", 0, false
		}
	}
	return c, detail, true
}

func errorContent(ename, evalue string, count int, tb ...string) map[string]any {
	if tb == nil {
		tb = []string{ename + ": " + evalue}
	}
	return map[string]any{"status": "error", "ename": ename, "evalue": evalue, "traceback": tb, "execution_count": count}
}

// runCell sends the cell to the interpreter and relays events until it is
// done, or the interpreter dies (then it is restarted and the cell fails).
func (s *server) runCell(req *Message, c executeRequest) (map[string]any, *repl.CellError) {
	s.interruptMu.Lock()
	s.interruptedAt = time.Time{}
	s.interruptMu.Unlock()

	events, exited := s.interp.channels()
	id := s.interp.id()
	if err := s.interp.send(repl.Request{Op: "execute", ID: id, Code: c.Code, AllowStdin: c.AllowStdin}); err != nil {
		return nil, s.recoverInterpreter(req, "InterpreterCrashed", fmt.Sprintf("cannot reach the interpreter: %v", err))
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				<-exited
				summary, detail := s.interp.crashReport()
				return nil, s.recoverInterpreter(req, "InterpreterCrashed", summary, append(detail,
					"(A panic inside a goroutine, a stack overflow or running out of memory ends the interpreter process; Go cannot recover from them.)")...)
			}
			switch ev.Kind {
			case "stream":
				s.streams.add(ev.Name, ev.Text)
				if s.streams.size() > 64<<10 {
					s.flushStreams()
				}
			case "display_data", "update_display_data":
				s.flushStreams()
				content := map[string]any{"data": ev.Data, "metadata": orEmpty(ev.Metadata), "transient": orEmpty(ev.Transient)}
				if !c.Silent {
					s.publish(req, ev.Kind, content)
				}
			case "clear_output":
				s.flushStreams()
				s.publish(req, "clear_output", map[string]any{"wait": ev.Wait})
			case "input_request":
				s.flushStreams()
				m, err := NewReply(req, "input_request", s.session, map[string]any{"prompt": ev.Prompt, "password": ev.Password})
				if err == nil {
					s.sendOn(s.stdin, &s.stdinMu, m)
				}
			case "done":
				if ev.ID != id {
					continue
				}
				s.flushStreams()
				if ev.Error != nil && ev.Error.Stuck {
					s.log.Warn("interrupted cell did not stop; replacing the interpreter", "err", ev.Error.Evalue)
					return nil, s.recoverInterpreter(req, "Interrupted", ev.Error.Evalue)
				}
				return ev.Data, ev.Error
			case "stuck":
				// Goroutines of earlier cells did not stop after an
				// interrupt given between cells (the interpreter answers
				// before it takes this cell): replace the interpreter and
				// run the cell in the new one.
				s.streams.add("stderr", "kernel: "+ev.Text+"; the interpreter was replaced, so variables, imports and declarations from earlier cells are lost\n")
				s.replaceStuck(ev.Text)
				events, exited = s.interp.channels()
				id = s.interp.id()
				if err := s.interp.send(repl.Request{Op: "execute", ID: id, Code: c.Code, AllowStdin: c.AllowStdin}); err != nil {
					return nil, s.recoverInterpreter(req, "InterpreterCrashed", fmt.Sprintf("cannot reach the interpreter: %v", err))
				}
			}
		case <-tick.C:
			s.interruptMu.Lock()
			at := s.interruptedAt
			s.interruptMu.Unlock()
			if !at.IsZero() && time.Since(at) > interruptGrace {
				s.log.Warn("interpreter did not answer the interrupt; replacing it")
				s.flushStreams()
				return nil, s.recoverInterpreter(req, "Interrupted", fmt.Sprintf("the interpreter did not answer within %v of the interrupt", interruptGrace))
			}
		}
	}
}

// recoverInterpreter replaces a dead or stuck interpreter and returns the
// error the cell reports: ename (InterpreterCrashed, or Interrupted for a
// cell that would not stop), what happened, and that the state is lost.
func (s *server) recoverInterpreter(req *Message, ename, summary string, detail ...string) *repl.CellError {
	s.flushStreams()
	err := s.interp.restart()
	tb := []string{"\x1b[31m" + ename + "\x1b[0m: " + summary}
	for _, d := range detail {
		tb = append(tb, "  "+d)
	}
	evalue := summary + " (interpreter restarted, state lost)"
	if err != nil {
		tb = append(tb, "the interpreter could not be restarted: "+err.Error())
		evalue = summary + " (the interpreter could not be restarted: " + err.Error() + ")"
	} else {
		tb = append(tb, "The interpreter was replaced by a new one: variables, imports and declarations from earlier cells are lost; re-run them.")
	}
	return &repl.CellError{Ename: ename, Evalue: evalue, Traceback: tb}
}

// replaceStuck replaces an interpreter whose goroutines did not stop after
// an interrupt given while no cell ran, and says so on the kernel's log
// (there is no cell to report it in).
func (s *server) replaceStuck(why string) {
	s.log.Warn("goroutines did not stop after an interrupt; replacing the interpreter", "why", why)
	if err := s.interp.restart(); err != nil {
		s.log.Error("restart interpreter", "err", err)
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// interrupt asks the interpreter to stop the running cell.
func (s *server) interrupt() {
	s.interruptMu.Lock()
	s.interruptedAt = time.Now()
	s.interruptMu.Unlock()
	if err := s.interp.send(repl.Request{Op: "interrupt"}); err != nil {
		s.log.Warn("interrupt", "err", err)
	}
}

// rawOutput receives the interpreter process's own stdout/stderr.
func (s *server) rawOutput(name, text string) { s.streams.add(name, text) }

// flushLoop sends buffered stream output every streamFlushInterval.
func (s *server) flushLoop() {
	t := time.NewTicker(streamFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			s.flushStreams()
		}
	}
}

// flushStreams publishes buffered stream text, one message per stream name.
func (s *server) flushStreams() {
	chunks := s.streams.take()
	if len(chunks) == 0 {
		return
	}
	s.curMu.Lock()
	parent := s.current
	s.curMu.Unlock()
	for _, ch := range chunks {
		s.publish(parent, "stream", map[string]any{"name": ch.name, "text": ch.text})
	}
}

// streamBuffer batches stream text, merging consecutive writes to the same
// stream and keeping the order of stdout and stderr interleavings.
type streamBuffer struct {
	mu     sync.Mutex
	chunks []streamChunk
	n      int
}

type streamChunk struct{ name, text string }

func (b *streamBuffer) add(name, text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += len(text)
	if k := len(b.chunks); k > 0 && b.chunks[k-1].name == name {
		b.chunks[k-1].text += text
		return
	}
	b.chunks = append(b.chunks, streamChunk{name, text})
}

func (b *streamBuffer) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func (b *streamBuffer) take() []streamChunk {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.chunks
	b.chunks, b.n = nil, 0
	return c
}

// stdinLoop forwards input_reply messages to the interpreter.
func (s *server) stdinLoop() {
	for {
		raw, err := s.stdin.Recv()
		if err != nil {
			return
		}
		msg, err := DecodeWire(raw.Frames, s.signer)
		if err != nil {
			s.log.Warn("dropped message", "socket", "stdin", "err", err)
			continue
		}
		if msg.Header.MsgType != "input_reply" {
			continue
		}
		var c struct {
			Value string `json:"value"`
		}
		_ = json.Unmarshal(msg.Content, &c)
		_ = s.interp.send(repl.Request{Op: "input_reply", Value: c.Value})
	}
}

// complete relays a completion request to the interpreter.
func (s *server) complete(sock zmq4.Socket, mu *sync.Mutex, req *Message) {
	var c struct {
		Code      string `json:"code"`
		CursorPos int    `json:"cursor_pos"`
	}
	_ = json.Unmarshal(req.Content, &c)
	ev, err := s.ask(repl.Request{Op: "complete", Code: c.Code, CursorPos: c.CursorPos})
	if err != nil {
		s.reply(sock, mu, req, "complete_reply", map[string]any{"status": "ok", "matches": []string{},
			"cursor_start": c.CursorPos, "cursor_end": c.CursorPos, "metadata": map[string]any{}})
		return
	}
	matches := ev.Matches
	if matches == nil {
		matches = []string{}
	}
	s.reply(sock, mu, req, "complete_reply", map[string]any{"status": "ok", "matches": matches,
		"cursor_start": ev.CursorStart, "cursor_end": ev.CursorEnd, "metadata": map[string]any{}})
}

// inspect relays an inspection request to the interpreter.
func (s *server) inspect(sock zmq4.Socket, mu *sync.Mutex, req *Message) {
	var c struct {
		Code        string `json:"code"`
		CursorPos   int    `json:"cursor_pos"`
		DetailLevel int    `json:"detail_level"`
	}
	_ = json.Unmarshal(req.Content, &c)
	ev, err := s.ask(repl.Request{Op: "inspect", Code: c.Code, CursorPos: c.CursorPos, DetailLevel: c.DetailLevel})
	if err != nil || !ev.Found {
		s.reply(sock, mu, req, "inspect_reply", map[string]any{"status": "ok", "found": false, "data": map[string]any{}, "metadata": map[string]any{}})
		return
	}
	s.reply(sock, mu, req, "inspect_reply", map[string]any{"status": "ok", "found": true, "data": ev.Data, "metadata": map[string]any{}})
}

// ask sends a request that the interpreter answers with one event of the
// same id, and waits for it.
func (s *server) ask(r repl.Request) (repl.Event, error) {
	events, exited := s.interp.channels()
	r.ID = s.interp.id()
	if err := s.interp.send(r); err != nil {
		return repl.Event{}, err
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				<-exited
				_ = s.interp.restart()
				return repl.Event{}, errors.New("interpreter exited")
			}
			if ev.ID == r.ID && ev.Kind == r.Op {
				return ev, nil
			}
			switch ev.Kind {
			case "stream":
				s.streams.add(ev.Name, ev.Text)
			case "stuck":
				// See runCell; the request was queued behind the stop.
				s.replaceStuck(ev.Text)
				return repl.Event{}, errors.New("interpreter replaced")
			}
		case <-timeout:
			return repl.Event{}, errors.New("interpreter did not answer")
		}
	}
}

// historyReply answers a history request from the in-memory history.
func (s *server) historyReply(sock zmq4.Socket, mu *sync.Mutex, req *Message) {
	var c struct {
		Output         bool   `json:"output"`
		HistAccessType string `json:"hist_access_type"`
		Session        int    `json:"session"`
		Start          int    `json:"start"`
		Stop           int    `json:"stop"`
		N              int    `json:"n"`
		Pattern        string `json:"pattern"`
		Unique         bool   `json:"unique"`
	}
	_ = json.Unmarshal(req.Content, &c)
	var entries []HistoryEntry
	switch c.HistAccessType {
	case "tail":
		entries = s.history.Tail(c.N)
	case "range":
		entries = s.history.Range(c.Session, c.Start, c.Stop)
	case "search":
		entries = s.history.Search(c.Pattern, c.N, c.Unique)
	}
	hist := make([]any, 0, len(entries))
	for _, e := range entries {
		if c.Output {
			hist = append(hist, []any{e.Session, e.Line, []any{e.Input, e.Output}})
		} else {
			hist = append(hist, []any{e.Session, e.Line, e.Input})
		}
	}
	s.reply(sock, mu, req, "history_reply", map[string]any{"status": "ok", "history": hist})
}
