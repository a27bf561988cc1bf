package tensor

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ReadCSV reads a table of numbers into a 2-D tensor of shape (rows,
// columns). With header true the first record holds the column names,
// which are returned. Fields may hold any number strconv.ParseFloat
// accepts (including "nan" and "inf"), with surrounding spaces; a row of
// the wrong length or a field that is not a number is an error naming its
// line and column. Blank lines are skipped.
func ReadCSV(r io.Reader, header bool) (*Tensor, []string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // lengths are checked below, with a clearer message
	cr.ReuseRecord = true
	var names []string
	cols := -1
	if header {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil, nil, errors.New("csv: no header row")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("csv: header: %w", err)
		}
		names = make([]string, len(rec))
		for i, s := range rec {
			names[i] = strings.TrimSpace(s)
		}
		cols = len(names)
	}
	data := []float64{}
	rows := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if cols < 0 {
			cols = len(rec)
		}
		if len(rec) != cols {
			return nil, nil, fmt.Errorf("csv: line %d (data row %d) has %d fields, want %d", line, rows+1, len(rec), cols)
		}
		for j, s := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				col := fmt.Sprintf("column %d", j+1)
				if names != nil && names[j] != "" {
					col += fmt.Sprintf(" (%q)", names[j])
				}
				return nil, nil, fmt.Errorf("csv: line %d (data row %d), %s: %q is not a number", line, rows+1, col, s)
			}
			data = append(data, v) // out-of-range values are ±Inf or 0, as in NumPy
		}
		rows++
	}
	return &Tensor{shape: []int{rows, max(cols, 0)}, data: data}, names, nil
}

// WriteCSV writes t as CSV: a 2-D tensor row by row, a 1-D tensor as one
// column, a 0-d tensor as one field. If header is not nil it is written
// first and must name every column. Numbers are written in the shortest form
// that reads back exactly.
func WriteCSV(w io.Writer, t *Tensor, header []string) error {
	rows, cols := 1, 1
	switch len(t.shape) {
	case 0:
	case 1:
		rows = t.shape[0]
	case 2:
		rows, cols = t.shape[0], t.shape[1]
	default:
		return fmt.Errorf("csv: cannot write a tensor of shape %v: want at most 2 dims", t.shape)
	}
	cw := csv.NewWriter(w)
	if header != nil {
		if len(header) != cols {
			return fmt.Errorf("csv: %d header names for %d columns", len(header), cols)
		}
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("csv: write header: %w", err)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("csv: write header: %w", err)
		}
	}
	bw := bufio.NewWriter(w)
	var line []byte
	for i := 0; i < rows; i++ {
		line = line[:0]
		for j := 0; j < cols; j++ {
			if j > 0 {
				line = append(line, ',')
			}
			line = strconv.AppendFloat(line, t.data[i*cols+j], 'g', -1, 64)
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("csv: write row %d: %w", i+1, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("csv: write: %w", err)
	}
	return nil
}

// LoadCSV reads a CSV file (see ReadCSV).
func LoadCSV(path string, header bool) (*Tensor, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	t, names, err := ReadCSV(bufio.NewReader(f), header)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", path, err)
	}
	return t, names, nil
}

// SaveCSV writes t to a CSV file (see WriteCSV).
func SaveCSV(path string, t *Tensor, header []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := WriteCSV(f, t, header); err != nil {
		f.Close()
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}
