package repl

import (
	"reflect"
	"time"

	"github.com/gomplab/gomplab/kernel/symbols"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"
)

//go:generate yaegi extract -name repl github.com/gomplab/gomplab/kernel/display gonum.org/v1/plot gonum.org/v1/plot/plotter gonum.org/v1/plot/plotutil gonum.org/v1/plot/vg gonum.org/v1/plot/vg/draw

// Symbols holds the generated tables of the packages only the notebook
// kernel offers: display and gonum plot. (gomplab's own packages are in
// kernel/symbols, shared with the worker sandbox.)
var Symbols = map[string]map[string]reflect.Value{}

// KernelPackages lists the import paths covered by Symbols.
var KernelPackages = []string{
	"github.com/gomplab/gomplab/kernel/display",
	"gonum.org/v1/plot",
	"gonum.org/v1/plot/plotter",
	"gonum.org/v1/plot/plotutil",
	"gonum.org/v1/plot/vg",
	"gonum.org/v1/plot/vg/draw",
}

// DisplayAlias is the short import path of the display package.
const DisplayAlias = "gomplab/display"

// blockedStdlib are standard packages left out of the kernel: each would
// let a cell take over the kernel process rather than compute.
var blockedStdlib = map[string]string{
	// signal.Notify(os.Interrupt) would steal the kernel's interrupt.
	"os/signal/signal": "steals interrupts",
	// A package holding every symbol table, loadable into a new interpreter.
	"github.com/traefik/yaegi/stdlib/stdlib": "exposes the whole symbol map",
	"log/syslog/syslog":                      "host logging",
}

// DefaultSymbols returns the kernel's symbol tables: the standard library
// less blockedStdlib, gomplab's packages, display (also under
// "gomplab/display") and gonum plot. sleep, if not nil, replaces
// time.Sleep so that a sleeping cell can be interrupted.
func DefaultSymbols(sleep func(time.Duration)) interp.Exports {
	ex := interp.Exports{}
	for k, v := range stdlib.Symbols {
		if _, bad := blockedStdlib[k]; bad {
			continue
		}
		ex[k] = v
	}
	if sleep != nil {
		t := map[string]reflect.Value{}
		for k, v := range ex["time/time"] {
			t[k] = v
		}
		t["Sleep"] = reflect.ValueOf(sleep)
		ex["time/time"] = t
	}
	for k, v := range symbols.Symbols {
		ex[k] = v
	}
	for k, v := range Symbols {
		ex[k] = v
	}
	ex[DisplayAlias+"/display"] = Symbols["github.com/gomplab/gomplab/kernel/display/display"]
	return ex
}

// sleep is time.Sleep as cells see it: an interrupt ends it early, since
// yaegi cannot stop a goroutine inside a host call. It then returns only
// once the interpreter has stopped, so the statements after the sleep do
// not run.
func (s *Session) sleep(d time.Duration) {
	sig := s.interruption()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-sig.fired:
		waitInterrupted(sig)
	}
}
