package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/nn/dataset"
	"github.com/gomplab/gomplab/mpc/nn/onnx"
	"github.com/gomplab/gomplab/tensor"
)

// What each worker receives is recorded as syft's TestJobPrivacy records
// it: the data scientist's session through a proxy (plaintext loopback,
// so the bytes are the messages themselves), and the party's MPC traffic
// through its communicator.

// pattern is a byte string that would betray an owner's data.
type pattern struct {
	what   string
	bytes  []byte
	stored bool // the owner's own store holds it in this form
}

// Encodings of a run of values: how a tensor travels and is stored
// (float64, little- and big-endian), how an ONNX file or a float32 array
// holds it, and the 16-bit fixed point that MPC encodes before sharing.
func encodings(vals []float64) map[string][]byte {
	var f64, f64be, f32, fix bytes.Buffer
	for _, v := range vals {
		binary.Write(&f64, binary.LittleEndian, math.Float64bits(v))
		binary.Write(&f64be, binary.BigEndian, math.Float64bits(v))
		binary.Write(&f32, binary.LittleEndian, math.Float32bits(float32(v)))
		binary.Write(&fix, binary.LittleEndian, uint64(int64(math.Round(v*65536))))
	}
	return map[string][]byte{"float64": f64.Bytes(), "float64 BE": f64be.Bytes(), "float32": f32.Bytes(), "fixed point": fix.Bytes()}
}

// distinctive reports whether a value is unlikely to occur by chance in
// other data: pixel values clipped to 0 or 1 and one-hot labels are not.
func distinctive(v float64) bool { return v > 0.01 && v < 0.99 || v < -0.01 && v > -0.99 }

// tensorPatterns samples runs of a tensor's values, each long and varied
// enough that finding it elsewhere means the data is there: 16 values at
// least half of them distinctive, or for label-like data (no distinctive
// values) 320 values (32 rows of one-hot labels). It adds the decimal text
// of a few single distinctive values, as logs would print them.
func tensorPatterns(name string, t *tensor.Tensor, stored bool) []pattern {
	data := t.Data()
	var out []pattern
	add := func(i, n int) {
		for enc, b := range encodings(data[i : i+n]) {
			out = append(out, pattern{what: name + " " + enc + " at " + strconv.Itoa(i), bytes: b, stored: stored && enc == "float64"})
		}
	}
	texts, runs := 0, 0
	for i := 0; i+16 <= len(data) && runs < 24; i += 97 {
		k := 0
		for _, v := range data[i : i+16] {
			if distinctive(v) {
				k++
			}
		}
		if k >= 8 {
			add(i, 16)
			runs++
			if txt := strconv.FormatFloat(data[i], 'g', -1, 64); texts < 8 && distinctive(data[i]) && len(txt) >= 8 {
				out = append(out, pattern{what: name + " text " + strconv.Itoa(i), bytes: []byte(txt)})
				texts++
			}
		}
	}
	if runs == 0 {
		for i := 0; i+320 <= len(data) && runs < 8; i += 500 { // rows 0, 50, 100... : batch starts
			add(i, 320)
			runs++
		}
	}
	return out
}

// ownersData lists, for alice and bob, patterns of everything they hold.
func ownersData(t *testing.T, d *data, c config) [2][]pattern {
	agg, lab, aug := d.sets[0], d.sets[1], d.sets[2]
	half := c.train / 2
	var held [2][]pattern
	add := func(who int, name string, x *tensor.Tensor) {
		held[who] = append(held[who], tensorPatterns(name, x, true)...)
	}
	add(alice, "feature-aggregation top halves", agg.x.Slice(1, 0, 392, 1))
	add(alice, "feature-aggregation labels", agg.y)
	add(bob, "feature-aggregation bottom halves", agg.x.Slice(1, 392, 784, 1))
	add(alice, "data-labeling images", lab.x)
	add(bob, "data-labeling labels", lab.y)
	add(alice, "augmentation images", aug.x.Slice(0, 0, half, 1))
	add(alice, "augmentation labels", aug.y.Slice(0, 0, half, 1))
	add(bob, "augmentation images", aug.x.Slice(0, half, c.train, 1))
	add(bob, "augmentation labels", aug.y.Slice(0, half, c.train, 1))
	add(bob, "model-hiding images", d.images)
	// Alice's weights: the ONNX file holds them as float32, so that form
	// is in her store.
	om, err := onnx.Decode(d.model)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Import(om)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range sd {
		for _, p := range tensorPatterns("model "+name, w, false) {
			p.stored = strings.Contains(p.what, " float32 ")
			held[alice] = append(held[alice], p)
		}
	}
	return held
}

