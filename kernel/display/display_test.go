package display

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gomplab/gomplab/kernel/internal/iopub"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

type htmlThing struct{}

func (htmlThing) HTML() string   { return "<b>t</b>" }
func (htmlThing) String() string { return "thing" }

type mdThing struct{}

func (mdThing) Markdown() string { return "# md" }

type jsThing struct{}

func (jsThing) JavaScript() string { return "console.log(1)" }

type pdfThing struct{}

func (pdfThing) PDF() []byte { return []byte("%PDF-1.4") }

type ptrThing struct{ s string }

func (p *ptrThing) HTML() string { return p.s }

func TestAuto(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	cases := []struct {
		v          any
		mime, text string
	}{
		{htmlThing{}, MIMEHTML, "thing"},
		{mdThing{}, MIMEMarkdown, ""},
		{HTML("<i>x</i>"), MIMEHTML, "<i>x</i>"},
		{42, MIMEText, "42"},
		{img, MIMEPNG, ""},
		{jsThing{}, MIMEJavaScript, ""},
		{pdfThing{}, MIMEPDF, ""},
		{(*ptrThing)(nil), MIMEText, "<nil>"},
	}
	for _, c := range cases {
		d := Auto(c.v)
		if _, ok := d.Data[c.mime]; !ok {
			t.Errorf("Auto(%T) lacks %s: %v", c.v, c.mime, d.Data)
		}
		if _, ok := d.Data[MIMEText]; !ok {
			t.Errorf("Auto(%T) has no text/plain", c.v)
		}
		if c.text != "" && d.Data[MIMEText] != c.text {
			t.Errorf("Auto(%T) text = %v, want %q", c.v, d.Data[MIMEText], c.text)
		}
	}
	d := Auto(img)
	meta := d.Metadata[MIMEPNG].(MIMEMap)
	if meta["width"] != 3 || meta["height"] != 2 {
		t.Errorf("image metadata %v", meta)
	}
}

func TestJSONAndBytes(t *testing.T) {
	d := JSON(map[string]int{"a": 1})
	if d.Data[MIMEJSON].(map[string]any)["a"] != float64(1) {
		t.Errorf("JSON = %v", d.Data)
	}
	if d := JSON(make(chan int)); d.Data[MIMEJSON] != nil || !strings.Contains(d.Data[MIMEText].(string), "display.JSON") {
		t.Errorf("JSON of a channel = %v", d.Data)
	}
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.White)
	_ = png.Encode(&buf, img)
	if _, ok := Bytes(buf.Bytes()).Data[MIMEPNG]; !ok {
		t.Error("Bytes did not detect PNG")
	}
	if _, ok := Bytes([]byte("<svg xmlns='http://www.w3.org/2000/svg'></svg>")).Data[MIMESVG]; !ok {
		t.Error("Bytes did not detect SVG")
	}
}

func TestPlot(t *testing.T) {
	p := plot.New()
	p.Title.Text = "line"
	l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		t.Fatal(err)
	}
	p.Add(l)
	d := Plot(p)
	b, ok := d.Data[MIMEPNG].([]byte)
	if !ok || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("Plot gave %v", d.Data[MIMEText])
	}
	if s := PlotSVG(p, DefaultPlotWidth, DefaultPlotHeight).Data[MIMESVG].(string); !strings.Contains(s, "<svg") {
		t.Fatal("PlotSVG gave no SVG")
	}
	if _, ok := Plot(nil).Data[MIMEPNG]; ok {
		t.Fatal("nil plot rendered")
	}
}

// recorder captures what display publishes.
type recorder struct {
	mu  sync.Mutex
	out []iopub.Output
}

func (r *recorder) send(o iopub.Output) error {
	r.mu.Lock()
	r.out = append(r.out, o)
	r.mu.Unlock()
	return nil
}

