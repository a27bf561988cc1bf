// Package pkgsyms holds the yaegi symbol tables of the gomplab packages a
// job may import (tensor, mpc, mpc/nn), generated with `yaegi extract`.
// They are the only generated copy: the jail filters them (sandbox's
// denied symbols) and the notebook kernel uses them as they are
// (sandbox.GomplabSymbols, read by kernel/symbols, which adds the packages
// only notebooks import). So cells and jobs compile against the same
// symbols. (They live here, not in kernel/symbols, because that package
// also covers syft, which depends on the worker, which runs the jail: the
// jail importing it would be a cycle.)
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
