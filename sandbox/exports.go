package sandbox

import (
	"path"
	"reflect"
	"sort"
	"sync"

	"github.com/gomplab/gomplab/sandbox/internal/pkgsyms"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

// deniedSymbols are exported identifiers of whitelisted gomplab packages
// that reach outside the computation: files, processes, or machinery that
// only the host may drive. They are left out of the jail's tables (a job
// using one fails to compile with "undefined"). TestDeniedSymbols checks
// that every exported function declared in a file that imports os, net,
// os/exec, syscall or unsafe is listed here or vetted as harmless.
var deniedSymbols = map[string][]string{
	TensorPath: {"LoadCSV", "SaveCSV", "LoadNPY", "SaveNPY"},
	MPCPath: {
		// Launchers start goroutines and processes of their own.
		"RunLocal", "RunProcesses", "RegisterParty", "RunChildIfRequested", "ProcessOptions",
		// A job gets its party from the worker; it cannot make another.
		"NewParty", "WithProvider", "WithStore", "WithConfig", "TrustedFirstParty",
		// Host-only access to what job code must never hold: raw shares,
		// the communicator (wire bytes), the store (plaintext), and
		// wrapping chosen words as a share.
		"ShareOf", "BinShareOf", "WideShareOf", "FromShares", "CombineShares", "SplitShares", "CommOf", "StoreOf", "SetStore",
		// Restriction and quotas are the worker's: the jail neither reads
		// nor changes them, nor broadcasts announcements of its own.
		"Announce", "Restricted", "Restrict", "ReturnAllowed", "HasRevealPolicy",
		"WithRevealPolicy", "WithSaveQuota", "TrustedThirdParty", "DealerFree", "ProviderOption", "RecordRequests",
	},
	NNPath: {},
}

// stdlibRemoved are standard-library identifiers left out of allowed
// packages. time.AfterFunc would run job code on a goroutine of its own.
var stdlibRemoved = map[string][]string{
	"time": {"AfterFunc"},
}

// key is yaegi's symbol table key for an import path.
func key(importPath string) string { return importPath + "/" + path.Base(importPath) }

var (
	baseOnce sync.Once
	base     interp.Exports
)

// baseExports returns the jail's shared, read-only tables: the allowed
// standard packages and gomplab packages, less the removed and denied
// identifiers. Interpreters copy them on Use, and per-run bindings
// (the party, the job runtime) are added on top by a second Use.
func baseExports() interp.Exports {
	baseOnce.Do(func() {
		base = interp.Exports{}
		for _, p := range allowedStdlib {
			src := stdlib.Symbols[key(p)]
			if src == nil {
				// Not in this yaegi version. (Generic-only packages such
				// as slices have an empty table that marks them; their
				// functions are compiled from source, see bindings.)
				continue
			}
			base[key(p)] = without(src, stdlibRemoved[p])
		}
		for _, p := range allowedGomplab {
			src := gomplabTable(p)
			if src == nil {
				continue // not generated yet: importing it fails to compile
			}
			base[key(p)] = without(src, deniedSymbols[p])
		}
	})
	return base
}

// gomplabTable returns the generated table for a gomplab package.
func gomplabTable(importPath string) map[string]reflect.Value {
	return pkgsyms.Symbols[key(importPath)]
}

// GomplabPackages lists the import paths of the gomplab packages whose
// generated symbol tables GomplabSymbols returns (the ones a job may
// import), in generation order.
func GomplabPackages() []string { return append([]string(nil), pkgsyms.Packages...) }

// GomplabSymbols returns the generated yaegi symbol tables of the gomplab
// packages a job may import (tensor, mpc, mpc/nn), keyed
// "<import path>/<package name>", before the jail removes its denied
// identifiers. The notebook kernel offers them whole, so cells and jobs
// compile against the very same tables, generated once. The inner maps
// are shared, not copied: callers must not modify them (yaegi's Use
// copies them).
func GomplabSymbols() map[string]map[string]reflect.Value {
	out := make(map[string]map[string]reflect.Value, len(pkgsyms.Symbols))
	for k, v := range pkgsyms.Symbols {
		out[k] = v
	}
	return out
}

// without copies t less the names in drop.
func without(t map[string]reflect.Value, drop []string) map[string]reflect.Value {
	out := make(map[string]reflect.Value, len(t))
	for k, v := range t {
		out[k] = v
	}
	for _, d := range drop {
		delete(out, d)
		delete(out, "_"+d)
	}
	return out
}

// JailSymbols lists, for each importable package, the identifiers a job
// can use (for documentation and the kernel's completion).
func JailSymbols() map[string][]string {
	out := map[string][]string{}
	for k, t := range baseExports() {
		var names []string
		for n := range t {
			if len(n) > 0 && n[0] != '_' {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		out[path.Dir(k)] = names
	}
	return out
}