func TestPublishing(t *testing.T) {
	if err := Display(Text("x")); !errors.Is(err, ErrNoKernel) {
		t.Fatalf("outside the kernel: %v", err)
	}
	r := &recorder{}
	iopub.SetSender(r.send)
	defer iopub.SetSender(nil)
	_ = Show(htmlThing{})
	_ = DisplayWithID("id1", Text("a"))
	_ = Update("id1", Text("b"))
	_ = ClearOutput(true)
	p := NewProgress("train", 4)
	for i := 0; i < 4; i++ {
		p.Add(1)
	}
	p.Done()
	kinds := []string{}
	for _, o := range r.out {
		kinds = append(kinds, o.Kind)
	}
	want := "display_data display_data update_display_data clear_output display_data"
	if got := strings.Join(kinds[:5], " "); got != want {
		t.Fatalf("kinds %q, want prefix %q", got, want)
	}
	if r.out[2].Transient["display_id"] != "id1" || !r.out[3].Wait {
		t.Fatalf("update/clear fields: %+v %+v", r.out[2], r.out[3])
	}
	last := r.out[len(r.out)-1]
	if last.Kind != "update_display_data" || last.Transient["display_id"] != p.ID() ||
		!strings.Contains(last.Data[MIMEText].(string), "4/4 (100%)") {
		t.Fatalf("final progress update %+v", last)
	}
}

func ExampleAuto() {
	d := Auto(HTML("<b>hi</b>"))
	fmt.Println(d.Data[MIMEHTML], d.Data[MIMEText])
	// Output: <b>hi</b> <b>hi</b>
}

// TestFileAndRawBundles: gophernotes' JavaScript, PDF, File and MIME
// bundles.
func TestFileAndRawBundles(t *testing.T) {
	dir := t.TempDir()
	var png1 bytes.Buffer
	if err := png.Encode(&png1, image.NewGray(image.Rect(0, 0, 2, 5))); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"a.png": png1.Bytes(), "b.svg": []byte("<svg></svg>"), "c.pdf": []byte("%PDF-1.4\n"),
		"d.html": []byte("<p>x</p>"), "e.md": []byte("# t"), "f.json": []byte(`{"k": [1, 2]}`),
		"g.js": []byte("alert(1)"), "h.txt": []byte("plain"), "noext": []byte("%PDF-1.7\n"),
	}
	want := map[string]string{"a.png": MIMEPNG, "b.svg": MIMESVG, "c.pdf": MIMEPDF, "d.html": MIMEHTML,
		"e.md": MIMEMarkdown, "f.json": MIMEJSON, "g.js": MIMEJavaScript, "h.txt": MIMEText, "noext": MIMEPDF}
	for name, b := range files {
		p := dir + "/" + name
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := File(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := d.Data[want[name]]; !ok {
			t.Errorf("File(%s) = %v, want %s", name, d.Data, want[name])
		}
	}
	if d, _ := File(dir + "/a.png"); d.Metadata[MIMEPNG].(MIMEMap)["height"] != 5 {
		t.Errorf("File PNG metadata %v", d.Metadata)
	}
	if _, err := File(dir + "/missing.png"); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing file: %v", err)
	}
	d := MIME(MIMEMap{"application/vnd.custom+json": map[string]any{"a": 1}}, MIMEMap{"x": 1})
	if d.Data["application/vnd.custom+json"] == nil || d.Data[MIMEText] == nil || d.Metadata["x"] != 1 {
		t.Errorf("MIME = %+v", d)
	}
	if d := Any("text/csv", []byte("a,b")); d.Data["text/csv"] != "a,b" {
		t.Errorf("Any text = %v", d.Data)
	}
	if d := Any("application/octet-stream", []byte{1}); !bytes.Equal(d.Data["application/octet-stream"].([]byte), []byte{1}) {
		t.Errorf("Any bytes = %v", d.Data)
	}
	if d := JavaScript("x()"); d.Data[MIMEJavaScript] != "x()" {
		t.Errorf("JavaScript = %v", d.Data)
	}
}
