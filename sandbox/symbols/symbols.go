// Package symbols holds yaegi symbol tables for gomplab's own packages,
// generated with `yaegi extract` (run `go generate ./sandbox/symbols`
// after changing an exported API; TestSymbolsUpToDate fails until then).
//
// The Jupyter kernel loads all of them; the worker sandbox copies the keys
// it whitelists. Keys follow yaegi's convention "<import path>/<package
// name>", for example "github.com/gomplab/gomplab/tensor/tensor".
package symbols

import "reflect"

//go:generate yaegi extract -name symbols github.com/gomplab/gomplab/tensor github.com/gomplab/gomplab/mpc github.com/gomplab/gomplab/mpc/nn github.com/gomplab/gomplab/syft

// Symbols maps "<import path>/<package name>" to the package's exported
// identifiers, in the form interp.Interpreter.Use expects.
var Symbols = map[string]map[string]reflect.Value{}

// Packages lists the import paths covered by Symbols, in go:generate order.
var Packages = []string{
	"github.com/gomplab/gomplab/tensor",
	"github.com/gomplab/gomplab/mpc",
	"github.com/gomplab/gomplab/mpc/nn",
	"github.com/gomplab/gomplab/syft",
}
