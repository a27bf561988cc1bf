// Package symbols holds the yaegi symbol tables of gomplab's packages that
// the notebook kernel offers: tensor, mpc and mpc/nn, which are the
// jail's own tables (sandbox.GomplabSymbols: cells and jobs compile
// against the very same symbols, generated once), and the packages only
// notebooks import, generated here: syft (workers, pointers, jobs),
// mpc/nn/onnx (importing models), mpc/nn/dataset (synthetic and real data
// sets) and mpc/nn/zoo (the networks of CrypTen's examples).
//
// Run `go generate ./kernel/symbols ./sandbox/internal/pkgsyms` after
// changing an exported API; each package's TestSymbolsUpToDate fails until
// then. Keys follow yaegi's convention "<import path>/<package name>", for
// example "github.com/gomplab/gomplab/tensor/tensor".
package symbols

import (
	"reflect"

	"github.com/gomplab/gomplab/sandbox"
)

//go:generate yaegi extract -name symbols github.com/gomplab/gomplab/syft github.com/gomplab/gomplab/mpc/nn/onnx github.com/gomplab/gomplab/mpc/nn/dataset github.com/gomplab/gomplab/mpc/nn/zoo

// Symbols maps "<import path>/<package name>" to the package's exported
// identifiers, in the form interp.Interpreter.Use expects.
var Symbols = map[string]map[string]reflect.Value{}

// Packages lists the import paths covered by Symbols: the jail's, then
// the notebook-only ones.
var Packages = append(sandbox.GomplabPackages(), Generated...)

// Generated lists the import paths whose tables this package generates
// (in go:generate order); the others are the jail's.
var Generated = []string{
	"github.com/gomplab/gomplab/syft",
	"github.com/gomplab/gomplab/mpc/nn/onnx",
	"github.com/gomplab/gomplab/mpc/nn/dataset",
	"github.com/gomplab/gomplab/mpc/nn/zoo",
}

func init() {
	// The jail's tables are complete once sandbox is initialized, which Go
	// does before this package's init functions run.
	for k, v := range sandbox.GomplabSymbols() {
		Symbols[k] = v
	}
}
