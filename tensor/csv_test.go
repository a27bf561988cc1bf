package tensor

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		header bool
		want   *Tensor
		names  []string
	}{
		{"plain", "1,2,3\n4,5,6\n", false, ar(2, 3).AddScalar(1), nil},
		{"header", "a, b\n1.5, -2\n", true, mk(sh(1, 2), 1.5, -2), []string{"a", "b"}},
		{"quoted header", "\"x,y\",z\n0,1e3\n", true, mk(sh(1, 2), 0, 1000), []string{"x,y", "z"}},
		{"special", "nan,inf,-Inf\n", false, mk(sh(1, 3), math.NaN(), math.Inf(1), math.Inf(-1)), nil},
		{"blank lines", "1\n\n2\n", false, mk(sh(2, 1), 1, 2), nil},
		{"crlf", "1,2\r\n3,4\r\n", false, mk(sh(2, 2), 1, 2, 3, 4), nil},
		{"header only", "a,b,c\n", true, Zeros(0, 3), []string{"a", "b", "c"}},
		{"empty", "", false, Zeros(0, 0), nil},
		{"overflow", "1e999\n", false, mk(sh(1, 1), math.Inf(1)), nil},
	}
	for _, c := range cases {
		got, names, err := ReadCSV(strings.NewReader(c.in), c.header)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !Equal(got, c.want) {
			t.Errorf("%s: got %v %v, want %v %v", c.name, got.Shape(), got.Data(), c.want.Shape(), c.want.Data())
		}
		if strings.Join(names, "|") != strings.Join(c.names, "|") || (names == nil) != (c.names == nil) {
			t.Errorf("%s: names %q, want %q", c.name, names, c.names)
		}
	}
}

func TestReadCSVErrors(t *testing.T) {
	cases := []struct {
		name, in string
		header   bool
		mention  []string
	}{
		{"ragged", "1,2\n3,4\n5\n", false, []string{"line 3", "data row 3", "1 fields, want 2"}},
		{"ragged vs header", "a,b\n1,2,3\n", true, []string{"line 2", "data row 1", "3 fields, want 2"}},
		{"word", "1,2\n3,x\n", false, []string{"line 2", "column 2", `"x"`}},
		{"named column", "a,b\n1,\n", true, []string{"line 2", `column 2 ("b")`, `""`}},
		{"no header", "", true, []string{"no header"}},
		{"bad quote", "1,\"2\n", false, []string{"line"}},
	}
	for _, c := range cases {
		_, _, err := ReadCSV(strings.NewReader(c.in), c.header)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, m := range c.mention {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, m)
			}
		}
	}
}

func TestCSVRoundTrip(t *testing.T) {
	x := RandN(5, 4, 3).MulScalar(1e5)
	x.Set(math.NaN(), 0, 0)
	x.Set(math.Inf(-1), 1, 1)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, x, []string{"a", "b,c", "d"}); err != nil {
		t.Fatal(err)
	}
	y, names, err := ReadCSV(&buf, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bitEqual(x, y) || strings.Join(names, "|") != "a|b,c|d" {
		t.Fatalf("round trip: %v %q", y, names)
	}
	p := filepath.Join(t.TempDir(), "v.csv")
	if err := SaveCSV(p, mk(sh(3), 1, 2, 3), nil); err != nil {
		t.Fatal(err)
	}
	if y, _, err := LoadCSV(p, false); err != nil || !Equal(y, mk(sh(3, 1), 1, 2, 3)) {
		t.Fatalf("1-D saves as a column: %v %v", y, err)
	}
	if err := WriteCSV(&buf, Zeros(1, 2, 3), nil); err == nil {
		t.Error("3-D tensor written")
	}
	if err := WriteCSV(&buf, Zeros(1, 2), []string{"a"}); err == nil {
		t.Error("short header written")
	}
	if err := WriteCSV(&failWriter{}, Zeros(1, 2), nil); err == nil {
		t.Error("write error lost")
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"1,2\n3,4\n", "a,b\n1,2\n", "\"1\",2\n", "1,\n", "nan,-inf,1e308\n", "x\n\"", "1;2\n"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, header bool) {
		x, names, err := ReadCSV(bytes.NewReader(raw), header)
		if err != nil {
			return
		}
		if x.Dims() != 2 || (header && len(names) != x.Dim(1)) {
			t.Fatalf("shape %v with %d names", x.Shape(), len(names))
		}
		if x.Size() == 0 {
			return // nothing to write back
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, x, nil); err != nil {
			t.Fatal(err)
		}
		y, _, err := ReadCSV(&buf, false)
		if err != nil || !bitEqual(x, y) {
			t.Fatalf("round trip of %v: %v %v", x, y, err)
		}
	})
}