// scanner finds any of many patterns (each at least 8 bytes) in one pass
// over the data. Each pattern is keyed by its most varied 8-byte window
// (runs of zeros are common in stores and messages; they would make every
// zero a candidate); a table of the keys' first two bytes filters
// positions, and the key picks the candidates to compare.
type scanner struct {
	first [1 << 16]bool
	byKey map[uint64][]keyed
}

type keyed struct {
	p   pattern
	off int // of the key in the pattern
}

func newScanner(ps []pattern) *scanner {
	s := &scanner{byKey: map[uint64][]keyed{}}
	for _, p := range ps {
		if len(p.bytes) < 8 {
			panic("pattern " + p.what + " is shorter than 8 bytes")
		}
		off, best := 0, 0
		for i := 0; i+8 <= len(p.bytes); i++ {
			distinct := map[byte]bool{}
			for _, c := range p.bytes[i : i+8] {
				distinct[c] = true
			}
			if len(distinct) > best {
				off, best = i, len(distinct)
			}
		}
		s.first[binary.LittleEndian.Uint16(p.bytes[off:])] = true
		k := binary.LittleEndian.Uint64(p.bytes[off:])
		s.byKey[k] = append(s.byKey[k], keyed{p, off})
	}
	return s
}

// find returns the patterns that occur in b.
func (s *scanner) find(b []byte) []pattern {
	var out []pattern
	seen := map[string]bool{}
	for i := 0; i+8 <= len(b); i++ {
		if !s.first[binary.LittleEndian.Uint16(b[i:])] {
			continue
		}
		for _, k := range s.byKey[binary.LittleEndian.Uint64(b[i:])] {
			start := i - k.off
			if start >= 0 && bytes.HasPrefix(b[start:], k.p.bytes) && !seen[k.p.what] {
				seen[k.p.what] = true
				out = append(out, k.p)
			}
		}
	}
	return out
}

// TestScannerFindsLeaks: the scan finds a tensor's data wherever it is
// embedded in other bytes, in each encoding, and nothing in random bytes.
func TestScannerFindsLeaks(t *testing.T) {
	x, _ := dataset.Digits(4, 9)
	labels := tensor.OneHot(tensor.FromSlice([]float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7, 9, 5, 0, 2}), 10)
	noise := tensor.NewRNG(1).Uniform(-1, 1, 4096)
	random := make([]byte, 1<<16)
	for i := range random {
		random[i] = byte(noise.Data()[i%4096]*127) ^ byte(i*131)
	}
	for _, c := range []struct {
		name string
		x    *tensor.Tensor
	}{{"images", x.Reshape(4, 784)}, {"labels", labels}} {
		ps := tensorPatterns(c.name, c.x, true)
		if len(ps) == 0 {
			t.Fatalf("%s: no patterns", c.name)
		}
		sc := newScanner(ps)
		if got := sc.find(random); len(got) != 0 {
			t.Errorf("%s: found %s in random bytes", c.name, got[0].what)
		}
		for enc := range encodings([]float64{0}) {
			leak := append(append(bytes.Clone(random[:999]), encodings(c.x.Data())[enc]...), random[999:]...)
			if got := sc.find(leak); len(got) == 0 {
				t.Errorf("%s: a %s copy is not found", c.name, enc)
			}
		}
	}
}
