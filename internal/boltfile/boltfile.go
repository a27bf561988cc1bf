// Package boltfile reads a bbolt database file by its on-disk format,
// without mapping it, checking every offset and page id against the file:
// it examines a file before bbolt opens it, because bbolt trusts its file
// and a damaged one can make it return wrong data, roll back silently or
// fault in the middle of a read; and it salvages the intact records of a
// damaged file.
//
// The format (bbolt 1.x, version 2, little-endian hosts): pages of the
// size the meta pages give; pages 0 and 1 are meta pages, of which the
// valid one with the higher transaction id is current; it names the root
// bucket's page, the freelist page and the high-water mark (the number of
// pages in use). Branch and leaf pages hold 16-byte elements whose keys
// and values sit at offsets relative to the element. A leaf element
// flagged as a bucket holds a bucket header (root page, sequence) and,
// when the root is 0, the bucket's only page inline after it.
package boltfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// On-disk constants (bbolt internal/common).
const (
	magic        = 0xED0CDAED
	version      = 2
	pageHeader   = 16
	elemSize     = 16
	bucketHeader = 16
	metaSize     = 64 // magic .. checksum
	metaSumLen   = 56 // bytes of the meta covered by its checksum

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10
	leafBucket   = 0x01

	noFreelist = ^uint64(0)
)

// maxDepth bounds nesting (buckets in buckets, tree depth), so a page
// that points at its ancestors cannot recurse forever.
const maxDepth = 64

// Meta is one meta page as read.
type Meta struct {
	Valid    bool
	Problem  string // why it is not valid
	PageSize uint32
	Root     uint64 // root bucket's page
	Freelist uint64 // freelist page (or ^0 when not synced)
	HWM      uint64 // high-water mark: pages in use
	TxID     uint64
}

// Report describes a database file.
type Report struct {
	Path     string
	Size     int64
	PageSize int
	Metas    [2]Meta
	Current  int // index of the meta in use (-1 when none is valid)
	Keys     int // leaf records reached (buckets' own entries included)
	Buckets  int
	// Problems lists every damage found; a sound file has none.
	Problems []string
	// Notes lists what is wrong but harmless (the older meta page
	// damaged while the current one is intact).
	Notes []string
}

// Sound reports whether no damage was found.
func (r *Report) Sound() bool { return len(r.Problems) == 0 }

// maxProblems bounds a report: a file full of garbage does not make one
// of a million lines.
const maxProblems = 50

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "(more problems not listed)")
	}
}

// Err is nil for a sound file, and otherwise an error that lists the
// damage.
func (r *Report) Err() error {
	if r.Sound() {
		return nil
	}
	return &DamageError{Path: r.Path, Problems: r.Problems}
}

// DamageError says a database file is damaged, and how.
type DamageError struct {
	Path     string
	Problems []string
}

func (e *DamageError) Error() string {
	const show = 5
	s := fmt.Sprintf("%s is damaged: ", e.Path)
	for i, p := range e.Problems {
		if i == show {
			s += fmt.Sprintf("; and %d more problems", len(e.Problems)-show)
			break
		}
		if i > 0 {
			s += "; "
		}
		s += p
	}
	return s
}

// file is an open database file with its geometry.
type file struct {
	f        io.ReaderAt
	size     int64
	pageSize int
	hwm      uint64
	r        *Report
}

// Check examines the database file at path: its size against its meta
// pages, both meta pages, and every page the current meta reaches (page
// ids in range, page types, element bounds, key order, no page reached
// twice or both reached and free, every page below the high-water mark
// accounted for). The error is for failing to read the file at all;
// damage is in the report.
func Check(path string) (*Report, error) {
	r, _, err := open(path, nil)
	return r, err
}

// Visit is called by Walk for every record: buckets is the path of
// nested bucket names, key and value the record (valid only during the
// call).
type Visit func(buckets [][]byte, key, value []byte) error

