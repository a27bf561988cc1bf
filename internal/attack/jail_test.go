package attack

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/workers"
)

// runRaw starts j on worker id as user with a raw job.start (below
// syft, so the worker's own checks are what refuses it) and collects its
// result: the refusal, or nil if the job ran.
func runRaw(c *Cluster, e *Evidence, id, user string, j sandbox.Job) error {
	cl := c.Raw(id, user)
	if err := StartRaw(e, cl, j); err != nil {
		return err
	}
	return WaitRaw(e, cl, j.ID)
}

// jailSrc wraps a job body (after the private tensor x was loaded and
// before returning) into a program with the imports it names.
func jailSrc(imports []string, decls, body string) string {
	var b strings.Builder
	b.WriteString("package job\n\nimport (\n")
	for _, im := range append([]string{"github.com/gomplab/gomplab/mpc"}, imports...) {
		b.WriteString("\t" + strconv.Quote(im) + "\n")
	}
	b.WriteString(")\n\n" + decls + "\nfunc Steal(tag string) (any, error) {\n\tx, err := mpc.Load(tag, 0)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\t_ = x\n" + body + "\n}\n")
	return b.String()
}

// undoFixed records as derived every integer in text (decimal, or hex
// as %#v prints) read as 16-bit fixed point (a share printed at world
// size 1 is the value itself).
func undoFixed(e *Evidence, where string, text []byte) {
	for _, m := range regexp.MustCompile(`0x[0-9a-f]{5,16}`).FindAll(text, -1) {
		if u, err := strconv.ParseUint(string(m[2:]), 16, 64); err == nil {
			e.Derived(where, float64(int64(u))/65536)
		}
	}
	for _, m := range regexp.MustCompile(`-?\d{6,20}`).FindAll(text, -1) {
		if u, err := strconv.ParseUint(string(m), 10, 64); err == nil {
			e.Derived(where, float64(int64(u))/65536)
		} else if i, err := strconv.ParseInt(string(m), 10, 64); err == nil {
			e.Derived(where, float64(i)/65536)
		}
	}
}

// undoFixedIn reads every integer e holds as 16-bit fixed point.
func undoFixedIn(e *Evidence) {
	e.mu.Lock()
	var all []byte
	for _, b := range e.bytes {
		all = append(all, b...)
	}
	e.mu.Unlock()
	undoFixed(e, "integers read as fixed point", all)
}

