package kernel

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gomplab/gomplab/kernel/repl"
)

// interpreter is the kernel process's handle on the child process that runs
// cells (see package repl). The child can die (a panicking goroutine, a
// stack overflow, memory exhaustion); the handle notices, keeps the tail of
// its stderr to explain why, and starts a new one.
type interpreter struct {
	newCmd func() *exec.Cmd
	// raw receives what the child writes to its real stdout/stderr (output
	// of compiled code that bypasses the cell's streams).
	raw func(name, text string)

	mu      sync.Mutex
	cmd     *exec.Cmd
	reqW    *os.File
	events  chan repl.Event
	exited  chan struct{}
	waitErr error
	crash   *tailBuffer
	nextID  uint64
}

// startupTimeout bounds how long a new interpreter may take to say ready.
const startupTimeout = 30 * time.Second

// start launches a child interpreter and waits for its ready event.
func (it *interpreter) start() error {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start interpreter: %w", err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return fmt.Errorf("start interpreter: %w", err)
	}
	cmd := it.newCmd()
	cmd.ExtraFiles = []*os.File{reqR, evW}
	// Its own process group: a SIGINT that Jupyter sends to the kernel's
	// group must reach the kernel only, which turns it into an interrupt.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	crash := &tailBuffer{max: 16 << 10}
	// Pipes of our own rather than cmd.StdoutPipe: Wait closes those as
	// soon as the process exits, which can lose the crash report still
	// in the pipe. These are read to their end before Wait is called.
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start interpreter: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("start interpreter: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{reqR, reqW, evR, evW, outR, outW, errR, errW} {
			f.Close()
		}
		return fmt.Errorf("start interpreter %s: %w", cmd.Path, err)
	}
	reqR.Close()
	evW.Close()
	outW.Close()
	errW.Close()

	events := make(chan repl.Event, 256)
	exited := make(chan struct{})
	var pipes sync.WaitGroup
	pipes.Add(3)
	go func() {
		defer pipes.Done()
		it.copyRaw(outR, "stdout", nil)
		outR.Close()
	}()
	go func() {
		defer pipes.Done()
		it.copyRaw(errR, "stderr", crash)
		errR.Close()
	}()
	go func() {
		defer pipes.Done()
		defer close(events)
		sc := bufio.NewScanner(evR)
		sc.Buffer(make([]byte, 64<<10), 256<<20)
		for sc.Scan() {
			var ev repl.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				continue
			}
			events <- ev
		}
		evR.Close()
	}()
	it.mu.Lock()
	it.cmd, it.reqW, it.events, it.exited, it.crash = cmd, reqW, events, exited, crash
	it.mu.Unlock()
	go func() {
		// Wait does not touch pipes it did not make, so what the process
		// wrote before it died is still read to the end. (Should
		// something it started still hold them, stop waiting after a
		// moment.)
		err := cmd.Wait()
		drained := make(chan struct{})
		go func() { pipes.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(2 * time.Second):
		}
		it.mu.Lock()
		it.waitErr = err
		it.mu.Unlock()
		close(exited)
	}()

	select {
	case ev, ok := <-events:
		if ok && ev.Kind == "ready" {
			return nil
		}
	case <-time.After(startupTimeout):
	}
	it.kill()
	return fmt.Errorf("interpreter did not start: %s", crash.String())
}

// copyRaw forwards the child's real stdout or stderr line by line. Once a
// Go runtime crash report starts on stderr, the rest goes only to the
// crash buffer: the user gets a summary, not a page of host stack.
func (it *interpreter) copyRaw(r io.Reader, name string, crash *tailBuffer) {
	br := bufio.NewReader(r)
	crashing := false
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if crash != nil {
				crash.WriteString(line)
				if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") ||
					strings.HasPrefix(line, "goroutine ") || strings.HasPrefix(line, "runtime: ") {
					crashing = true
				}
			}
			if !crashing && it.raw != nil {
				it.raw(name, line)
			}
		}
		if err != nil {
			return
		}
	}
}

// send writes one request to the child.
func (it *interpreter) send(req repl.Request) error {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.reqW == nil {
		return errors.New("interpreter not running")
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = it.reqW.Write(append(b, '\n'))
	return err
}

// id returns a fresh request id.
func (it *interpreter) id() uint64 {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.nextID++
	return it.nextID
}

// channels returns the current child's event stream and exit signal.
func (it *interpreter) channels() (<-chan repl.Event, <-chan struct{}) {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.events, it.exited
}

// crashReport summarizes why the child died: the panic or fatal error line
// from its stderr and its exit status.
func (it *interpreter) crashReport() (summary string, detail []string) {
	it.mu.Lock()
	waitErr, tail := it.waitErr, it.crash.String()
	it.mu.Unlock()
	lines := strings.Split(tail, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			summary = l
			for _, d := range lines[i+1:] {
				if strings.HasPrefix(d, "goroutine ") || len(detail) >= 6 {
					break
				}
				if strings.TrimSpace(d) != "" {
					detail = append(detail, d)
				}
			}
			break
		}
	}
	if summary == "" {
		summary = fmt.Sprintf("interpreter process exited (%v)", waitErr)
	}
	return summary, detail
}

// kill stops the child and waits for it to go.
func (it *interpreter) kill() {
	it.mu.Lock()
	cmd, reqW, exited := it.cmd, it.reqW, it.exited
	it.reqW = nil
	it.mu.Unlock()
	if reqW != nil {
		reqW.Close()
	}
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
	if exited != nil {
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	}
}

// restart replaces the child with a fresh one.
func (it *interpreter) restart() error {
	it.kill()
	return it.start()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) WriteString(s string) {
	t.mu.Lock()
	t.b = append(t.b, s...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	t.mu.Unlock()
}

func (t *tailBuffer) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
