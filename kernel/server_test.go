package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/gomplab/gomplab/kernel/repl"
)

// The test binary doubles as the interpreter child: the server under test
// re-executes it with this variable set.
const childEnv = "GOMPLAB_KERNEL_TEST_INTERPRETER"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := repl.Serve(os.NewFile(3, "requests"), os.NewFile(4, "events")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// testClient is a minimal Jupyter front end over zmq4.
type testClient struct {
	t      *testing.T
	signer *Signer
	shell  zmq4.Socket
	iopub  zmq4.Socket
}

func (c *testClient) send(sock zmq4.Socket, msgType string, content any, signer *Signer) string {
	m, err := NewMessage(msgType, "client-session", content)
	if err != nil {
		c.t.Fatal(err)
	}
	frames, err := EncodeWire(m, signer)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		c.t.Fatal(err)
	}
	return m.Header.MsgID
}

func (c *testClient) recv(sock zmq4.Socket, timeout time.Duration) (*Message, error) {
	type res struct {
		m   zmq4.Msg
		err error
	}
	ch := make(chan res, 1)
	go func() {
		m, err := sock.Recv()
		ch <- res{m, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, r.err
		}
		return DecodeWire(r.m.Frames, c.signer)
	case <-time.After(timeout):
		return nil, fmt.Errorf("timeout")
	}
}

func startTestKernel(t *testing.T) (*testClient, func()) {
	t.Helper()
	p := freePorts(t, 5)
	ci := &ConnectionInfo{Transport: "tcp", IP: "127.0.0.1", ShellPort: p[0], ControlPort: p[1],
		IOPubPort: p[2], StdinPort: p[3], HBPort: p[4], Key: "test-key", SignatureScheme: "hmac-sha256"}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Conn: ci, Version: "test", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			InterpreterCommand: func() *exec.Cmd {
				cmd := exec.Command(exe)
				cmd.Env = append(os.Environ(), childEnv+"=1")
				return cmd
			}})
	}()
	c := &testClient{t: t, signer: NewSigner([]byte(ci.Key))}
	c.shell = zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity("test-client")))
	c.iopub = zmq4.NewSub(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err1 := c.shell.Dial(ci.endpoint(ci.ShellPort))
		err2 := c.iopub.Dial(ci.endpoint(ci.IOPubPort))
		if err1 == nil && err2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial kernel: %v %v", err1, err2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.iopub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		t.Fatal(err)
	}
	return c, func() {
		c.send(c.shell, "shutdown_request", map[string]any{"restart": false}, c.signer)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
		c.shell.Close()
		c.iopub.Close()
	}
}

// reply waits for the shell reply to msgID, skipping others.
func (c *testClient) reply(msgID string) *Message {
	for {
		m, err := c.recv(c.shell, 15*time.Second)
		if err != nil {
			c.t.Fatalf("waiting for reply to %s: %v", msgID, err)
		}
		if m.Parent != nil && m.Parent.MsgID == msgID {
			return m
		}
	}
}

func TestServerExecuteOverZMQ(t *testing.T) {
	c, stop := startTestKernel(t)
	defer stop()

	id := c.send(c.shell, "kernel_info_request", map[string]any{}, c.signer)
	var info struct {
		Status       string         `json:"status"`
		LanguageInfo map[string]any `json:"language_info"`
	}
	if err := json.Unmarshal(c.reply(id).Content, &info); err != nil || info.Status != "ok" || info.LanguageInfo["name"] != "go" {
		t.Fatalf("kernel_info: %+v %v", info, err)
	}

	// A badly signed request gets no reply; the next good one does.
	c.send(c.shell, "execute_request", map[string]any{"code": "1"}, NewSigner([]byte("wrong")))
	id = c.send(c.shell, "execute_request", map[string]any{"code": "import \"fmt\"\nfmt.Println(\"hi\")\n20+22", "silent": false}, c.signer)
	rep := c.reply(id)
	var er struct {
		Status string `json:"status"`
		Count  int    `json:"execution_count"`
	}
	if err := json.Unmarshal(rep.Content, &er); err != nil || er.Status != "ok" || er.Count != 1 {
		t.Fatalf("execute_reply %s (%v); the badly signed request must not have run", rep.Content, err)
	}

	// iopub carried busy, execute_input, the stream, the result and idle.
	var kinds []string
	var result, stream string
	for len(kinds) == 0 || kinds[len(kinds)-1] != "idle" {
		m, err := c.recv(c.iopub, 5*time.Second)
		if err != nil {
			t.Fatalf("iopub after %v: %v", kinds, err)
		}
		if m.Parent == nil || m.Parent.MsgID != id {
			continue
		}
		var content map[string]any
		_ = json.Unmarshal(m.Content, &content)
		k := m.Header.MsgType
		switch k {
		case "status":
			k = content["execution_state"].(string)
		case "stream":
			stream += content["text"].(string)
		case "execute_result":
			result = content["data"].(map[string]any)["text/plain"].(string)
		}
		kinds = append(kinds, k)
	}
	if kinds[0] != "busy" || stream != "hi\n" || result != "42" {
		t.Fatalf("iopub %v, stream %q, result %q", kinds, stream, result)
	}

	id = c.send(c.shell, "is_complete_request", map[string]any{"code": "func f() {"}, c.signer)
	var ic map[string]any
	_ = json.Unmarshal(c.reply(id).Content, &ic)
	if ic["status"] != "incomplete" {
		t.Fatalf("is_complete: %v", ic)
	}
}