// TestJailAttacks: interpreter tricks. Each attack ships, as a raw
// job.start of world size 1 to alice (so alice's own checks decide, not
// syft's), a program that loads alice's private tensor and takes it out
// through a route the jail must close: imports of os, net, unsafe,
// reflect, syscall, cgo; the host-only engine functions (the party's
// store, raw shares, the communicator); source injected through the file
// or entry name; goroutines; linkname. The refusal names what was
// refused. The control is the data's owner taking the same tensor out
// through the route a job has (a decrypting job of world size 1), found
// in the same replies, which shows the search would see it.
func TestJailAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	dw := newDataWorld(t)
	c := dw.c
	control := func(t *testing.T, e *Evidence) error {
		return runRaw(c, e, "alice", workers.OwnerUser, RawJob(srcReveal, "Reveal", tagA))
	}
	raw := func(j sandbox.Job) func(t *testing.T, e *Evidence) error {
		return func(t *testing.T, e *Evidence) error {
			err := runRaw(c, e, "alice", Attacker, j)
			undoFixedIn(e)
			return err
		}
	}
	steal := func(imports []string, decls, body string) sandbox.Job {
		return RawJob(jailSrc(imports, decls, body), "Steal", tagA)
	}
	// A program's file name and entry are spliced into the source the
	// jail generates; each tries to add code the checker never saw.
	inject := RawJob(srcReveal, "Reveal", tagA)
	inject.Program.File = "x\nimport \"os\"\nvar _, _ = os.ReadFile(\"store.db\")\n//"
	injectEntry := RawJob(srcReveal, "Reveal", tagA)
	injectEntry.Program.Entry = "Reveal(\"" + tagA + "\"); gomplabjob__.Return(nil, nil) }\nfunc init() { go func() {}() }\nfunc x() {"
	cases := []Case{
		{Name: "import os to read the worker's store file", Refusal: `import "os" is not allowed`,
			Attack: raw(steal([]string{"os"}, "", `	b, err := os.ReadFile("../store.db")
	return b, err`))},
		{Name: "import net to send the data out", Refusal: `import "net" is not allowed`,
			Attack: raw(steal([]string{"net"}, "", `	conn, err := net.Dial("tcp", "127.0.0.1:9")
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return nil, nil`))},
		{Name: "import unsafe to read the party's memory", Refusal: `import "unsafe" is not allowed`,
			Attack: raw(steal([]string{"unsafe"}, "", `	p := (*[2]uintptr)(unsafe.Pointer(x))
	return p[0], nil`))},
		{Name: "import reflect to reach the party's store", Refusal: `import "reflect" is not allowed`,
			Attack: raw(steal([]string{"reflect"}, "", `	return reflect.ValueOf(mpc.Default()).Elem().FieldByName("store").String(), nil`))},
		{Name: "import syscall to open files", Refusal: `import "syscall" is not allowed`,
			Attack: raw(steal([]string{"syscall"}, "", `	fd, err := syscall.Open("../store.db", 0, 0)
	return fd, err`))},
		{Name: "cgo", Refusal: `import "C" is not allowed`,
			Attack: raw(steal([]string{"C"}, "", `	return C.int(0), nil`))},
		{Name: "read the party's store directly (mpc.StoreOf)", Refusal: "StoreOf",
			Attack: raw(steal(nil, "", `	t, err := mpc.StoreOf(mpc.Default()).Load(tag)
	if err != nil {
		return nil, err
	}
	return t, nil`))},
		{Name: "replace the party's store (mpc.SetStore)", Refusal: "SetStore",
			Attack: raw(steal(nil, "", `	mpc.SetStore(mpc.Default(), nil)
	return nil, nil`))},
		{Name: "return the raw share (mpc.ShareOf)", Refusal: "ShareOf",
			Attack: raw(steal(nil, "", `	return mpc.ShareOf(x), nil`))},
		{Name: "send plaintext on the raw communicator (mpc.CommOf)", Refusal: "CommOf",
			Attack: raw(steal(nil, "", `	return nil, mpc.CommOf(mpc.Default()).Send(0, nil)`))},
		{Name: "wrap chosen words as a share (mpc.FromShares)", Refusal: "FromShares",
			Attack: raw(steal(nil, "", `	y := mpc.FromShares(mpc.Default(), mpc.ShareOf(x), 1, 4)
	return y.GetPlainText()`))},
		{Name: "make a party of its own (mpc.NewParty)", Refusal: "NewParty",
			Attack: raw(steal(nil, "", `	p, err := mpc.NewParty(nil)
	return p, err`))},
		{Name: "unrestrict the party (mpc.Restricted, mpc.ReturnAllowed)", Refusal: "Restricted",
			Attack: raw(steal(nil, "", `	return mpc.Restricted(mpc.Default()), mpc.ReturnAllowed(mpc.Default())`))},
		{Name: "a go statement revealing on another goroutine", Refusal: "go statement",
			Attack: raw(steal(nil, "", `	ch := make(chan any)
	go func() { v, _ := x.GetPlainText(); ch <- v }()
	return <-ch, nil`))},
		{Name: "linkname to a host-only function", Refusal: "missing function body",
			Attack: raw(steal(nil, "//go:linkname storeOf github.com/gomplab/gomplab/mpc.StoreOf\nfunc storeOf(p *mpc.Party) mpc.Store\n", `	return storeOf(mpc.Default()).Load(tag)`))},
		{Name: "convert a CrypTensor to a look-alike struct to read its share", Refusal: "cannot convert",
			Attack: raw(steal(nil, "type ct struct {\n\tp     *mpc.Party\n\tshape []int\n\tshare []uint64\n}\n", `	y := ct(*x)
	out := make([]float64, len(y.share))
	for i, u := range y.share {
		out[i] = float64(int64(u)) / 65536
	}
	return out, nil`))},
		{Name: "reveal on a timer goroutine (time.AfterFunc)", Refusal: "AfterFunc",
			Attack: raw(steal([]string{"time"}, "", `	ch := make(chan any, 1)
	time.AfterFunc(0, func() { v, _ := x.GetPlainText(); ch <- v })
	return <-ch, nil`))},
		{Name: "import the communicator package", Refusal: `import "github.com/gomplab/gomplab/mpc/comm" is not allowed`,
			Attack: raw(steal([]string{"github.com/gomplab/gomplab/mpc/comm"}, "", `	var c comm.Comm
	return c, nil`))},
		{Name: "import the worker's store package", Refusal: `import "github.com/gomplab/gomplab/workers/store" is not allowed`,
			Attack: raw(steal([]string{"github.com/gomplab/gomplab/workers/store"}, "", `	return store.NewID(), nil`))},
		// A raw job.start without a request whose source loads private
		// data by a constant tag is refused before the party starts (the
		// jail's own refusal of a load outside the job is sandbox's test).
		{Name: "decrypt in a package-level initializer, before the party is set up", Refusal: "carries no request",
			Attack: raw(RawJob(`package job

import "github.com/gomplab/gomplab/mpc"

var stolen, _ = func() (any, error) {
	x, err := mpc.Load("`+tagA+`", 0)
	if err != nil {
		return nil, err
	}
	return x.GetPlainText()
}()

func Steal(tag string) (any, error) { return stolen, nil }
`, "Steal", tagA))},
		{Name: "decrypt in func init, before the party is set up", Refusal: "carries no request",
			Attack: raw(RawJob(`package job

import "github.com/gomplab/gomplab/mpc"

var stolen any

func init() {
	x, err := mpc.Load("`+tagA+`", 0)
	if err == nil {
		stolen, _ = x.GetPlainText()
	}
}

func Steal(tag string) (any, error) { return stolen, nil }
`, "Steal", tagA))},
		{Name: "source injected through the program's file name", Refusal: "program file name",
			Attack: raw(inject)},
		{Name: "source injected through the entry name", Refusal: "is not a Go identifier",
			Attack: raw(injectEntry)},
	}
	for i := range cases {
		cases[i].Control = control
	}
	c.Run(t, dw.canary, cases)
}

// TestJailAttacksThroughSyft: the same kind of trick through syft, as a
// notebook would send it (syft refuses before any worker is contacted,
// or the parties refuse to compile).
func TestJailAttacksThroughSyft(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker daemons")
	}
	dw := newDataWorld(t)
	c := dw.c
	cases := []Case{
		{Name: "rank 1 rebuilds the tensor from both raw shares sent over the communicator", Refusal: "CommOf",
			Attack: func(t *testing.T, e *Evidence) error {
				return RunJob(e, dw.attackers(), jailSrc(nil, "", `	c := mpc.CommOf(mpc.Default())
	if mpc.Default().Rank() == 0 {
		return nil, c.Send(1, nil)
	}
	return c.Recv(0)`), "Steal", tagA)
			},
			Control: func(t *testing.T, e *Evidence) error { return RunJob(e, dw.owners(), srcReveal, "Reveal", tagA) },
		},
	}
	c.Run(t, dw.canary, cases)
}
