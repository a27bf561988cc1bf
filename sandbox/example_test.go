package sandbox_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/sandbox"
)

func ExampleRun() {
	src := `package main

import "strings"

func shout(s string, times int) string { return strings.Repeat(strings.ToUpper(s), times) }
`
	v, err := sandbox.Run(context.Background(), sandbox.Program{Source: src, Entry: "shout"}, []any{"ab", int64(3)}, sandbox.Env{})
	fmt.Println(v, err)
	// Output: ABABAB <nil>
}

func ExampleCheck() {
	src := "package main\n\nimport \"os/exec\"\n\nfunc f() { exec.Command(\"sh\").Run() }\n"
	err := sandbox.Check(sandbox.Program{Source: src, Entry: "f"})
	var e *sandbox.Error
	if errors.As(err, &e) {
		fmt.Println(e.Kind, e.Line)
	}
	// Output: forbidden 3
}

func ExampleError() {
	src := "package main\n\nfunc f() int {\n\tvar xs []int\n\treturn xs[2]\n}\n"
	_, err := sandbox.Run(context.Background(), sandbox.Program{Source: src, Entry: "f"}, nil, sandbox.Env{})
	fmt.Println(err)
	// Output: job.go:5: panic: index out of range
}