// Walk reads every record reachable from the current meta page (or, when
// none is valid, from the one with the higher transaction id whose root
// is in range), descending into nested buckets, and calls visit for each.
// Damaged pages are reported and skipped, so Walk yields what is intact.
// An error from visit stops the walk and is returned.
func Walk(path string, visit Visit) (*Report, error) {
	r, _, err := open(path, visit)
	return r, err
}

func open(path string, visit Visit) (*Report, *file, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	r := &Report{Path: path, Size: st.Size(), Current: -1}
	fl := &file{f: f, size: st.Size(), r: r}
	err = fl.run(visit)
	return r, fl, err
}

// run checks (and, with visit, walks) the file.
func (fl *file) run(visit Visit) error {
	r := fl.r
	if fl.size == 0 {
		r.problem("the file is empty (0 bytes): it was truncated or never written")
		return nil
	}
	if err := fl.readMetas(); err != nil {
		return err
	}
	cur := r.Current
	if cur < 0 {
		// Salvage from the best candidate even without a valid meta.
		for i := range r.Metas {
			m := r.Metas[i]
			if plausible(m, fl.size) && (cur < 0 || m.TxID > r.Metas[cur].TxID) {
				cur = i
			}
		}
		if cur < 0 || visit == nil {
			return nil
		}
	}
	m := r.Metas[cur]
	if !plausible(m, fl.size) {
		// A valid meta page whose geometry does not fit the file (it
		// was cut short): walk what the file holds.
		m.HWM = min(m.HWM, uint64(fl.size)/uint64(max(m.PageSize, 512))+1)
	}
	fl.pageSize = int(m.PageSize)
	r.PageSize = fl.pageSize
	fl.hwm = m.HWM
	need := int64(r.Metas[cur].HWM) * int64(m.PageSize)
	if r.Metas[cur].HWM > uint64(1<<62)/uint64(m.PageSize) {
		need = 1<<63 - 1
	}
	if fl.size < need {
		r.problem("the file is %d bytes, but its meta page (transaction %d) says %d pages of %d bytes (%d bytes): it was truncated",
			fl.size, m.TxID, r.Metas[cur].HWM, m.PageSize, need)
	}
	// Every element of a sound file is stored once, in 16 bytes or more:
	// more elements than that means inline buckets that contain
	// themselves, which a walk would otherwise follow without end.
	w := &walker{fl: fl, visit: visit, reached: map[uint64]bool{0: true, 1: true}, budget: fl.size/elemSize + 64}
	free, flPages := fl.freelist(m)
	w.free = free
	for _, id := range flPages {
		w.reached[id] = true
	}
	err := w.bucketPage(m.Root, nil, 0, nil, nil)
	if err != nil {
		return err
	}
	// Every page below the high-water mark is reached or free.
	if m.Freelist != noFreelist && fl.size >= need {
		var lost []uint64
		for id := uint64(2); id < m.HWM; id++ {
			if !w.reached[id] && !free[id] {
				lost = append(lost, id)
			}
		}
		if len(lost) > 0 {
			r.problem("%d pages neither reached nor free (first: %v)", len(lost), lost[:min(len(lost), 5)])
		}
	}
	return nil
}

// plausible reports whether a meta page's geometry fits a file of size
// bytes: a page size bbolt could have written and a high-water mark
// within the file, so walking from it stays within bounds.
func plausible(m Meta, size int64) bool {
	ps := uint64(m.PageSize)
	return ps >= 512 && ps <= 1<<24 && ps&(ps-1) == 0 && m.Root > 1 &&
		m.HWM <= uint64(size)/ps+1 && m.Root < m.HWM
}

