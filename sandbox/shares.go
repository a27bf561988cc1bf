package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/tensor"
)

// Encrypted results. A job may return *mpc.CrypTensor values (alone or
// inside the []any and map[string]any it returns, or as []*mpc.CrypTensor
// and map[string]*mpc.CrypTensor): each party then returns its own share
// of each, marked with the job's id and the value's sequence number in the
// result (its order in a walk that visits lists in order and maps by
// sorted key, so every party numbers the same value alike). The requester
// adds the shares of every rank (CombineShares), as PySyft's get of a
// shared tensor does: the value is revealed to the requester and to no
// party. On a restricted party this needs its reveal policy to name the
// requester (mpc.ReturnAllowed).

// shareKey marks a party's share inside a returned value: a map with this
// one key.
const shareKey = "$gomplab.share"

// encodeShares replaces every *mpc.CrypTensor in v with its marked share
// (see above); jobID names the job in each mark. It refuses a CrypTensor
// whose party may not return results to the requester. Without a job id
// (a run outside a job) it changes nothing, and checkResult refuses the
// encrypted values.
func encodeShares(v any, jobID string) (any, error) {
	if jobID == "" {
		return v, nil
	}
	seq := 0
	return encodeSharesAt(v, jobID, &seq)
}

func encodeSharesAt(v any, jobID string, seq *int) (any, error) {
	switch x := v.(type) {
	case *mpc.CrypTensor:
		if x == nil {
			return nil, nil
		}
		return shareMark(x, jobID, seq)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = encodeSharesAt(e, jobID, seq); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make(map[string]any, len(x))
		for _, k := range keys {
			var err error
			if out[k], err = encodeSharesAt(x[k], jobID, seq); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	// Typed slices and maps of encrypted tensors.
	ct := reflect.TypeOf((*mpc.CrypTensor)(nil))
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		if rv.Type().Elem() == ct {
			list := make([]any, rv.Len())
			for i := range list {
				list[i] = rv.Index(i).Interface()
			}
			return encodeSharesAt(list, jobID, seq)
		}
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String && rv.Type().Elem() == ct {
			m := make(map[string]any, rv.Len())
			for _, k := range rv.MapKeys() {
				m[k.String()] = rv.MapIndex(k).Interface()
			}
			return encodeSharesAt(m, jobID, seq)
		}
	}
	return v, nil
}

// shareMark is x's share as a marked map.
func shareMark(x *mpc.CrypTensor, jobID string, seq *int) (any, error) {
	p := x.Party()
	if p == nil {
		return nil, errors.New("an encrypted value without a party")
	}
	if err := mpc.ReturnAllowed(p); err != nil {
		return nil, err // the refusal alone: at may hold the program's text
	}
	share := mpc.ShareOf(x)
	b := make([]byte, 8*len(share))
	for i, w := range share {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	shape := make([]any, 0, x.Dims())
	for _, d := range x.Shape() {
		shape = append(shape, int64(d))
	}
	*seq++
	return map[string]any{shareKey: map[string]any{
		"job":       jobID,
		"seq":       int64(*seq),
		"rank":      int64(p.Rank()),
		"world":     int64(p.WorldSize()),
		"precision": int64(p.Config().Precision),
		"shape":     shape,
		"share":     b,
	}}, nil
}

// share is one rank's marked share, decoded.
type share struct {
	job                         string
	seq, rank, world, precision int
	shape                       []int
	words                       []uint64
}

// CombineShares replaces, in every rank's decoded value (values[rank], as
// serde.Unmarshal returns it), each marked share with the tensor all the
// ranks' shares of it add up to, once every rank returned its share of
// it, for job jobID. It fails, naming the value, when a rank is missing,
// a share is marked for another job, rank or world, or the shares
// disagree on shape or precision. Values without shares come back as
// they are.
func CombineShares(jobID string, values []any) ([]any, error) {
	n := len(values)
	found := make([]map[int]*share, n)
	total := 0
	for r, v := range values {
		found[r] = map[int]*share{}
		if err := collectShares(v, found[r]); err != nil {
			return nil, fmt.Errorf("rank %d's result: %w", r, err)
		}
		total += len(found[r])
	}
	if total == 0 {
		return values, nil
	}
	combined := map[int]*tensor.Tensor{}
	for seq, s0 := range found[0] {
		words := make([][]uint64, n)
		for r := range n {
			s, ok := found[r][seq]
			switch {
			case !ok:
				return nil, fmt.Errorf("encrypted value #%d: rank %d returned no share of it", seq, r)
			case s.job != jobID:
				return nil, fmt.Errorf("encrypted value #%d: rank %d's share is of job %q, not %q", seq, r, s.job, jobID)
			case s.rank != r || s.world != n:
				return nil, fmt.Errorf("encrypted value #%d: the share in rank %d's result is marked rank %d of %d", seq, r, s.rank, s.world)
			case s.precision != s0.precision || !tensor.SameShape(s.shape, s0.shape):
				return nil, fmt.Errorf("encrypted value #%d: rank %d's share (shape %v, precision %d) differs from rank 0's (shape %v, precision %d)",
					seq, r, s.shape, s.precision, s0.shape, s0.precision)
			}
			words[r] = s.words
		}
		t, err := mpc.CombineShares(uint(s0.precision), s0.shape, words...)
		if err != nil {
			return nil, fmt.Errorf("encrypted value #%d: %w", seq, err)
		}
		combined[seq] = t
	}
	for r := 1; r < n; r++ {
		if len(found[r]) != len(found[0]) {
			return nil, fmt.Errorf("rank %d returned %d encrypted values, rank 0 %d", r, len(found[r]), len(found[0]))
		}
	}
	out := make([]any, n)
	for r, v := range values {
		out[r] = replaceShares(v, combined)
	}
	return out, nil
}

// collectShares finds the marked shares in v, by sequence number.
func collectShares(v any, into map[int]*share) error {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if err := collectShares(e, into); err != nil {
				return err
			}
		}
	case map[string]any:
		if m, ok := shareOf(x); ok {
			s, err := decodeShare(m)
			if err != nil {
				return err
			}
			if into[s.seq] != nil {
				return fmt.Errorf("two shares numbered %d", s.seq)
			}
			into[s.seq] = s
			return nil
		}
		for _, e := range x {
			if err := collectShares(e, into); err != nil {
				return err
			}
		}
	}
	return nil
}

