package install

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestInstallPrefixAndUninstall(t *testing.T) {
	prefix := t.TempDir()
	exe := filepath.Join(prefix, "bin", "gomplab")
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	opt := Options{Scope: Prefix, Prefix: prefix, Executable: exe}
	paths, err := Install(opt)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(prefix, "share", "jupyter", "kernels", "gomplab")
	if len(paths) != 3 || filepath.Dir(paths[0]) != dir {
		t.Fatalf("paths %v, want 3 files in %s", paths, dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Argv[0] != exe || spec.Argv[1] != "kernel" || spec.Argv[3] != "{connection_file}" ||
		spec.DisplayName != "Go (gomplab)" || spec.Language != "go" || spec.InterruptMode != "message" {
		t.Fatalf("spec %+v", spec)
	}
	for _, size := range []int{32, 64} {
		f, err := os.ReadFile(filepath.Join(dir, "logo-"+itoa(size)+"x"+itoa(size)+".png"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(f))
		if err != nil || cfg.Width != size || cfg.Height != size {
			t.Fatalf("logo %d: %+v %v", size, cfg, err)
		}
	}
	if got, err := Uninstall(opt); err != nil || got != dir {
		t.Fatalf("Uninstall = %q, %v", got, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("spec dir still there: %v", err)
	}
	if _, err := Uninstall(opt); err == nil {
		t.Fatal("second Uninstall succeeded")
	}
}

func TestDataDirs(t *testing.T) {
	t.Setenv("JUPYTER_DATA_DIR", "/data/jup")
	if d, _ := DataDir(Options{Scope: User}); d != "/data/jup" {
		t.Errorf("user with JUPYTER_DATA_DIR = %s", d)
	}
	t.Setenv("VIRTUAL_ENV", "/venv")
	t.Setenv("CONDA_PREFIX", "")
	if d, _ := DataDir(Options{Scope: SysPrefix}); d != "/venv/share/jupyter" {
		t.Errorf("sys-prefix = %s", d)
	}
	if _, err := DataDir(Options{Scope: Prefix}); err == nil {
		t.Error("empty prefix accepted")
	}
	if _, err := KernelDir(Options{Scope: Prefix, Prefix: "/p", Name: "../evil"}); err == nil {
		t.Error("path-escaping name accepted")
	}
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }
