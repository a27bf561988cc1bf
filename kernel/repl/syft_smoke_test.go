package repl

import (
	"context"
	"testing"
)

func TestGomplabPackagesInCells(t *testing.T) {
	s, out, _ := newTestSession(t)
	cells := []struct{ code, want string }{
		{"import (\n\t\"github.com/gomplab/gomplab/syft\"\n\t\"github.com/gomplab/gomplab/tensor\"\n)\nbob := syft.NewVirtualWorker(\"bob\")\nalice := syft.NewVirtualWorker(\"alice\")\nbob.ID()", "bob"},
		{"x, _ := syft.Send(tensor.FromSlice([]float64{1, 2, 3}), bob, syft.WithTags(\"#data\"))\ny, _ := x.Mul(2)\nv, _ := y.Get()\nv.Data()", "[2 4 6]"},
		{"found, _ := syft.Search([]syft.Worker{bob, alice}, \"#data\")\nlen(found)", "1"},
		{"tensor.Ones(2, 2).SumAll()", "4"},
	}
	for _, c := range cells {
		res, cerr := s.Execute(context.Background(), c.code)
		if cerr != nil {
			t.Fatalf("%q: %v %q", c.code, cerr, cerr.Traceback)
		}
		if got := resultText(t, res); got != c.want {
			t.Errorf("%q = %q, want %q (stdout %q)", c.code, got, c.want, out.String())
		}
	}
}
