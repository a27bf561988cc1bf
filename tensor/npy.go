package tensor

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// The .npy format: the magic "\x93NUMPY", a major and minor version byte, the
// header length (2 bytes little-endian in version 1, 4 bytes in versions 2
// and 3), then a Python dict literal with keys 'descr' (dtype), 'fortran_order'
// and 'shape', padded with spaces and a newline, then the raw elements.
const npyMagic = "\x93NUMPY"

// maxNPYHeader bounds the header we are willing to read (NumPy itself
// refuses headers over 10000 bytes unless told otherwise).
const maxNPYHeader = 1 << 20

// npyDtype is a parsed 'descr' of a supported numeric dtype.
type npyDtype struct {
	order binary.ByteOrder
	kind  byte // 'f', 'i', 'u' or 'b'
	size  int  // bytes per element
}

func parseDtype(descr string) (npyDtype, error) {
	bad := fmt.Errorf("npy: unsupported dtype %q (want float32/64, int8-64, uint8-64 or bool)", descr)
	if len(descr) < 3 {
		return npyDtype{}, bad
	}
	var dt npyDtype
	switch descr[0] {
	case '<':
		dt.order = binary.LittleEndian
	case '>':
		dt.order = binary.BigEndian
	case '=':
		dt.order = binary.NativeEndian
	case '|':
		dt.order = binary.LittleEndian // only valid for 1-byte types, checked below
	default:
		return dt, bad
	}
	dt.kind = descr[1]
	size, err := strconv.Atoi(descr[2:])
	if err != nil {
		return dt, bad
	}
	dt.size = size
	ok := false
	switch dt.kind {
	case 'f':
		ok = size == 4 || size == 8
	case 'i', 'u':
		ok = size == 1 || size == 2 || size == 4 || size == 8
	case 'b':
		ok = size == 1
	}
	if !ok || (descr[0] == '|' && size != 1) {
		return dt, bad
	}
	return dt, nil
}

// decode converts one element's bytes to float64. int64 and uint64 values
// beyond 2**53 round to the nearest float64, as numpy's astype does.
func (dt npyDtype) decode(b []byte) float64 {
	switch dt.kind {
	case 'f':
		if dt.size == 4 {
			return float64(math.Float32frombits(dt.order.Uint32(b)))
		}
		return math.Float64frombits(dt.order.Uint64(b))
	case 'b':
		return b2f(b[0] != 0)
	case 'u':
		switch dt.size {
		case 1:
			return float64(b[0])
		case 2:
			return float64(dt.order.Uint16(b))
		case 4:
			return float64(dt.order.Uint32(b))
		}
		return float64(dt.order.Uint64(b))
	}
	switch dt.size {
	case 1:
		return float64(int8(b[0]))
	case 2:
		return float64(int16(dt.order.Uint16(b)))
	case 4:
		return float64(int32(dt.order.Uint32(b)))
	}
	return float64(int64(dt.order.Uint64(b)))
}

// npyHeader is the parsed header dict.
type npyHeader struct {
	descr   string
	fortran bool
	shape   []int
}

// parseNPYHeader reads the Python dict literal of a .npy header. It
// accepts exactly what NumPy writes and reads: the three keys, string,
// boolean and tuple-of-int values, optional trailing commas.
func parseNPYHeader(s string) (npyHeader, error) {
	p := &pyLit{s: s}
	var h npyHeader
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return h, p.errorf("want '{'")
	}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, err
		}
		p.space()
		if !p.eat(':') {
			return h, p.errorf("want ':' after %q", key)
		}
		p.space()
		if seen[key] {
			return h, p.errorf("duplicate key %q", key)
		}
		seen[key] = true
		switch key {
		case "descr":
			if p.peek() == '[' {
				return h, errors.New("npy: structured dtypes are not supported")
			}
			if h.descr, err = p.str(); err != nil {
				return h, err
			}
		case "fortran_order":
			if h.fortran, err = p.boolean(); err != nil {
				return h, err
			}
		case "shape":
			if h.shape, err = p.tuple(); err != nil {
				return h, err
			}
		default:
			return h, p.errorf("unexpected key %q", key)
		}
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat('}') {
				return h, p.errorf("want ',' or '}'")
			}
			break
		}
	}
	if len(seen) != 3 {
		return h, fmt.Errorf("npy: header %q lacks one of 'descr', 'fortran_order', 'shape'", s)
	}
	if rest := strings.TrimSpace(s[p.i:]); rest != "" {
		return h, p.errorf("trailing %q", rest)
	}
	return h, nil
}

// pyLit is a cursor over a Python literal.
type pyLit struct {
	s string
	i int
}

func (p *pyLit) errorf(format string, args ...any) error {
	return fmt.Errorf("npy: bad header at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *pyLit) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyLit) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *pyLit) eat(c byte) bool {
	if p.peek() == c {
		p.i++
		return true
	}
	return false
}

func (p *pyLit) str() (string, error) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.errorf("want a string")
	}
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", p.errorf("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

