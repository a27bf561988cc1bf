// Command gendocs writes the documentation of the given packages as JSON
// (import path -> identifier -> text) for the kernel to embed, so inspect
// requests show gomplab's docs on machines without its source. It runs from
// go generate in kernel/repl.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/gomplab/gomplab/kernel/internal/godoc"
)

func main() {
	out := flag.String("o", "docs_gen.json", "output file")
	flag.Parse()
	all := map[string]godoc.Entries{}
	for _, path := range flag.Args() {
		dir, err := exec.Command("go", "list", "-f", "{{.Dir}}", path).Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "gendocs: locate %s: %v\n", path, err)
			os.Exit(1)
		}
		ents, err := godoc.Dir(strings.TrimSpace(string(dir)), path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gendocs: read %s: %v\n", path, err)
			os.Exit(1)
		}
		all[path] = ents
	}
	b, err := json.MarshalIndent(all, "", " ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
