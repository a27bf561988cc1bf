package repl

import (
	"go/parser"
	"go/scanner"
	"go/token"
	"strings"
)

// Completeness is the answer to a Jupyter is_complete_request.
type Completeness struct {
	// Status is "complete", "incomplete" or "invalid".
	Status string
	// Indent is what a console should type on the next line when Status is
	// "incomplete": one tab per open bracket.
	Indent string
}

// IsComplete classifies a cell the way a console needs before it runs it:
// complete (run it), incomplete (the user is still typing: open brackets,
// an unterminated raw string, a trailing operator) or invalid (a syntax
// error that more input cannot fix).
func IsComplete(code string) Completeness {
	if strings.TrimSpace(code) == "" {
		return Completeness{Status: "complete"}
	}
	chunks, sr := SplitCell(code)
	if sr.Unbalanced {
		return Completeness{Status: "invalid"}
	}
	if sr.UnterminatedAtEOF {
		return Completeness{Status: "incomplete"}
	}
	if len(sr.Errors) > 0 {
		return Completeness{Status: "invalid"}
	}
	// A syntax error before the end of the input is invalid even with
	// brackets left open ("func {"): more input cannot fix it.
	incomplete := sr.Depth > 0
	for _, c := range chunks {
		if err := parseChunk(c); err != nil {
			if !atEOF(err, c) {
				return Completeness{Status: "invalid"}
			}
			incomplete = true
		}
	}
	if incomplete {
		return Completeness{Status: "incomplete", Indent: strings.Repeat("\t", sr.Depth)}
	}
	return Completeness{Status: "complete"}
}

// Wrappers put a chunk into a file so go/parser can check it; the
// statement wrapper keeps the chunk on line 1 after the prefix.
const (
	declPrefix = "package p;"
	stmtPrefix = "package p; func _() {"
)

// parseChunk checks one chunk's syntax with go/parser.
func parseChunk(c Chunk) error {
	src := declPrefix + c.Src
	if c.Kind == StmtChunk {
		src = stmtPrefix + c.Src + "\n}"
	}
	_, err := parser.ParseFile(token.NewFileSet(), "cell", src, parser.SkipObjectResolution)
	return err
}

// atEOF reports whether a parse error of chunk c is at the end of its input,
// meaning more input might fix it.
func atEOF(err error, c Chunk) bool {
	list, ok := err.(scanner.ErrorList)
	if !ok || len(list) == 0 {
		return false
	}
	prefix := len(declPrefix)
	if c.Kind == StmtChunk {
		prefix = len(stmtPrefix)
	}
	end := prefix + len(c.Src)
	e := list[0]
	if e.Pos.Offset >= end || strings.Contains(e.Msg, "EOF") {
		return true
	}
	// Only blanks (a newline the console sent) after the error.
	rest := e.Pos.Offset - prefix
	return rest >= 0 && rest <= len(c.Src) && strings.TrimSpace(c.Src[rest:]) == ""
}