// readMetas reads both meta pages and picks the current one.
func (fl *file) readMetas() error {
	r := fl.r
	var buf [pageHeader + metaSize]byte
	read := func(off int64) (Meta, bool) {
		n, err := fl.f.ReadAt(buf[:], off)
		if n < len(buf) {
			if err == nil || err == io.EOF {
				return Meta{Problem: fmt.Sprintf("cut off at byte %d of the file", fl.size)}, false
			}
			return Meta{Problem: err.Error()}, false
		}
		return decodeMeta(buf[:]), true
	}
	m0, _ := read(0)
	r.Metas[0] = m0
	// The second meta page sits one page in; without a valid first meta,
	// the page size is unknown and candidates are tried, as bbolt does.
	var m1 Meta
	if m0.Valid {
		m1, _ = read(int64(m0.PageSize))
	} else {
		m1 = Meta{Problem: "not found"}
		for i := 0; i <= 14; i++ {
			off := int64(1024) << i
			if off >= fl.size {
				break
			}
			if m, ok := read(off); ok && m.Valid {
				m1 = m
				break
			}
		}
	}
	r.Metas[1] = m1
	switch {
	case m0.Valid && m1.Valid && m0.PageSize != m1.PageSize:
		r.problem("the meta pages disagree on the page size (%d and %d)", m0.PageSize, m1.PageSize)
		r.Current = 0
		if m1.TxID > m0.TxID {
			r.Current = 1
		}
	case m0.Valid && m1.Valid:
		r.Current = 0
		if m1.TxID > m0.TxID {
			r.Current = 1
		}
	case m0.Valid || m1.Valid:
		good, bad := 0, 1
		if m1.Valid {
			good, bad = 1, 0
		}
		r.Current = good
		if r.Metas[bad].TxID+1 == r.Metas[good].TxID {
			// The older meta page is damaged: the current state is
			// intact, and bbolt rewrites that page at the next commit.
			r.Notes = append(r.Notes, fmt.Sprintf("meta page %d (transaction %d, the older one) is damaged (%s)",
				bad, r.Metas[bad].TxID, r.Metas[bad].Problem))
		} else {
			r.problem("meta page %d is damaged (%s): opening the file would silently go back to transaction %d, losing the last write",
				bad, r.Metas[bad].Problem, r.Metas[good].TxID)
		}
	default:
		r.problem("neither meta page is valid (page 0: %s; page 1: %s): this is not a readable database file",
			m0.Problem, m1.Problem)
	}
	return nil
}

// decodeMeta parses a meta page (its header included).
func decodeMeta(b []byte) Meta {
	le := binary.LittleEndian
	p := b[pageHeader:]
	m := Meta{
		PageSize: le.Uint32(p[8:]),
		Root:     le.Uint64(p[16:]),
		Freelist: le.Uint64(p[32:]),
		HWM:      le.Uint64(p[40:]),
		TxID:     le.Uint64(p[48:]),
	}
	h := fnv.New64a()
	h.Write(p[:metaSumLen])
	switch {
	case le.Uint16(b[8:]) != flagMeta:
		m.Problem = fmt.Sprintf("page flags %#x, not a meta page", le.Uint16(b[8:]))
	case le.Uint32(p) != magic:
		m.Problem = fmt.Sprintf("magic %#x, not a bbolt file", le.Uint32(p))
	case le.Uint32(p[4:]) != version:
		m.Problem = fmt.Sprintf("format version %d, want %d", le.Uint32(p[4:]), version)
	case le.Uint64(p[56:]) != h.Sum64():
		m.Problem = "checksum mismatch"
	case m.PageSize < 512 || m.PageSize > 1<<24 || m.PageSize&(m.PageSize-1) != 0:
		m.Problem = fmt.Sprintf("page size %d", m.PageSize)
	case m.Root < 2 || m.Root >= m.HWM:
		m.Problem = fmt.Sprintf("root page %d outside [2,%d)", m.Root, m.HWM)
	case m.Freelist != noFreelist && (m.Freelist < 2 || m.Freelist >= m.HWM):
		m.Problem = fmt.Sprintf("freelist page %d outside [2,%d)", m.Freelist, m.HWM)
	default:
		m.Valid = true
	}
	return m
}

