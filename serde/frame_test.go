package serde

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	payloads := [][]byte{{}, {0x01}, bytes.Repeat([]byte{7}, smallFrame), bytes.Repeat([]byte{9}, 3<<20+5)}
	var stream bytes.Buffer
	for _, p := range payloads {
		if err := WriteFrame(&stream, p); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range payloads {
		got, err := ReadFrame(&stream, 0)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, len(got), len(want))
		}
	}
	if _, err := ReadFrame(&stream, 0); err != io.EOF {
		t.Fatalf("after the last frame: got %v, want io.EOF", err)
	}
}

func TestFrameOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback networking:", err)
	}
	defer ln.Close()
	msg := bytes.Repeat([]byte("gomplab"), 100000) // takes the writev path
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		if err := WriteFrame(c, msg); err != nil {
			done <- err
			return
		}
		done <- WriteFrame(c, []byte("small"))
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, want := range [][]byte{msg, []byte("small")} {
		got, err := ReadFrame(c, 1<<20)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, %v", len(got), err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSmallFrameIsOneWrite(t *testing.T) {
	var w countingWriter
	if err := WriteFrame(&w, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if w.writes != 1 || w.n != 9 {
		t.Fatalf("%d writes of %d bytes, want 1 of 9", w.writes, w.n)
	}
}

type countingWriter struct{ writes, n int }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	w.n += len(p)
	return len(p), nil
}

func TestReadFrameBadInput(t *testing.T) {
	cases := []struct {
		name  string
		in    []byte
		max   int
		kind  error
		frags []string
	}{
		{"partial header", []byte{0, 0}, 0, ErrTruncated, []string{"after 2 of 4 frame header bytes"}},
		{"partial body", []byte{0, 0, 0, 5, 'a', 'b'}, 0, ErrTruncated, []string{"after 2 of 5 frame bytes"}},
		{"over limit", []byte{0, 0, 1, 0}, 255, ErrLimit, []string{"frame of 256 bytes, limit is 255"}},
		{"http", []byte("GET / HTTP/1.1\r\n"), 1 << 20, ErrLimit, []string{"frame of 1195725856 bytes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(c.in), c.max)
			wantErr(t, err, c.kind, append(c.frags, "serde: ReadFrame")...)
		})
	}
	broken := errors.New("connection reset")
	_, err := ReadFrame(io.MultiReader(bytes.NewReader([]byte{0, 0, 0, 9, 1}), errReader{broken}), 0)
	if !errors.Is(err, broken) {
		t.Fatalf("got %v, want the reader's error", err)
	}
	if err := WriteFrame(errWriter{broken}, []byte("x")); !errors.Is(err, broken) {
		t.Fatalf("got %v, want the writer's error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

func TestReadFrameLyingLengthAllocatesLittle(t *testing.T) {
	in := []byte{0x3f, 0xff, 0xff, 0xff, 1, 2, 3} // claims 1 GiB, holds 3 bytes
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(bytes.NewReader(in), 0)
	runtime.ReadMemStats(&after)
	wantErr(t, err, ErrTruncated, "after 3 of 1073741823 frame bytes")
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Fatalf("a 7-byte input made ReadFrame allocate %d bytes", got)
	}
}
