package repl

import (
	"context"
	"testing"
)

// BenchmarkExecuteExpression is the interpreter's share of a notebook
// round trip for a trivial cell.
func BenchmarkExecuteExpression(b *testing.B) {
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, cerr := s.Execute(context.Background(), "1+1"); cerr != nil {
			b.Fatal(cerr)
		}
	}
}

// BenchmarkNewSession is the cost of a fresh interpreter with all symbol
// tables (paid at kernel start and after a crash).
func BenchmarkNewSession(b *testing.B) {
	for b.Loop() {
		if _, err := New(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplitCell(b *testing.B) {
	code := "import \"fmt\"\ntype P struct{ X, Y float64 }\np := P{1, 2}\nfunc (q P) Sum() float64 { return q.X + q.Y }\nfmt.Println(p.Sum())\np.Sum() * 2"
	for b.Loop() {
		SplitCell(code)
	}
}