// page reads page id with its overflow pages; nil (with the problem
// reported) when it is out of range or cannot be read.
func (fl *file) page(id uint64, what string) []byte {
	if id < 2 || id >= fl.hwm {
		fl.r.problem("%s: page %d outside [2,%d)", what, id, fl.hwm)
		return nil
	}
	off := int64(id) * int64(fl.pageSize)
	var hdr [pageHeader]byte
	if n, _ := fl.f.ReadAt(hdr[:], off); n < pageHeader {
		fl.r.problem("%s: page %d lies beyond the end of the file", what, id)
		return nil
	}
	le := binary.LittleEndian
	if got := le.Uint64(hdr[:]); got != id {
		fl.r.problem("%s: page %d says it is page %d", what, id, got)
		return nil
	}
	over := uint64(le.Uint32(hdr[12:]))
	if id+over >= fl.hwm {
		fl.r.problem("%s: page %d with %d overflow pages runs past the high-water mark %d", what, id, over, fl.hwm)
		return nil
	}
	n := (over + 1) * uint64(fl.pageSize)
	if off+int64(n) > fl.size {
		fl.r.problem("%s: page %d (%d bytes) runs past the end of the file", what, id, n)
		return nil
	}
	b := make([]byte, n)
	if _, err := fl.f.ReadAt(b, off); err != nil {
		fl.r.problem("%s: page %d: %v", what, id, err)
		return nil
	}
	return b
}

// freelist reads the free page ids of meta m, and the pages the
// freelist itself occupies.
func (fl *file) freelist(m Meta) (free map[uint64]bool, own []uint64) {
	free = map[uint64]bool{}
	if m.Freelist == noFreelist {
		return free, nil
	}
	b := fl.page(m.Freelist, "freelist")
	if b == nil {
		return free, nil
	}
	for id := m.Freelist; id < m.Freelist+uint64(len(b)/fl.pageSize); id++ {
		own = append(own, id)
	}
	le := binary.LittleEndian
	if f := le.Uint16(b[8:]); f != flagFreelist {
		fl.r.problem("freelist: page %d has flags %#x", m.Freelist, f)
		return free, own
	}
	idx, count := 0, uint64(le.Uint16(b[10:]))
	if count == 0xFFFF {
		idx = 1
		count = le.Uint64(b[pageHeader:])
	}
	start := pageHeader + 8*uint64(idx)
	if count > (uint64(len(b))-start)/8 {
		fl.r.problem("freelist: %d ids do not fit page %d", count, m.Freelist)
		return free, own
	}
	for i := uint64(0); i < count; i++ {
		id := le.Uint64(b[start+8*i:])
		switch {
		case id < 2 || id >= m.HWM:
			fl.r.problem("freelist: free page %d outside [2,%d)", id, m.HWM)
		case free[id]:
			fl.r.problem("freelist: page %d freed twice", id)
		default:
			free[id] = true
		}
	}
	for _, id := range own {
		if free[id] {
			fl.r.problem("freelist: page %d holds the freelist and is free", id)
		}
	}
	return free, own
}

// walker walks the tree of one meta.
type walker struct {
	fl      *file
	visit   Visit
	reached map[uint64]bool
	free    map[uint64]bool
	budget  int64 // elements left to visit
	spent   bool  // the budget ran out (reported once)
}

// claim marks the pages of a page (with its overflow) reached.
func (w *walker) claim(id uint64, b []byte, what string) bool {
	pages := uint64(len(b) / w.fl.pageSize)
	for p := id; p < id+pages; p++ {
		if w.reached[p] {
			w.fl.r.problem("%s: page %d reached twice", what, p)
			return false
		}
		if w.free[p] {
			w.fl.r.problem("%s: page %d is in use and free", what, p)
		}
		w.reached[p] = true
	}
	return true
}

func bucketName(path [][]byte) string {
	if len(path) == 0 {
		return "root bucket"
	}
	s := "bucket "
	for i, p := range path {
		if i > 0 {
			s += "/"
		}
		s += fmt.Sprintf("%q", p)
	}
	return s
}

// bucketPage walks the subtree at page id of the bucket at path; lo and
// hi bound its keys (nil for none).
func (w *walker) bucketPage(id uint64, path [][]byte, depth int, lo, hi []byte) error {
	what := bucketName(path)
	if depth > maxDepth {
		w.fl.r.problem("%s: tree deeper than %d", what, maxDepth)
		return nil
	}
	b := w.fl.page(id, what)
	if b == nil || !w.claim(id, b, what) {
		return nil
	}
	return w.nodes(b, id, path, depth, lo, hi)
}

