package tensor

import (
	"math"
	"strconv"
	"strings"
)

// Printing follows numpy.array_str with the default print options: at most
// 8 fractional digits but no more than needed to tell each value apart,
// columns aligned on the decimal point, scientific notation when the
// magnitudes span too much, lines wrapped at 75 characters, and tensors of
// more than 1000 elements summarized by their first and last 3 entries
// along each dim.
const (
	printPrecision = 8
	printThreshold = 1000
	printEdgeItems = 3
	printLineWidth = 75
)

// floatFormat renders every element of one tensor at the same width.
type floatFormat struct {
	exp       bool
	padLeft   int // characters before the decimal point (sign included)
	padRight  int // characters after it (positional) or after it incl. exponent (scientific)
	precision int // scientific: mantissa digits after the point
	expSize   int // scientific: exponent digits
}

// shortPositional is the shortest decimal that reads back as x, cut to
// printPrecision fractional digits, always with a point ("1." for 1).
func shortPositional(x float64) string {
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > printPrecision {
		s = strings.TrimRight(strconv.FormatFloat(x, 'f', printPrecision, 64), "0")
	}
	if !strings.Contains(s, ".") {
		s += "."
	}
	return s
}

// shortScientific splits the shortest scientific form of x (mantissa cut to
// printPrecision fractional digits) into integer digits, fraction digits
// and exponent digits.
func shortScientific(x float64) (ip, fp, exp string) {
	s := strconv.FormatFloat(x, 'e', -1, 64)
	m, e, _ := strings.Cut(s, "e")
	if _, f, ok := strings.Cut(m, "."); ok && len(f) > printPrecision {
		s = strconv.FormatFloat(x, 'e', printPrecision, 64)
		m, e, _ = strings.Cut(s, "e")
		m = strings.TrimRight(m, "0")
	}
	ip, fp, _ = strings.Cut(m, ".")
	return ip, fp, e[1:]
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// newFloatFormat chooses the notation and field widths from the values to
// be shown, as NumPy's FloatingFormat does.
func newFloatFormat(vals []float64) floatFormat {
	var f floatFormat
	minV, maxV := math.Inf(1), 0.0
	finite, negInf, nonFinite := 0, false, false
	for _, v := range vals {
		if !isFinite(v) {
			nonFinite = true
			negInf = negInf || math.IsInf(v, -1)
			continue
		}
		finite++
		if a := math.Abs(v); a != 0 {
			minV, maxV = math.Min(minV, a), math.Max(maxV, a)
		}
	}
	if maxV != 0 && (maxV >= 1e8 || minV < 1e-4 || maxV/minV > 1e3) {
		f.exp = true
	}
	for _, v := range vals {
		if !isFinite(v) {
			continue
		}
		if f.exp {
			ip, fp, e := shortScientific(v)
			f.padLeft = max(f.padLeft, len(ip))
			f.precision = max(f.precision, len(fp))
			f.expSize = max(f.expSize, len(e))
		} else {
			ip, fp, _ := strings.Cut(shortPositional(v), ".")
			f.padLeft = max(f.padLeft, len(ip))
			f.padRight = max(f.padRight, len(fp))
		}
	}
	if f.exp {
		f.padRight = f.expSize + 2 + f.precision
	}
	if nonFinite {
		inf := 3
		if negInf {
			inf = 4
		}
		f.padLeft = max(f.padLeft, 3-(f.padRight+1), inf-(f.padRight+1))
	}
	return f
}

func (f floatFormat) width() int { return f.padLeft + f.padRight + 1 }

func (f floatFormat) format(x float64) string {
	var s string
	switch {
	case math.IsNaN(x):
		s = "nan"
	case math.IsInf(x, 1):
		s = "inf"
	case math.IsInf(x, -1):
		s = "-inf"
	case f.exp:
		m, e, _ := strings.Cut(strconv.FormatFloat(x, 'e', f.precision, 64), "e")
		if f.precision == 0 {
			m += "."
		}
		sign, digits := e[:1], e[1:]
		for len(digits) < f.expSize {
			digits = "0" + digits
		}
		ip, _, _ := strings.Cut(m, ".")
		return strings.Repeat(" ", max(0, f.padLeft-len(ip))) + m + "e" + sign + digits
	default:
		p := shortPositional(x)
		ip, fp, _ := strings.Cut(p, ".")
		return strings.Repeat(" ", max(0, f.padLeft-len(ip))) + p + strings.Repeat(" ", max(0, f.padRight-len(fp)))
	}
	return strings.Repeat(" ", max(0, f.width()-len(s))) + s
}

// pyRepr formats x as Python's repr(float) does, which is how NumPy prints
// a 0-d array.
func pyRepr(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	if x == 0 {
		if math.Signbit(x) {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(x, 'e', -1, 64)
	_, e, _ := strings.Cut(s, "e")
	if exp, _ := strconv.Atoi(e); exp < -4 || exp >= 16 {
		return s // Go's and Python's scientific forms agree: 1e-05, 1.5e+16
	}
	s = strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// summarized reports whether t is printed with "..." gaps.
func (t *Tensor) summarized() bool { return len(t.data) > printThreshold }

// shownIndices returns the indices printed along a dim of length n.
func shownIndices(n int, summary bool) (lead, trail []int) {
	if summary && n > 2*printEdgeItems {
		for i := 0; i < printEdgeItems; i++ {
			lead = append(lead, i)
			trail = append(trail, n-printEdgeItems+i)
		}
		return lead, trail
	}
	for i := 0; i < n; i++ {
		lead = append(lead, i)
	}
	return lead, nil
}

// shownValues collects the elements that will be printed, so that the
// format is chosen from them alone, as NumPy does.
func (t *Tensor) shownValues(summary bool) []float64 {
	if !summary {
		return t.data
	}
	return t.selectValues(func(d int) []int {
		lead, trail := shownIndices(t.shape[d], true)
		return append(lead, trail...)
	})
}

// selectValues returns, in row-major order, the elements whose index
// along each dim d is among indices(d) (negative entries are skipped).
func (t *Tensor) selectValues(indices func(d int) []int) []float64 {
	var out []float64
	st := Strides(t.shape)
	var rec func(d, off int)
	rec = func(d, off int) {
		if d == len(t.shape) {
			out = append(out, t.data[off])
			return
		}
		for _, i := range indices(d) {
			if i >= 0 {
				rec(d+1, off+i*st[d])
			}
		}
	}
	rec(0, 0)
	return out
}

// String formats t as NumPy's str() does: nested brackets, aligned
// columns, and "..." in place of the middle of long dims once t has more
// than 1000 elements.
func (t *Tensor) String() string {
	if len(t.shape) == 0 {
		return pyRepr(t.data[0])
	}
	if len(t.data) == 0 {
		return "[]"
	}
	summary := t.summarized()
	f := newFloatFormat(t.shownValues(summary))
	st := Strides(t.shape)
	var rec func(d, off int, indent string, width int) string
	rec = func(d, off int, indent string, width int) string {
		lead, trail := shownIndices(t.shape[d], summary)
		nextIndent, nextWidth := indent+" ", width-1
		var s strings.Builder
		if d == len(t.shape)-1 {
			elemWidth := width - 1 // room for the closing bracket
			line := indent
			add := func(word string) {
				if len(line)+len(word) > elemWidth && len(line) > len(indent) {
					s.WriteString(strings.TrimRight(line, " "))
					s.WriteString("\n")
					line = indent
				}
				line += word
			}
			words := make([]string, 0, len(lead)+len(trail)+1)
			for _, i := range lead {
				words = append(words, f.format(t.data[off+i*st[d]]))
			}
			if trail != nil {
				words = append(words, "...")
			}
			for _, i := range trail {
				words = append(words, f.format(t.data[off+i*st[d]]))
			}
			for k, w := range words {
				add(w)
				if k < len(words)-1 {
					line += " "
				}
			}
			s.WriteString(line)
		} else {
			sep := strings.Repeat("\n", len(t.shape)-d-1)
			first := true
			emit := func(body string) {
				if !first {
					s.WriteString(sep)
				}
				first = false
				s.WriteString(indent)
				s.WriteString(body)
			}
			for _, i := range lead {
				emit(rec(d+1, off+i*st[d], nextIndent, nextWidth))
			}
			if trail != nil {
				emit("...")
				for _, i := range trail {
					emit(rec(d+1, off+i*st[d], nextIndent, nextWidth))
				}
			}
		}
		return "[" + s.String()[len(indent):] + "]"
	}
	return rec(0, 0, " ", printLineWidth)
}
