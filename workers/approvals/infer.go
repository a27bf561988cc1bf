package approvals

import (
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strconv"

	"github.com/gomplab/gomplab/sandbox/plan"
	"github.com/gomplab/gomplab/serde"
)

// InferLoads returns the loads a job's source declares: every call of
// mpc.Load(tag, rank), mpc.LoadShare(tag) (at every rank), nn.LoadModel(tag, rank),
// nn.LoadEncryptedModel(p, tag, rank), a Load(tag, rank) method (a
// party's), or a function of the file's own named load or loadModel (a
// helper wrapping one, as notebooks write them) whose tag is a string
// literal or a string constant of the file. A rank that is not an integer literal or constant counts at every
// one of the parties ranks. Tags computed at run time cannot be inferred:
// the requester declares them (syft.Job.Loads); a load that was not
// declared is refused at run time unless the requester may read the
// data. Source that does not parse declares nothing (the job's own check
// refuses it).
func InferLoads(src string, parties int) []Load {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "job.go", src, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	strs, ints := constants(f)
	seen := map[Load]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		var name string
		switch fn := call.Fun.(type) {
		case *ast.SelectorExpr:
			name = fn.Sel.Name
		case *ast.Ident:
			// A helper of the file's own wrapping a load, as notebooks
			// write them: load("crypten_data", 0).
			name = fn.Name
		default:
			return true
		}
		var kind string
		args := call.Args
		switch name {
		case "Load", "load":
			kind = LoadTensor
		case "LoadShare":
			// Every party loads its own share: a load at every rank.
			if len(args) != 1 {
				return true
			}
			if tag, ok := stringValue(args[0], strs); ok {
				for r := 0; r < parties; r++ {
					seen[Load{Rank: r, Tag: tag, Kind: LoadTensor}] = true
				}
			}
			return true
		case "LoadModel", "loadModel":
			kind = LoadModel
		case "LoadEncryptedModel":
			kind = LoadModel
			if len(args) == 3 {
				args = args[1:]
			}
		default:
			return true
		}
		if len(args) != 2 {
			return true
		}
		tag, ok := stringValue(args[0], strs)
		if !ok {
			return true
		}
		if rank, ok := intValue(args[1], ints); ok {
			if rank >= 0 && rank < parties {
				seen[Load{Rank: rank, Tag: tag, Kind: kind}] = true
			}
			return true
		}
		for r := 0; r < parties; r++ {
			seen[Load{Rank: r, Tag: tag, Kind: kind}] = true
		}
		return true
	})
	out := make([]Load, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rank != out[j].Rank {
			return out[i].Rank < out[j].Rank
		}
		if out[i].Tag != out[j].Tag {
			return out[i].Tag < out[j].Tag
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// constants collects the file's untyped or typed constants initialised
// with a string or an integer literal.
func constants(f *ast.File) (map[string]string, map[string]int) {
	strs, ints := map[string]string{}, map[string]int{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs, ok := s.(*ast.ValueSpec)
			if !ok || len(vs.Values) != len(vs.Names) {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				switch lit.Kind {
				case token.STRING:
					if v, err := strconv.Unquote(lit.Value); err == nil {
						strs[name.Name] = v
					}
				case token.INT:
					if v, err := strconv.Atoi(lit.Value); err == nil {
						ints[name.Name] = v
					}
				}
			}
		}
	}
	return strs, ints
}

func stringValue(e ast.Expr, consts map[string]string) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			v, err := strconv.Unquote(x.Value)
			return v, err == nil && v != ""
		}
	case *ast.Ident:
		v, ok := consts[x.Name]
		return v, ok
	case *ast.ParenExpr:
		return stringValue(x.X, consts)
	}
	return "", false
}

func intValue(e ast.Expr, consts map[string]int) (int, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind == token.INT {
			v, err := strconv.Atoi(x.Value)
			return v, err == nil
		}
	case *ast.Ident:
		v, ok := consts[x.Name]
		return v, ok
	case *ast.ParenExpr:
		return intValue(x.X, consts)
	}
	return 0, false
}

// PlanLoads returns the loads of an encoded plan: its load actions, each
// at its party. A plan that does not decode declares nothing (the job's
// own check refuses it).
func PlanLoads(b []byte, parties int) []Load {
	p, err := plan.Decode(b, serde.Limits{})
	if err != nil {
		return nil
	}
	var out []Load
	for _, a := range p.Actions {
		if a.Op == "load" && len(a.Ints) == 1 && a.Ints[0] >= 0 && a.Ints[0] < parties {
			out = append(out, Load{Rank: a.Ints[0], Tag: a.Tag, Kind: LoadTensor})
		}
	}
	return (&Request{Loads: out}).Canonical().Loads
}
