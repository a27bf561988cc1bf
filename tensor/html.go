package tensor

import (
	"fmt"
	"strings"
)

// htmlEdge is how many leading and trailing rows, columns or slices the
// HTML view keeps of a dim longer than 2*htmlEdge+1.
const htmlEdge = 5

// pyShape writes shape as a Python tuple, as NumPy shows shapes: (), (3,)
// or (2, 3).
func pyShape(shape []int) string {
	switch len(shape) {
	case 0:
		return "()"
	case 1:
		return fmt.Sprintf("(%d,)", shape[0])
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// htmlIndices returns the indices the HTML view shows along a dim of
// length n, with -1 marking the elided middle.
func htmlIndices(n, edge int) []int {
	var idx []int
	if n <= 2*edge+1 {
		for i := 0; i < n; i++ {
			idx = append(idx, i)
		}
		return idx
	}
	for i := 0; i < edge; i++ {
		idx = append(idx, i)
	}
	idx = append(idx, -1)
	for i := n - edge; i < n; i++ {
		idx = append(idx, i)
	}
	return idx
}

// HTML renders t for a notebook: a table captioned with the shape, whose
// columns are the last dim and rows the one before it; a 1-D tensor is one
// row, and a tensor of more dims is a sequence of such tables headed by
// the index of the slice, like t[0, 1, :, :]. Long dims keep their first
// and last 5 entries around an ellipsis. Values are formatted as in String.
func (t *Tensor) HTML() string {
	var b strings.Builder
	b.WriteString(`<div class="gomplab-tensor">`)
	caption := fmt.Sprintf("tensor of shape %s", pyShape(t.shape))
	nd := len(t.shape)
	if len(t.data) == 0 {
		fmt.Fprintf(&b, "<table><caption>%s</caption></table></div>", caption)
		return b.String()
	}
	if nd <= 2 {
		f := newFloatFormat(t.htmlValues())
		t.htmlTable(&b, caption, 0, f)
		b.WriteString("</div>")
		return b.String()
	}
	f := newFloatFormat(t.htmlValues())
	fmt.Fprintf(&b, "<p>%s</p>", caption)
	lead := t.shape[:nd-2]
	per := t.shape[nd-2] * t.shape[nd-1]
	var rec func(d, off int, prefix []string)
	rec = func(d, off int, prefix []string) {
		if d == len(lead) {
			heading := "[" + strings.Join(append(prefix, ":", ":"), ", ") + "]"
			t.htmlTable(&b, heading, off, f)
			return
		}
		stride := Numel(lead[d+1:])
		for _, i := range htmlIndices(lead[d], 2) {
			if i < 0 {
				fmt.Fprintf(&b, "<p>[%s…]</p>", strings.Join(append(prefix, ""), ", "))
				continue
			}
			rec(d+1, off+i*stride*per, append(append([]string{}, prefix...), fmt.Sprint(i)))
		}
	}
	rec(0, 0, nil)
	b.WriteString("</div>")
	return b.String()
}

// htmlValues collects the elements the HTML view shows, to choose the
// number format from them.
func (t *Tensor) htmlValues() []float64 {
	return t.selectValues(func(d int) []int {
		edge := htmlEdge
		if d < len(t.shape)-2 {
			edge = 2
		}
		return htmlIndices(t.shape[d], edge)
	})
}

// htmlTable writes the (at most 2-D) trailing block of t starting at off.
func (t *Tensor) htmlTable(b *strings.Builder, caption string, off int, f floatFormat) {
	rows, cols := 1, 1
	nd := len(t.shape)
	if nd >= 1 {
		cols = t.shape[nd-1]
	}
	if nd >= 2 {
		rows = t.shape[nd-2]
	}
	ci := htmlIndices(cols, htmlEdge)
	b.WriteString(`<table style="font-family:monospace;text-align:right">`)
	fmt.Fprintf(b, "<caption>%s</caption>", caption)
	if nd >= 1 {
		b.WriteString("<tr><th></th>")
		for _, j := range ci {
			if j < 0 {
				b.WriteString("<th>…</th>")
			} else {
				fmt.Fprintf(b, "<th>%d</th>", j)
			}
		}
		b.WriteString("</tr>")
	}
	for _, i := range htmlIndices(rows, htmlEdge) {
		b.WriteString("<tr>")
		switch {
		case i < 0:
			b.WriteString("<th>⋮</th>")
		case nd >= 2:
			fmt.Fprintf(b, "<th>%d</th>", i)
		case nd == 1:
			b.WriteString("<th></th>")
		}
		for _, j := range ci {
			switch {
			case i < 0 && j < 0:
				b.WriteString("<td>⋱</td>")
			case i < 0:
				b.WriteString("<td>⋮</td>")
			case j < 0:
				b.WriteString("<td>…</td>")
			case nd == 0:
				fmt.Fprintf(b, "<td>%s</td>", pyRepr(t.data[off]))
			default:
				fmt.Fprintf(b, "<td>%s</td>", strings.TrimSpace(f.format(t.data[off+i*cols+j])))
			}
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>")
}
