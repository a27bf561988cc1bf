//go:build multihost

package multihost

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runNotebook executes a notebook with the gomplab kernel in Jupyter's
// nbclient, as nbconvert --execute would, and writes the executed copy.
const runNotebook = `import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name="gomplab", timeout=600, resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, sys.argv[2])
`

// The tutorial notebook notebooks/deploy/containers.ipynb (CrypTen's
// Tutorial 6, parties on separate machines) run by the gomplab kernel
// against the three containers: it connects with pinned certificates,
// the owners store private data and approve the job, two parties run it
// with carol's worker as dealer, and it renders the result, checked
// against the pooled computation inside the notebook.
func TestContainersNotebook(t *testing.T) {
	py := os.Getenv("PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if out, err := exec.Command(py, "-c", "import nbclient, nbformat, jupyter_client").CombinedOutput(); err != nil {
		t.Fatalf("%s lacks nbclient, nbformat or jupyter_client (bash .ci/run installs python3-nbclient, python3-nbformat, jupyter-client): %v: %s", py, err, out)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gomplab")
	if _, err := run(cl.root, nil, "go", "build", "-o", bin, "./cmd/gomplab"); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(dir, "prefix")
	if _, err := run(cl.root, nil, bin, "install-kernel", "--prefix", prefix); err != nil {
		t.Fatal(err)
	}
	info := map[string]map[string]string{}
	for _, n := range cl.names {
		h := cl.hosts[n]
		info[n] = map[string]string{"addr": h.addr, "fingerprint": h.fingerprint, "user": "ds", "token": h.userToken, "owner_token": h.ownerToken}
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	clusterFile := filepath.Join(dir, "cluster.json")
	if err := os.WriteFile(clusterFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "run.py")
	os.WriteFile(script, []byte(runNotebook), 0o644)
	src := filepath.Join(cl.root, "notebooks", "deploy", "containers.ipynb")
	executed := filepath.Join(dir, "executed.ipynb")
	env := []string{"JUPYTER_PATH=" + filepath.Join(prefix, "share", "jupyter"), "JUPYTER_RUNTIME_DIR=" + filepath.Join(dir, "runtime"),
		"GOMPLAB_CLUSTER=" + clusterFile, "PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")}
	if _, err := run(filepath.Dir(src), env, py, script, src, executed, filepath.Dir(src)); err != nil {
		t.Fatalf("executing %s: %v", src, err)
	}

	raw, err := os.ReadFile(executed)
	if err != nil {
		t.Fatal(err)
	}
	// MULTIHOST_NOTEBOOK_OUT=FILE keeps the executed copy (the committed
	// notebook carries the outputs of such a run).
	if out := os.Getenv("MULTIHOST_NOTEBOOK_OUT"); out != "" {
		if err := os.WriteFile(out, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var nb struct {
		Cells []struct {
			Type    string `json:"cell_type"`
			Outputs []struct {
				Type string          `json:"output_type"`
				Text json.RawMessage `json:"text"`
				Data map[string]any  `json:"data"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(raw, &nb); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	images := 0
	for _, c := range nb.Cells {
		for _, o := range c.Outputs {
			if o.Type == "error" {
				t.Errorf("an error output: %s", raw)
			}
			var s any
			json.Unmarshal(o.Text, &s)
			switch v := s.(type) {
			case string:
				text.WriteString(v)
			case []any:
				for _, l := range v {
					text.WriteString(l.(string))
				}
			}
			if _, ok := o.Data["image/png"]; ok {
				images++
			}
		}
	}
	out := text.String()
	t.Logf("notebook output:\n%s", out)
	for _, want := range []string{"with a wrong fingerprint:", "reading bob's sales ourselves:", "approved one run",
		"the dealer (carol) sent", "the decrypted outputs equal the pooled computation"} {
		if !strings.Contains(out, want) {
			t.Errorf("the notebook's output lacks %q", want)
		}
	}
	if images != 1 {
		t.Errorf("%d images rendered, want the plot", images)
	}
}
