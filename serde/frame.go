package serde

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
)

// A frame is a 4-byte big-endian length followed by that many bytes: the
// one framing every gomplab byte stream (worker connections, MPC party
// links) uses for its messages.
const frameHeaderSize = 4

// smallFrame is the size up to which WriteFrame copies header and payload
// into one buffer, so small messages leave in one write (one TCP segment).
const smallFrame = 64 << 10

// WriteFrame writes b as one frame. Frames from concurrent writers to one
// w must be serialized by the caller.
func WriteFrame(w io.Writer, b []byte) error {
	if uint64(len(b)) > math.MaxUint32 {
		return fmt.Errorf("serde: WriteFrame: %d bytes do not fit a frame (max %d)", len(b), uint32(math.MaxUint32))
	}
	var hdr [frameHeaderSize]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	var err error
	if len(b) <= smallFrame {
		_, err = w.Write(append(hdr[:], b...))
	} else {
		// net.Buffers writes both parts with one writev on a network
		// connection, without copying a large payload.
		bufs := net.Buffers{hdr[:], b}
		_, err = bufs.WriteTo(w)
	}
	if err != nil {
		return fmt.Errorf("serde: WriteFrame of %d bytes: %w", len(b), err)
	}
	return nil
}

// ReadFrame reads one frame of at most maxBytes payload bytes (zero or less
// means DefaultLimits.MaxBytes). It returns io.EOF, unwrapped, when r ends
// cleanly before a frame starts, and a *DecodeError for a frame that is
// over the limit or cut short. The buffer grows only as payload arrives,
// so a lying length cannot force a large allocation.
func ReadFrame(r io.Reader, maxBytes int) ([]byte, error) {
	const op = "ReadFrame"
	if maxBytes <= 0 {
		maxBytes = DefaultLimits.MaxBytes
	}
	var hdr [frameHeaderSize]byte
	if k, err := io.ReadFull(r, hdr[:]); err != nil {
		switch {
		case errors.Is(err, io.EOF):
			return nil, io.EOF
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, &DecodeError{Op: op, Offset: k, Kind: ErrTruncated,
				Msg: fmt.Sprintf("stream ended after %d of %d frame header bytes", k, frameHeaderSize)}
		}
		return nil, fmt.Errorf("serde: ReadFrame header: %w", err)
	}
	n := uint64(binary.BigEndian.Uint32(hdr[:]))
	if n > uint64(maxBytes) {
		return nil, &DecodeError{Op: op, Kind: ErrLimit,
			Msg: fmt.Sprintf("frame of %d bytes, limit is %d", n, maxBytes)}
	}
	const chunk = 1 << 20
	buf := make([]byte, 0, min(int(n), chunk))
	for len(buf) < int(n) {
		k := min(int(n)-len(buf), max(chunk, len(buf)))
		buf = slices.Grow(buf, k)
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+got]
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, &DecodeError{Op: op, Offset: frameHeaderSize + len(buf), Kind: ErrTruncated,
					Msg: fmt.Sprintf("stream ended after %d of %d frame bytes", len(buf), n)}
			}
			return nil, fmt.Errorf("serde: ReadFrame of %d bytes, after %d: %w", n, len(buf), err)
		}
	}
	return buf, nil
}