func (p *pyLit) boolean() (bool, error) {
	switch {
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return false, p.errorf("want True or False")
}

func (p *pyLit) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, p.errorf("want a tuple")
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		d, err := strconv.Atoi(p.s[p.i:j])
		if err != nil || j-p.i > 18 {
			return nil, p.errorf("want a dimension")
		}
		p.i = j
		p.eat('L') // Python 2 longs
		shape = append(shape, d)
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat(')') {
				return nil, p.errorf("want ',' or ')' in shape")
			}
			return shape, nil
		}
	}
}

// ReadNPY reads one array in NumPy's .npy format (versions 1.0, 2.0 and
// 3.0) and returns it as a float64 tensor. float32/float64, signed and
// unsigned integers of 1 to 8 bytes and bool are accepted in either byte
// order; arrays must be in C order. The data is read in pieces, so a
// header that claims more elements than the input holds fails with an
// error instead of a huge allocation. Bytes after the array are not read.
func ReadNPY(r io.Reader) (*Tensor, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("npy: read magic: %w", noEOF(err))
	}
	if string(pre[:6]) != npyMagic {
		return nil, errors.New("npy: not a .npy file (bad magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: read header length: %w", noEOF(err))
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: read header length: %w", noEOF(err))
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > maxNPYHeader {
		return nil, fmt.Errorf("npy: header of %d bytes exceeds the limit of %d", hlen, maxNPYHeader)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("npy: read %d-byte header: %w", hlen, noEOF(err))
	}
	h, err := parseNPYHeader(string(hb))
	if err != nil {
		return nil, err
	}
	dt, err := parseDtype(h.descr)
	if err != nil {
		return nil, err
	}
	if h.fortran && len(h.shape) > 1 {
		return nil, fmt.Errorf("npy: array of shape %s is in Fortran order; save it in C order (numpy.ascontiguousarray)", pyShape(h.shape))
	}
	n, err := checkedNumel(h.shape)
	if err != nil || n > math.MaxInt64/8 {
		return nil, fmt.Errorf("npy: shape %s is too large", pyShape(h.shape))
	}
	data, err := readElements(r, dt, n)
	if err != nil {
		return nil, fmt.Errorf("npy: shape %s of %s: %w", pyShape(h.shape), h.descr, err)
	}
	return &Tensor{shape: h.shape, data: data}, nil
}

// noEOF turns a bare io.EOF (nothing at all could be read) into
// io.ErrUnexpectedEOF, since a .npy file never ends at that point.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readElements reads n elements of dt, growing its result only as bytes
// actually arrive.
func readElements(r io.Reader, dt npyDtype, n int) ([]float64, error) {
	const chunk = 1 << 16 // bytes per read
	per := chunk / dt.size
	out := make([]float64, 0, min(n, per))
	buf := make([]byte, per*dt.size)
	for len(out) < n {
		m := min(per, n-len(out))
		b := buf[:m*dt.size]
		if got, err := io.ReadFull(r, b); err != nil {
			have := len(out)*dt.size + got
			return nil, fmt.Errorf("truncated data: want %d bytes, got %d: %w", n*dt.size, have, noEOF(err))
		}
		if dt.kind == 'f' && dt.size == 8 && dt.order == binary.LittleEndian {
			for i := 0; i < m; i++ {
				out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(b[i*8:])))
			}
			continue
		}
		for i := 0; i < m; i++ {
			out = append(out, dt.decode(b[i*dt.size:]))
		}
	}
	return out, nil
}

// WriteNPY writes t in .npy format as little-endian float64 ('<f8') in C
// order, with a version 1.0 header (2.0 if the shape needs a header over
// 64 KiB), padded so the data starts on a 64-byte boundary as NumPy does.
// The output is byte-identical to numpy.save of the same array.
func WriteNPY(w io.Writer, t *Tensor) error {
	dict := fmt.Sprintf("{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", pyShape(t.shape))
	pre := 10
	if len(dict)+1+pre > math.MaxUint16 {
		pre = 12
	}
	pad := 64 - (pre+len(dict)+1)%64
	if pad == 64 {
		pad = 0
	}
	header := dict + strings.Repeat(" ", pad) + "\n"
	var b []byte
	b = append(b, npyMagic...)
	if pre == 10 {
		b = append(b, 1, 0)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = append(b, 2, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	b = append(b, header...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("npy: write header: %w", err)
	}
	buf := make([]byte, 0, 1<<16)
	for i, v := range t.data {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		if len(buf) == cap(buf) || i == len(t.data)-1 {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("npy: write data: %w", err)
			}
			buf = buf[:0]
		}
	}
	return nil
}

// LoadNPY reads a .npy file.
func LoadNPY(path string) (*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadNPY(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return t, nil
}

// SaveNPY writes t to a .npy file (see WriteNPY).
func SaveNPY(path string, t *Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := WriteNPY(bw, t); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}
