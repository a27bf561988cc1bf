// Package pkgsyms holds the yaegi symbol tables of the gomplab packages a
// job may import, generated with `yaegi extract` exactly as the notebook
// kernel's tables in sandbox/symbols are (so cells and jobs compile
// against the same symbols). The jail keeps its own copy because the
// shared package also covers syft, which depends on the worker, which runs
// the jail: importing it here would be a cycle.
package pkgsyms

import "reflect"

//go:generate yaegi extract -name pkgsyms github.com/gomplab/gomplab/tensor github.com/gomplab/gomplab/mpc github.com/gomplab/gomplab/mpc/nn

// Symbols maps "<import path>/<package name>" to exported identifiers.
var Symbols = map[string]map[string]reflect.Value{}

// Packages lists the import paths covered by Symbols, in go:generate order.
var Packages = []string{
	"github.com/gomplab/gomplab/tensor",
	"github.com/gomplab/gomplab/mpc",
	"github.com/gomplab/gomplab/mpc/nn",
}
