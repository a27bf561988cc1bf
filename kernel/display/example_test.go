package display_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/gomplab/gomplab/kernel/display"
)

// A raw MIME bundle, for a front end that renders a custom type, with a
// text form for the others.
func ExampleMIME() {
	d := display.MIME(display.MIMEMap{"application/vnd.example+json": map[string]any{"answer": 42}}, nil)
	var types []string
	for t := range d.Data {
		types = append(types, t)
	}
	sort.Strings(types)
	fmt.Println(types)
	// Output: [application/vnd.example+json text/plain]
}

// A file shown by its type: here an SVG image.
func ExampleFile() {
	dir, err := os.MkdirTemp("", "display")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "dot.svg")
	if err := os.WriteFile(path, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>`), 0o600); err != nil {
		panic(err)
	}
	d, err := display.File(path)
	if err != nil {
		panic(err)
	}
	_, ok := d.Data[display.MIMESVG]
	fmt.Println(ok)
	// Output: true
}
