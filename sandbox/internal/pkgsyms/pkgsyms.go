// Package pkgsyms holds yaegi symbol tables for gomplab packages that the
// shared tables in sandbox/symbols do not cover yet. The jail prefers the
// shared table for a package when it has one, so that notebook code and
// jobs compile against the same symbols; these are the fallback.
package pkgsyms

import "reflect"

//go:generate yaegi extract -name pkgsyms github.com/gomplab/gomplab/mpc

// Symbols maps "<import path>/<package name>" to exported identifiers.
var Symbols = map[string]map[string]reflect.Value{}
