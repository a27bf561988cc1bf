package logfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l, err := Open(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				fmt.Fprintf(l, "writer %d record %03d\n", g, i)
			}
		}()
	}
	wg.Wait()
	l.Close()
	var total int64
	for _, name := range []string{"", ".1", ".2", ".3"} {
		b, err := os.ReadFile(path + name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(b) > 1000 {
			t.Errorf("%s holds %d bytes, bound 1000", name, len(b))
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			if !bytes.HasPrefix(line, []byte("writer ")) || len(line) != len("writer 0 record 000") {
				t.Fatalf("%s: torn record %q", name, line)
			}
		}
		total += int64(len(b))
	}
	if _, err := os.Stat(path + ".4"); !os.IsNotExist(err) {
		t.Errorf("a fourth old file exists: %v", err)
	}
	if total > 4000 {
		t.Errorf("%d bytes on disk", total)
	}
	if _, err := l.Write([]byte("x")); err == nil {
		t.Error("write after Close")
	}
}

func TestReopenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	l, _ := Open(path, 100, 1)
	l.Write([]byte("0123456789\n"))
	l.Close()
	l, _ = Open(path, 100, 1)
	defer l.Close()
	for range 9 {
		l.Write([]byte("0123456789\n"))
	}
	b, _ := os.ReadFile(path + ".1")
	c, _ := os.ReadFile(path)
	if len(b) != 99 || len(c) != 11 {
		t.Errorf("old %d bytes, current %d", len(b), len(c))
	}
}
