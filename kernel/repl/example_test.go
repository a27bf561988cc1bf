package repl_test

import (
	"fmt"

	"github.com/gomplab/gomplab/kernel/repl"
)

func ExampleSplitCell() {
	chunks, _ := repl.SplitCell("import \"fmt\"\nx := 2\nfunc double(n int) int { return 2 * n }\nfmt.Println(double(x))")
	for _, c := range chunks {
		fmt.Printf("%s at line %d: %s\n", c.Kind, c.Line, c.Src)
	}
	// Output:
	// import at line 1: import "fmt"
	// stmt at line 2: x := 2
	// decl at line 3: func double(n int) int { return 2 * n }
	// stmt at line 4: fmt.Println(double(x))
}

func ExampleIsComplete() {
	for _, code := range []string{"x := 1", "func f() {", "x := )"} {
		fmt.Println(repl.IsComplete(code).Status)
	}
	// Output:
	// complete
	// incomplete
	// invalid
}
