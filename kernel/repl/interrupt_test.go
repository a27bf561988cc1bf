package repl

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

// raceSkip explains why interrupt tests do not run under -race: yaegi
// v0.16.1 returns from an interrupted evaluation without joining the
// goroutine that ran it, which takes one more step before it notices. The
// session waits for that goroutine to leave (settle, by its stack), which
// the race detector cannot see as synchronisation.
const raceSkip = "interrupts race inside yaegi by design; run without -race"

// interruptDuring runs code in s, interrupts it once it has run for a
// moment, and returns the cell's error.
func interruptDuring(t *testing.T, s *Session, code string) *CellError {
	t.Helper()
	go func() {
		time.Sleep(150 * time.Millisecond)
		s.Interrupt()
	}()
	_, cerr := s.Execute(context.Background(), code)
	return cerr
}

// value runs expr in s and returns its text.
func value(t *testing.T, s *Session, expr string) string {
	t.Helper()
	res, cerr := s.Execute(context.Background(), expr)
	if cerr != nil {
		t.Fatalf("%s: %v %q", expr, cerr, cerr.Traceback)
	}
	return resultText(t, res)
}

// TestInterruptStops interrupts every kind of running code a cell can be
// in: loops at top level, in function literals (called on the spot or in
// goroutines) and in methods, sleeps, channel waits. Each stops, nothing
// after the interrupted statement runs, goroutines stop changing state,
// and the next cell runs.
func TestInterruptStops(t *testing.T) {
	if raceEnabled {
		t.Skip(raceSkip)
	}
	cases := []struct {
		name, code string
	}{
		{"top-level loop", "for { n++ }\nafter = true"},
		{"function literal", "func(){ for { n++ } }()\nafter = true"},
		{"function literal value", "f := func(){ for { n++ } }\nf()\nafter = true"},
		{"method", "type spinner struct{}\nfunc (spinner) spin() { for { n++ } }\nspinner{}.spin()\nafter = true"},
		{"goroutine", "go func(){ for { n++ } }()\nselect {}\nafter = true"},
		{"goroutines of a loop", "for i := 0; i < 3; i++ { go func(){ for { n++ } }() }\nfor {}\nafter = true"},
		{"sleep", "time.Sleep(time.Hour)\nafter = true"},
		{"sleep in a function literal", "func(){ time.Sleep(time.Hour) }()\nafter = true"},
		{"sleep in a function", "func nap() { time.Sleep(time.Hour); after = true }\nnap()\nafter = true"},
		{"sleeping goroutine", "go func(){ time.Sleep(time.Hour); after = true }()\nfor {}"},
		{"channel receive", "c := make(chan int)\n<-c\nafter = true"},
		{"channel send", "d := make(chan int)\nd <- 1\nafter = true"},
		{"select", "select {}\nafter = true"},
		{"timer channel", "<-time.After(time.Hour)\nafter = true"},
		{"%%timeit", "%%timeit -n 1 -r 1\nfor { n++ }\nafter = true"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _, _ := newTestSession(t)
			if _, cerr := s.Execute(context.Background(), "import \"time\"\nvar n int\nvar after bool"); cerr != nil {
				t.Fatal(cerr)
			}
			cerr := interruptDuring(t, s, c.code)
			if cerr == nil || cerr.Ename != "Interrupted" || cerr.Stuck {
				t.Fatalf("got %v, want Interrupted", cerr)
			}
			n1 := value(t, s, "n")
			time.Sleep(100 * time.Millisecond)
			if n2 := value(t, s, "n"); n2 != n1 {
				t.Errorf("a loop kept running after the interrupt: n went from %s to %s", n1, n2)
			}
			if got := value(t, s, "after"); got != "false" {
				t.Errorf("code after the interrupted statement ran")
			}
			// The next cells run, and the interrupted one does not run again
			// with them (yaegi keeps a function literal called on the spot
			// as the program's main unless the kernel prevents it).
			if got := value(t, s, "n = 0\n40 + 2"); got != "42" {
				t.Errorf("next cell gave %q", got)
			}
			if got := value(t, s, "n"); got != "0" {
				t.Errorf("the interrupted cell ran again with a later one: n = %s", got)
			}
		})
	}
}

// TestInterruptStuck: code blocked in a compiled call that does not return
// cannot be stopped; the cell reports it (Stuck, naming the call) within
// the grace period instead of hanging, so the kernel can replace the
// interpreter.
func TestInterruptStuck(t *testing.T) {
	if raceEnabled {
		t.Skip(raceSkip)
	}
	release := make(chan struct{})
	defer close(release) // so the blocked goroutine ends with the test
	syms := DefaultSymbols(nil)
	syms["gomplabtest/block/block"] = map[string]reflect.Value{
		"Forever": reflect.ValueOf(func() { <-release }),
	}
	s, err := New(Options{Symbols: syms})
	if err != nil {
		t.Fatal(err)
	}
	cerr := interruptDuring(t, s, "import \"gomplabtest/block\"\nblock.Forever()")
	if cerr == nil || cerr.Ename != "Interrupted" || !cerr.Stuck || !strings.Contains(cerr.Evalue, "repl.TestInterruptStuck.func") {
		t.Fatalf("got %+v, want a stuck interrupt naming the blocking function", cerr)
	}
}

// TestInterruptIdle: an interrupt while no cell runs stops the goroutines
// earlier cells left running, and goroutines parked on channels do not
// make a later interrupt look stuck.
func TestInterruptIdle(t *testing.T) {
	if raceEnabled {
		t.Skip(raceSkip)
	}
	s, _, _ := newTestSession(t)
	value(t, s, "var k int\nch := make(chan int)\ngo func() { <-ch }()\ngo func() { for { k++ } }()\n1")
	for value(t, s, "k") == "0" {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Interrupt() {
		t.Fatal("Interrupt reported a running cell")
	}
	if err := s.StopBackground(); err != nil {
		t.Fatal(err)
	}
	k1 := value(t, s, "k")
	time.Sleep(100 * time.Millisecond)
	if k2 := value(t, s, "k"); k1 != k2 {
		t.Errorf("background loop not stopped: k %s then %s", k1, k2)
	}
	cerr := interruptDuring(t, s, "for {}")
	if cerr == nil || cerr.Ename != "Interrupted" || cerr.Stuck {
		t.Fatalf("got %+v, want Interrupted, not stuck", cerr)
	}
}

// TestMainIsNotKept: a function main runs once (a "package main" cell)
// or is refused (other cells): yaegi would run it after every later
// evaluation.
func TestMainIsNotKept(t *testing.T) {
	s, out, _ := newTestSession(t)
	if _, cerr := s.Execute(context.Background(), "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"ran\") }"); cerr != nil {
		t.Fatal(cerr)
	}
	value(t, s, "1")
	value(t, s, "2")
	if out.String() != "ran\n" {
		t.Errorf("main ran %q, want once", out.String())
	}
	_, cerr := s.Execute(context.Background(), "func main() {}")
	if cerr == nil || !strings.Contains(cerr.Evalue, "cannot declare func main") {
		t.Errorf("func main in a cell: %v", cerr)
	}
}
