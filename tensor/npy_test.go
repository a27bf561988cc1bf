package tensor

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// bitEqual is Equal that also tells -0 from 0.
func bitEqual(a, b *Tensor) bool {
	if !SameShape(a.Shape(), b.Shape()) {
		return false
	}
	for i, x := range a.Data() {
		y := b.Data()[i]
		if math.Float64bits(x) != math.Float64bits(y) && !(math.IsNaN(x) && math.IsNaN(y)) {
			return false
		}
	}
	return true
}

type npyManifest struct {
	Files map[string]struct {
		Dtype  string   `json:"dtype"`
		Shape  []int    `json:"shape"`
		Values []string `json:"values"`
	} `json:"files"`
}

func loadManifest(t testing.TB) npyManifest {
	b, err := os.ReadFile("testdata/npy/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m npyManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Files) == 0 {
		t.Fatal("empty manifest")
	}
	return m
}

func TestReadNPYFixtures(t *testing.T) {
	m := loadManifest(t)
	for name, f := range m.Files {
		got, err := LoadNPY(filepath.Join("testdata/npy", name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		v := make([]float64, len(f.Values))
		for i, s := range f.Values {
			if v[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatal(err)
			}
		}
		want := MustNew(v, f.Shape...)
		if !bitEqual(got, want) {
			t.Errorf("%s (%s): got %v %v, want %v %v", name, f.Dtype, got.Shape(), got.Data(), want.Shape(), want.Data())
		}
		// Files numpy.save wrote from '<f8' arrays are byte-identical to ours.
		if f.Dtype == "<f8" && !strings.HasPrefix(name, "v") {
			raw, _ := os.ReadFile(filepath.Join("testdata/npy", name))
			var buf bytes.Buffer
			if err := WriteNPY(&buf, want); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), raw) {
				t.Errorf("%s: WriteNPY differs from numpy.save:\n%q\n%q", name, buf.Bytes(), raw)
			}
		}
	}
}

func TestReadNPYRejects(t *testing.T) {
	cases := map[string]string{
		"bad_fortran.npy":    "Fortran order",
		"bad_complex.npy":    "unsupported dtype",
		"bad_structured.npy": "structured",
		"bad_truncated.npy":  "truncated",
		"bad_huge.npy":       "truncated",
	}
	for name, want := range cases {
		_, err := LoadNPY(filepath.Join("testdata/npy", name))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, want)
		}
	}
	for _, bad := range []string{"", "\x93NUMPY", "PK\x03\x04zip", "\x93NUMPY\x09\x00\x00\x00",
		"\x93NUMPY\x01\x00\xff\xff{", "\x93NUMPY\x02\x00\xff\xff\xff\x7f"} {
		if _, err := ReadNPY(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestReadNPYTruncated cuts every fixture at every length: each cut must
// be an error, never a panic.
func TestReadNPYTruncated(t *testing.T) {
	for name := range loadManifest(t).Files {
		raw, err := os.ReadFile(filepath.Join("testdata/npy", name))
		if err != nil {
			t.Fatal(err)
		}
		// The empty array has no data bytes, so only header cuts fail.
		for n := 0; n < len(raw); n++ {
			if _, err := ReadNPY(bytes.NewReader(raw[:n])); err == nil {
				t.Errorf("%s cut to %d of %d bytes: no error", name, n, len(raw))
			}
		}
	}
}

func TestParseNPYHeader(t *testing.T) {
	good := map[string][]int{
		"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }": {2, 3},
		`{"descr":"<f8","fortran_order":False,"shape":()}`:            {},
		"{'shape': (5,), 'fortran_order': False, 'descr': '<f8'}":     {5},
		"{'descr': '<f8', 'fortran_order': False, 'shape': (3L, 2L)}": {3, 2},
	}
	for h, shape := range good {
		got, err := parseNPYHeader(h)
		if err != nil || !SameShape(got.shape, shape) || got.descr != "<f8" {
			t.Errorf("%s: %+v %v", h, got, err)
		}
	}
	for _, h := range []string{"", "{", "{'descr': '<f8'}", "{'descr': '<f8', 'fortran_order': Nope, 'shape': ()}",
		"{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}", "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
		"{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} junk", "{'descr': '<f8', 'descr': '<f8', 'shape': (1,)}",
		"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}"} {
		if _, err := parseNPYHeader(h); err == nil {
			t.Errorf("%q accepted", h)
		}
	}
}

func TestNPYRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, x := range []*Tensor{Scalar(math.Inf(-1)), Zeros(0), Zeros(2, 0, 3), RandN(1, 3, 4, 5), mk(sh(2), math.NaN(), math.Copysign(0, -1))} {
		p := filepath.Join(dir, "x.npy")
		if err := SaveNPY(p, x); err != nil {
			t.Fatal(err)
		}
		y, err := LoadNPY(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bitEqual(x, y) {
			t.Errorf("round trip of %v gave %v", x, y)
		}
	}
	// A shape whose header does not fit version 1.0 switches to 2.0.
	long := make([]int, 25000)
	for i := range long {
		long[i] = 1
	}
	var buf bytes.Buffer
	if err := WriteNPY(&buf, Zeros(long...)); err != nil {
		t.Fatal(err)
	}
	if buf.Bytes()[6] != 2 || (buf.Len()-8)%64 != 0 {
		t.Errorf("long header: version %d, data offset %d", buf.Bytes()[6], buf.Len()-8)
	}
	if y, err := ReadNPY(&buf); err != nil || y.Dims() != 25000 {
		t.Errorf("long header read back: %v", err)
	}
	if _, err := LoadNPY(filepath.Join(dir, "missing.npy")); err == nil {
		t.Error("missing file accepted")
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, io.ErrShortWrite
	}
	w.n--
	return len(p), nil
}

func TestWriteNPYErrors(t *testing.T) {
	for n := 0; n < 2; n++ {
		if err := WriteNPY(&failWriter{n: n}, Ones(3)); err == nil {
			t.Errorf("write failing after %d writes: no error", n)
		}
	}
}

func FuzzReadNPY(f *testing.F) {
	files, _ := filepath.Glob("testdata/npy/*.npy")
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		x, err := ReadNPY(bytes.NewReader(raw))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteNPY(&buf, x); err != nil {
			t.Fatal(err)
		}
		y, err := ReadNPY(&buf)
		if err != nil || !bitEqual(x, y) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}
