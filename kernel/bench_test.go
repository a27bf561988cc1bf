package kernel

import "testing"

func BenchmarkEncodeDecodeWire(b *testing.B) {
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	m, _ := NewMessage("execute_request", "sess", map[string]any{"code": "1+1", "silent": false})
	m.Identities = [][]byte{[]byte("client")}
	b.ReportAllocs()
	for b.Loop() {
		frames, err := EncodeWire(m, s)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeWire(frames, s); err != nil {
			b.Fatal(err)
		}
	}
}