// shareOf returns the mark of a marked share.
func shareOf(x map[string]any) (map[string]any, bool) {
	if len(x) != 1 {
		return nil, false
	}
	m, ok := x[shareKey].(map[string]any)
	return m, ok
}

func decodeShare(m map[string]any) (*share, error) {
	s := &share{}
	var ok bool
	if s.job, ok = m["job"].(string); !ok {
		return nil, errors.New("a share without its job")
	}
	ints := map[string]*int{"seq": &s.seq, "rank": &s.rank, "world": &s.world, "precision": &s.precision}
	for k, p := range ints {
		v, ok := intValue(m[k])
		if !ok || v < 0 || v > 1<<31 {
			return nil, fmt.Errorf("a share with a bad %s", k)
		}
		*p = v
	}
	dims, ok := m["shape"].([]any)
	if !ok && m["shape"] != nil {
		return nil, errors.New("a share with a bad shape")
	}
	for _, d := range dims {
		v, ok := intValue(d)
		if !ok || v < 0 {
			return nil, errors.New("a share with a bad shape")
		}
		s.shape = append(s.shape, v)
	}
	b, ok := m["share"].([]byte)
	if !ok || len(b)%8 != 0 {
		return nil, errors.New("a share without its words")
	}
	s.words = make([]uint64, len(b)/8)
	for i := range s.words {
		s.words[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return s, nil
}

// intValue reads an integer as serde decodes it.
func intValue(v any) (int, bool) {
	switch x := v.(type) {
	case int64:
		return int(x), true
	case uint64:
		if x > 1<<62 {
			return 0, false
		}
		return int(x), true
	case int:
		return x, true
	}
	return 0, false
}

// replaceShares returns v with each marked share replaced by its
// combined tensor.
func replaceShares(v any, combined map[int]*tensor.Tensor) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = replaceShares(e, combined)
		}
		return out
	case map[string]any:
		if m, ok := shareOf(x); ok {
			seq, _ := intValue(m["seq"])
			return combined[seq].Clone()
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = replaceShares(e, combined)
		}
		return out
	}
	return v
}
