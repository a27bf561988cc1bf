package repl

import (
	"go/scanner"
	"go/token"
	"strings"
)

// ChunkKind says how yaegi must evaluate a chunk of a cell.
type ChunkKind int

// Chunk kinds. yaegi parses a source as file-level declarations when its
// first token is import/func/type/var/const and as a function body
// otherwise, so a cell mixing both must be cut into runs of one kind.
const (
	ImportChunk ChunkKind = iota // import declarations only
	DeclChunk                    // func, method, type, var and const declarations
	StmtChunk                    // statements (run as the body of a function)
)

// String names the kind ("import", "decl", "stmt").
func (k ChunkKind) String() string {
	switch k {
	case ImportChunk:
		return "import"
	case DeclChunk:
		return "decl"
	case StmtChunk:
		return "stmt"
	}
	return "unknown"
}

// Chunk is a run of consecutive top-level statements of one kind.
type Chunk struct {
	Kind ChunkKind
	// Src is the chunk's text exactly as in the cell.
	Src string
	// Line is the cell line (1-based) Src starts on; Offset its byte offset.
	Line, Offset int
}

// Padded returns Src preceded by enough newlines that positions yaegi
// reports for it are cell line numbers.
func (c Chunk) Padded() string {
	return strings.Repeat("\n", c.Line-1) + c.Src
}

// stmtSpan is one top-level statement: byte range and kind.
type stmtSpan struct {
	start, end int
	kind       ChunkKind
	line       int
}

// scanTokens holds one cell's tokens, for classification.
type scanTok struct {
	pos int
	tok token.Token
	lit string
	end int
}

// ScanResult describes the bracket structure of a cell: Depth is the
// nesting depth at end of input (positive when brackets are left open),
// Unbalanced is set when a closing bracket has no opener, and
// UnterminatedAtEOF when a string or comment runs off the end.
type ScanResult struct {
	Depth             int
	Unbalanced        bool
	UnterminatedAtEOF bool
	Errors            scanner.ErrorList
}

// SplitCell cuts a cell into chunks that yaegi can evaluate one at a time,
// in order: runs of imports, runs of declarations and runs of statements.
// It returns the scan result so callers can tell incomplete input apart.
func SplitCell(src string) ([]Chunk, ScanResult) {
	toks, sr := scanCell(src)
	var spans []stmtSpan
	depth := 0
	first := -1
	flush := func(last int) {
		if first < 0 || last < first {
			first = -1
			return
		}
		spans = append(spans, stmtSpan{
			start: toks[first].pos,
			end:   toks[last].end,
			kind:  classify(toks[first : last+1]),
			line:  1 + strings.Count(src[:toks[first].pos], "\n"),
		})
		first = -1
	}
	for i, t := range toks {
		switch t.tok {
		case token.LPAREN, token.LBRACE, token.LBRACK:
			depth++
		case token.RPAREN, token.RBRACE, token.RBRACK:
			if depth > 0 {
				depth--
			}
		}
		if t.tok == token.SEMICOLON && depth == 0 {
			flush(i - 1)
			continue
		}
		if first < 0 {
			first = i
		}
	}
	flush(len(toks) - 1)

	var chunks []Chunk
	for _, sp := range spans {
		if n := len(chunks); n > 0 && chunks[n-1].Kind == sp.kind {
			c := &chunks[n-1]
			c.Src = src[c.Offset:sp.end]
			continue
		}
		chunks = append(chunks, Chunk{Kind: sp.kind, Src: src[sp.start:sp.end], Line: sp.line, Offset: sp.start})
	}
	return chunks, sr
}

// scanCell tokenizes src, skipping comments, and records bracket balance.
func scanCell(src string) ([]scanTok, ScanResult) {
	var sr ScanResult
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(src))
	var s scanner.Scanner
	s.Init(file, []byte(src), func(pos token.Position, msg string) {
		sr.Errors.Add(pos, msg)
		if strings.Contains(msg, "not terminated") {
			sr.UnterminatedAtEOF = true
		}
	}, 0)
	var toks []scanTok
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		off := file.Offset(pos)
		end := off + len(lit)
		if lit == "" {
			end = off + len(tok.String())
		}
		if tok == token.SEMICOLON && lit == "\n" {
			end = off
		}
		if end > len(src) {
			end = len(src)
		}
		toks = append(toks, scanTok{pos: off, tok: tok, lit: lit, end: end})
		switch tok {
		case token.LPAREN, token.LBRACE, token.LBRACK:
			sr.Depth++
		case token.RPAREN, token.RBRACE, token.RBRACK:
			sr.Depth--
			if sr.Depth < 0 {
				sr.Unbalanced = true
				sr.Depth = 0
			}
		}
	}
	return toks, sr
}

// classify tells whether one top-level statement is an import, a
// declaration or a statement. "func" starts a declaration unless it is a
// function literal: a method declaration is "func (recv) Name(", a literal
// never has a name followed by "(" right after its parameter list.
func classify(ts []scanTok) ChunkKind {
	switch ts[0].tok {
	case token.IMPORT:
		return ImportChunk
	case token.TYPE, token.VAR, token.CONST:
		return DeclChunk
	case token.FUNC:
		if len(ts) > 1 && ts[1].tok == token.IDENT {
			return DeclChunk
		}
		if len(ts) > 1 && ts[1].tok == token.LPAREN {
			depth := 0
			for i := 1; i < len(ts); i++ {
				switch ts[i].tok {
				case token.LPAREN:
					depth++
				case token.RPAREN:
					depth--
				}
				if depth == 0 {
					if i+2 < len(ts) && ts[i+1].tok == token.IDENT && ts[i+2].tok == token.LPAREN {
						return DeclChunk
					}
					return StmtChunk
				}
			}
		}
	}
	return StmtChunk
}
