package kernel_test

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/kernel"
)

// A message signed with the connection file's key decodes; the same frames
// checked with another key are rejected.
func ExampleDecodeWire() {
	key := kernel.NewSigner([]byte("connection-file-key"))
	m, _ := kernel.NewMessage("kernel_info_request", "session-1", map[string]any{})
	frames, _ := kernel.EncodeWire(m, key)

	got, err := kernel.DecodeWire(frames, key)
	fmt.Println(got.Header.MsgType, err)

	_, err = kernel.DecodeWire(frames, kernel.NewSigner([]byte("other-key")))
	fmt.Println(errors.Is(err, kernel.ErrBadSignature))
	// Output:
	// kernel_info_request <nil>
	// true
}
