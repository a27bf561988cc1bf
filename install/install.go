// Package install writes and removes gomplab's Jupyter kernelspec: a
// directory kernels/gomplab holding kernel.json (whose argv runs this
// binary's "kernel" subcommand) and two logo PNGs, under the data
// directory Jupyter searches for the chosen scope (user, sys-prefix, or an
// explicit prefix).
package install

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// DefaultName is the kernelspec name (the directory under kernels/).
const DefaultName = "gomplab"

// Scope says where the kernelspec goes.
type Scope int

// Scopes, as in "jupyter kernelspec install".
const (
	User      Scope = iota // the user's Jupyter data directory
	SysPrefix              // the active Python environment's share/jupyter
	Prefix                 // PREFIX/share/jupyter
)

// Options configure Install and Uninstall.
type Options struct {
	Scope Scope
	// Prefix is the directory for the Prefix scope.
	Prefix string
	// Name defaults to DefaultName.
	Name string
	// Executable is the gomplab binary the spec runs; it defaults to the
	// running binary. It is made absolute, since Jupyter does not search
	// PATH the way a shell does.
	Executable string
}

// Spec is the content of kernel.json.
type Spec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata"`
}

// NewSpec returns the kernelspec that runs exe.
func NewSpec(exe string) Spec {
	return Spec{
		Argv:          []string{exe, "kernel", "-f", "{connection_file}"},
		DisplayName:   "Go (gomplab)",
		Language:      "go",
		InterruptMode: "message",
		Metadata:      map[string]any{"debugger": false},
	}
}

// DataDir returns the Jupyter data directory for the scope in opt.
func DataDir(opt Options) (string, error) {
	switch opt.Scope {
	case Prefix:
		if opt.Prefix == "" {
			return "", errors.New("install: --prefix needs a directory")
		}
		abs, err := filepath.Abs(opt.Prefix)
		if err != nil {
			return "", fmt.Errorf("install: prefix %q: %w", opt.Prefix, err)
		}
		return filepath.Join(abs, "share", "jupyter"), nil
	case SysPrefix:
		for _, env := range []string{"CONDA_PREFIX", "VIRTUAL_ENV"} {
			if p := os.Getenv(env); p != "" {
				return filepath.Join(p, "share", "jupyter"), nil
			}
		}
		for _, py := range []string{"python3", "python"} {
			out, err := exec.Command(py, "-c", "import sys; print(sys.prefix)").Output()
			if err == nil && strings.TrimSpace(string(out)) != "" {
				return filepath.Join(strings.TrimSpace(string(out)), "share", "jupyter"), nil
			}
		}
		return "", errors.New("install: --sys-prefix: no Python environment found (set VIRTUAL_ENV or use --prefix)")
	}
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("install: find home directory: %w", err)
	}
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Jupyter"), nil
	case "windows":
		if a := os.Getenv("APPDATA"); a != "" {
			return filepath.Join(a, "jupyter"), nil
		}
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "jupyter"), nil
	}
	return filepath.Join(home, ".local", "share", "jupyter"), nil
}

// KernelDir returns the kernelspec directory for opt.
func KernelDir(opt Options) (string, error) {
	d, err := DataDir(opt)
	if err != nil {
		return "", err
	}
	name := opt.Name
	if name == "" {
		name = DefaultName
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("install: bad kernel name %q", name)
	}
	return filepath.Join(d, "kernels", name), nil
}

// Install writes kernel.json and the logos and returns the paths written.
func Install(opt Options) ([]string, error) {
	dir, err := KernelDir(opt)
	if err != nil {
		return nil, err
	}
	exe := opt.Executable
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("install: locate gomplab binary: %w", err)
		}
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("install: create %s: %w", dir, err)
	}
	spec, err := json.MarshalIndent(NewSpec(exe), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("install: encode kernel.json: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{{"kernel.json", append(spec, '\n')}, {"logo-32x32.png", Logo(32)}, {"logo-64x64.png", Logo(64)}}
	var written []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return written, fmt.Errorf("install: write %s: %w", p, err)
		}
		written = append(written, p)
	}
	return written, nil
}

// Uninstall removes the kernelspec directory and returns it. Removing a
// spec that is not installed is an error naming the directory looked at.
func Uninstall(opt Options) (string, error) {
	dir, err := KernelDir(opt)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "kernel.json")); err != nil {
		return "", fmt.Errorf("uninstall: no kernelspec at %s", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("uninstall: remove %s: %w", dir, err)
	}
	return dir, nil
}

// Logo returns a size×size PNG: a teal disc holding two interlocked rings
// (two parties computing together), drawn in code so no binary asset is
// needed.
func Logo(size int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	s := float64(size)
	c := s / 2
	bg := color.NRGBA{0x00, 0x7d, 0x9c, 0xff}
	ring := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			if math.Hypot(px-c, py-c) > s*0.48 {
				continue
			}
			img.Set(x, y, bg)
			for _, cx := range []float64{c - s*0.12, c + s*0.12} {
				d := math.Hypot(px-cx, py-c)
				if math.Abs(d-s*0.2) < s*0.045 {
					img.Set(x, y, ring)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(fmt.Sprintf("install: encode logo: %v", err))
	}
	return buf.Bytes()
}