// nodes walks the elements of one page (b holds the page header first;
// for an inline bucket, id is 0).
func (w *walker) nodes(b []byte, id uint64, path [][]byte, depth int, lo, hi []byte) error {
	r := w.fl.r
	what := bucketName(path)
	le := binary.LittleEndian
	if len(b) < pageHeader {
		r.problem("%s: inline page of %d bytes", what, len(b))
		return nil
	}
	flags, count := le.Uint16(b[8:]), int(le.Uint16(b[10:]))
	if pageHeader+count*elemSize > len(b) {
		r.problem("%s: page %d: %d elements do not fit", what, id, count)
		return nil
	}
	var prev []byte
	for i := 0; i < count; i++ {
		if w.budget--; w.budget < 0 {
			if !w.spent {
				w.spent = true
				r.problem("%s: more elements than the file can hold (buckets nested in themselves)", what)
			}
			return nil
		}
		e := pageHeader + i*elemSize
		var key, val []byte
		var child uint64
		var ok bool
		switch flags {
		case flagBranch:
			pos, ksize := int(le.Uint32(b[e:])), int(le.Uint32(b[e+4:]))
			child = le.Uint64(b[e+8:])
			key, ok = slice(b, e+pos, ksize)
		case flagLeaf:
			pos, ksize, vsize := int(le.Uint32(b[e+4:])), int(le.Uint32(b[e+8:])), int(le.Uint32(b[e+12:]))
			if key, ok = slice(b, e+pos, ksize); ok {
				val, ok = slice(b, e+pos+ksize, vsize)
			}
		default:
			r.problem("%s: page %d has flags %#x where a branch or leaf page belongs", what, id, flags)
			return nil
		}
		if !ok {
			r.problem("%s: page %d element %d lies outside the page", what, id, i)
			return nil
		}
		if prev != nil && bytes.Compare(prev, key) >= 0 {
			r.problem("%s: page %d keys out of order at element %d", what, id, i)
			return nil
		}
		if (lo != nil && bytes.Compare(key, lo) < 0) || (hi != nil && bytes.Compare(key, hi) >= 0) {
			r.problem("%s: page %d key %d outside its parent's range", what, id, i)
			return nil
		}
		prev = key
		if flags == flagBranch {
			var next []byte = hi
			if i+1 < count {
				e2 := pageHeader + (i+1)*elemSize
				if k, ok := slice(b, e2+int(le.Uint32(b[e2:])), int(le.Uint32(b[e2+4:]))); ok {
					next = k
				}
			}
			if err := w.bucketPage(child, path, depth+1, key, next); err != nil {
				return err
			}
			continue
		}
		r.Keys++
		if le.Uint32(b[e:])&leafBucket != 0 {
			if err := w.bucket(path, key, val, depth); err != nil {
				return err
			}
			continue
		}
		if w.visit != nil {
			if err := w.visit(path, key, val); err != nil {
				return err
			}
		}
	}
	return nil
}

// bucket walks the nested bucket named key whose header is val.
func (w *walker) bucket(path [][]byte, key, val []byte, depth int) error {
	w.fl.r.Buckets++
	sub := append(append([][]byte(nil), path...), key)
	if len(val) < bucketHeader {
		w.fl.r.problem("%s: bucket header of %d bytes", bucketName(sub), len(val))
		return nil
	}
	root := binary.LittleEndian.Uint64(val)
	if root == 0 {
		return w.nodes(val[bucketHeader:], 0, sub, depth+1, nil, nil)
	}
	return w.bucketPage(root, sub, depth+1, nil, nil)
}

// slice returns b[off:off+n] when it lies within b.
func slice(b []byte, off, n int) ([]byte, bool) {
	if off < 0 || n < 0 || off > len(b) || n > len(b)-off {
		return nil, false
	}
	return b[off : off+n], true
}

// ErrDamaged is matched by errors.Is for a DamageError.
var ErrDamaged = errors.New("damaged database file")

// Is makes errors.Is(err, ErrDamaged) true for a DamageError.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }
