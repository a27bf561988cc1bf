package tensor

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestStringMatchesNumPy(t *testing.T) {
	b, err := os.ReadFile("testdata/print_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []struct {
			Name   string   `json:"name"`
			Shape  []int    `json:"shape"`
			Values []string `json:"values"`
			Str    string   `json:"str"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range file.Cases {
		v := make([]float64, len(c.Values))
		for i, s := range c.Values {
			if v[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatal(err)
			}
		}
		got := MustNew(v, c.Shape...).String()
		if got != c.Str {
			t.Errorf("%s: got\n%s\nNumPy\n%s", c.Name, got, c.Str)
		}
	}
}

func TestHTML(t *testing.T) {
	cases := []struct {
		name     string
		x        *Tensor
		contains []string
		cells    int
	}{
		{"2-D", ar(2, 3).DivScalar(2), []string{"<caption>tensor of shape (2, 3)</caption>", "<td>0.5</td>", "<th>2</th>"}, 6},
		{"1-D", ar(3), []string{"shape (3,)", "<td>2.</td>"}, 3},
		{"0-d", Scalar(1.5), []string{"shape ()", "<td>1.5</td>"}, 1},
		{"empty", Zeros(0, 4), []string{"shape (0, 4)"}, 0},
		{"3-D", ar(2, 2, 2), []string{"shape (2, 2, 2)", "<caption>[0, :, :]</caption>", "<caption>[1, :, :]</caption>"}, 8},
		{"truncated", ar(30, 40), []string{"…", "⋮", "⋱", "<th>39</th>", "<td>1.199e+03</td>"}, 10 * 10},
		{"many slices", ar(9, 2, 2), []string{"[0, :, :]", "[8, :, :]", "<p>[…]</p>"}, 4 * 4},
		{"4-D", ar(2, 7, 1, 1), []string{"[1, 6, :, :]", "<p>[1, …]</p>"}, 2 * 4},
	}
	for _, c := range cases {
		h := c.x.HTML()
		for _, want := range c.contains {
			if !strings.Contains(h, want) {
				t.Errorf("%s: %q missing from %s", c.name, want, h)
			}
		}
		if n := strings.Count(h, "<td>") - strings.Count(h, "<td>…") - strings.Count(h, "<td>⋮") - strings.Count(h, "<td>⋱"); n != c.cells {
			t.Errorf("%s: %d value cells, want %d", c.name, n, c.cells)
		}
		if strings.Count(h, "<table") != strings.Count(h, "</table>") || !strings.HasSuffix(h, "</div>") {
			t.Errorf("%s: unbalanced markup %s", c.name, h)
		}
	}
}
