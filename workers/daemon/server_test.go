package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/store"
)

// daemonForTest starts a TLS daemon with a user "me" on a free port.
func daemonForTest(t *testing.T, cfg Config) (*Daemon, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "w")
	res, err := InitDataDir(dir, "w", nil)
	if err != nil {
		t.Fatal(err)
	}
	users, _ := res.Dir.Users()
	me, err := users.Add("me")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir, cfg.Listen = dir, "127.0.0.1:0"
	d, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	return d, me
}

func dialTest(t *testing.T, d *Daemon, token string) *workers.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := workers.DialTransport(ctx, d.Addr(), workers.DialOptions{Fingerprint: d.Fingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := workers.NewClient(ctx, tr, workers.Credentials{Token: token}, workers.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServerTLSAndPinning(t *testing.T) {
	d, me := daemonForTest(t, Config{})
	ctx := context.Background()
	// A wrong pin is refused during the handshake.
	if _, err := workers.DialTransport(ctx, d.Addr(), workers.DialOptions{Fingerprint: "sha256:00"}); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Fatalf("wrong fingerprint: %v", err)
	}
	// No pin at all is refused before dialing.
	if _, err := workers.DialTransport(ctx, d.Addr(), workers.DialOptions{}); err == nil {
		t.Fatal("dial without a fingerprint succeeded")
	}
	// The pin as users paste it: without "sha256:", in upper case.
	fp := d.Fingerprint()
	for _, pin := range []string{strings.TrimPrefix(fp, "sha256:"), strings.ToUpper(strings.TrimPrefix(fp, "sha256:")), " " + fp + "\n"} {
		tr, err := workers.DialTransport(ctx, d.Addr(), workers.DialOptions{Fingerprint: pin})
		if err != nil {
			t.Fatalf("pin %q: %v", pin, err)
		}
		tr.Close()
	}
	if _, err := workers.DialTransport(ctx, d.Addr(), workers.DialOptions{Fingerprint: "abc"}); err == nil || !strings.Contains(err.Error(), `"abc" is not sha256: and 64 hex digits`) {
		t.Fatalf("bad pin: %v", err)
	}
	// TLS 1.2 is refused by the server.
	conn, err := tls.Dial("tcp", d.Addr(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.2 handshake succeeded")
	}
	// Plaintext to a TLS daemon fails cleanly, not with a hang.
	tr, err := workers.DialTransport(ctx, d.Addr(), workers.DialOptions{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := workers.NewClient(cctx, tr, workers.Credentials{Token: me}, workers.ClientOptions{}); err == nil {
		t.Fatal("plaintext session with a TLS daemon succeeded")
	}
	// Plaintext is only for loopback.
	if _, err := workers.DialTransport(ctx, "192.0.2.1:7101", workers.DialOptions{Insecure: true}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("insecure dial to a non-loopback address: %v", err)
	}
	if _, err := Start(Config{Dir: t.TempDir(), Listen: "0.0.0.0:0", InsecureLoopback: true}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("insecure daemon on a public address: %v", err)
	}
	// A bad token gets a clear error.
	tr, err = workers.DialTransport(ctx, d.Addr(), workers.DialOptions{Fingerprint: d.Fingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := workers.NewClient(ctx, tr, workers.Credentials{Token: "wrong"}, workers.ClientOptions{}); !errors.Is(err, workers.ErrUnauthenticated) {
		t.Fatalf("bad token: %v", err)
	}
}

func TestServerOversizedFrame(t *testing.T) {
	d, me := daemonForTest(t, Config{Limits: serde.Limits{MaxBytes: 64 << 10}})
	c := dialTest(t, d, me)
	big := &workers.PutRequest{Object: &store.Object{Kind: store.KindTensor, Tensor: tensor.Zeros(100000)}}
	err := c.Call(context.Background(), workers.MsgPut, big, nil)
	if !errors.Is(err, workers.ErrTooLarge) && !errors.Is(err, workers.ErrUnavailable) {
		t.Fatalf("oversized put: %v", err)
	}
	// The daemon keeps serving: a new session works.
	c2 := dialTest(t, d, me)
	var rep workers.PingReply
	if err := c2.Call(context.Background(), workers.MsgPing, struct{}{}, &rep); err != nil || rep.Objects != 0 {
		t.Fatalf("ping after oversized frame: %+v %v", rep, err)
	}
}

func TestServerManyClients(t *testing.T) {
	d, me := daemonForTest(t, Config{})
	const clients, rounds = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			tr, err := workers.DialTransport(ctx, d.Addr(), workers.DialOptions{Fingerprint: d.Fingerprint()})
			if err != nil {
				errs <- err
				return
			}
			c, err := workers.NewClient(ctx, tr, workers.Credentials{Token: me}, workers.ClientOptions{})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for r := range rounds {
				id := fmt.Sprintf("c%d-r%d", i, r)
				put := &workers.PutRequest{Object: &store.Object{ID: id, Kind: store.KindTensor, Tensor: tensor.Full(float64(i), 3)}}
				if err := c.Call(ctx, workers.MsgPut, put, nil); err != nil {
					errs <- err
					return
				}
				var info workers.InfoReply
				if err := c.Call(ctx, workers.MsgOp, &workers.OpRequest{Op: "mul", Args: []workers.Operand{{ID: id}, {ID: id}}}, &info); err != nil {
					errs <- err
					return
				}
				var got workers.GetReply
				if err := c.Call(ctx, workers.MsgGet, &workers.GetRequest{ID: info.Info.ID}, &got); err != nil {
					errs <- err
					return
				}
				if !tensor.Equal(got.Object.Tensor, tensor.Full(float64(i*i), 3)) {
					errs <- fmt.Errorf("client %d got %v", i, got.Object.Tensor.Data())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := dialTest(t, d, me)
	var rep workers.PingReply
	if err := c.Call(context.Background(), workers.MsgPing, struct{}{}, &rep); err != nil || rep.Objects != clients*rounds {
		t.Fatalf("objects = %d (%v), want %d", rep.Objects, err, clients*rounds)
	}
}

func TestServerShutdownFinishesInFlight(t *testing.T) {
	d, me := daemonForTest(t, Config{})
	started := make(chan struct{})
	d.Handler().Handle("slow", func(ctx context.Context, r *workers.Request) (any, error) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return &workers.PingReply{Worker: "done"}, nil
	})
	c := dialTest(t, d, me)
	dialTest(t, d, me) // an idle connection must not hold Shutdown up
	done := make(chan error, 1)
	var rep workers.PingReply
	go func() { done <- c.Call(context.Background(), "slow", struct{}{}, &rep) }()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-done; err != nil || rep.Worker != "done" {
		t.Fatalf("in-flight request: %+v %v", rep, err)
	}
	// New connections are refused once shut down.
	if _, err := net.DialTimeout("tcp", d.Addr(), time.Second); err == nil {
		t.Fatal("daemon still accepts connections after Shutdown")
	}
}

func TestClientTimeout(t *testing.T) {
	d, me := daemonForTest(t, Config{RequestTimeout: time.Second})
	d.Handler().Handle("hang", func(ctx context.Context, r *workers.Request) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	c := dialTest(t, d, me)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Call(ctx, "hang", struct{}{}, nil)
	if !errors.Is(err, workers.ErrDeadline) || time.Since(start) > 5*time.Second {
		t.Fatalf("timeout: %v after %v", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "unknown") {
		t.Errorf("timeout error should say the outcome is unknown: %v", err)
	}
}
