package repl

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestMagics runs each magic as a cell: %help, %packages, %time and
// %timeit (line and cell forms), and an unknown one.
func TestMagics(t *testing.T) {
	s, out, _ := newTestSession(t)
	perLoop := regexp.MustCompile(`^[0-9.]+ (ns|µs|ms|s) ± [0-9.]+ (ns|µs|ms|s) per loop \(mean ± std. dev. of 3 runs, 5 loops each\)\n$`)
	cases := []struct {
		code   string
		stdout *regexp.Regexp
		result string
	}{
		{"%help", regexp.MustCompile(`(?s)\?\?name.*%timeit`), ""},
		{"%packages tensor", regexp.MustCompile(`(?s)gomplab \(1\):\n  github.com/gomplab/gomplab/tensor\n`), ""},
		{"%packages encoding/j", regexp.MustCompile(`standard library \(1\):\n  encoding/json\n`), ""},
		{"%time x := 6 * 7", regexp.MustCompile(`^wall time: [0-9.]+ (ns|µs|ms|s)\n$`), ""},
		{"%time x + 1", regexp.MustCompile(`^wall time: `), "43"},
		{"%%time\ny := x\ny * 2", regexp.MustCompile(`^wall time: `), "84"},
		{"%timeit -n 5 -r 3 x * 2", perLoop, ""},
		{"%%timeit -n 5 -r 3\nz := 0\nfor i := 0; i < 100; i++ {\n\tz += i\n}", perLoop, ""},
		{"%timeit -r 1 x * 2", regexp.MustCompile(`per loop \(mean ± std. dev. of 1 run, [0-9]+ loops each\)`), ""},
		{"%help\n40 + 2", regexp.MustCompile(`%packages`), "42"},
	}
	for _, c := range cases {
		out.Reset()
		res, cerr := s.Execute(context.Background(), c.code)
		if cerr != nil {
			t.Errorf("%q: %v", c.code, cerr)
			continue
		}
		if !c.stdout.MatchString(out.String()) {
			t.Errorf("%q printed %q, want %v", c.code, out.String(), c.stdout)
		}
		if got := resultText(t, res); got != c.result {
			t.Errorf("%q result %q, want %q", c.code, got, c.result)
		}
	}
	for _, c := range []struct{ code, want string }{
		{"%nosuch", "unknown magic %nosuch"},
		{"%timeit -n zero x", "-n wants a positive count"},
		{"%time\n\nundefinedName", "cell line 3"},
	} {
		_, cerr := s.Execute(context.Background(), c.code)
		if cerr == nil || !strings.Contains(cerr.Evalue, c.want) {
			t.Errorf("%q: %v, want %q", c.code, cerr, c.want)
		}
	}
}
