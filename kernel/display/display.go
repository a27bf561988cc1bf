// Package display publishes rich output (HTML, Markdown, images, plots,
// JSON, progress bars) from notebook cells run by the gomplab Jupyter
// kernel. Cells import it as "gomplab/display" or by its full path.
//
// A cell's last expression is rendered automatically through Auto, so a
// value only needs a method such as HTML() string or PNG() []byte to show up
// richly: the renderer interfaces (HTMLer, PNGer, ...) are type aliases of
// plain interface types, so a library satisfies them without importing this
// package. Explicit calls (Display, Show, DisplayWithID, Update,
// ClearOutput, NewProgress) publish immediately, while the cell runs.
//
// Outside the kernel the publishing functions return ErrNoKernel; the
// constructors (HTML, PNG, Plot, ...) work anywhere.
package display

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/gomplab/gomplab/kernel/internal/iopub"
)

// MIME types the constructors produce.
const (
	MIMEText     = "text/plain"
	MIMEHTML     = "text/html"
	MIMEMarkdown = "text/markdown"
	MIMELatex    = "text/latex"
	MIMESVG      = "image/svg+xml"
	MIMEPNG      = "image/png"
	MIMEJPEG     = "image/jpeg"
	MIMEJSON     = "application/json"
	// MIMEJavaScript is run by the front end (classic Notebook runs it;
	// JupyterLab and VS Code show it only from trusted notebooks, or not).
	MIMEJavaScript = "application/javascript"
	MIMEPDF        = "application/pdf"
)

// MIMEMap maps MIME types to representations of one value. Binary
// representations ([]byte) are base64-encoded when sent, as Jupyter expects
// for images.
type MIMEMap = map[string]any

// Data is a MIME bundle: the representations of one value (Data), their
// metadata (for images: width and height) and transient fields such as
// display_id, which are not stored in the notebook.
type Data struct {
	Data      MIMEMap
	Metadata  MIMEMap
	Transient MIMEMap
}

// Renderer interfaces. The kernel renders a cell's last value through the
// first of these it implements (see Auto). They are aliases of unnamed
// interface types so that any type with the method satisfies them.
type (
	// Renderer returns a full bundle; only types that import display use it.
	Renderer = interface{ Render() Data }
	// SimpleRenderer returns just the representations.
	SimpleRenderer = interface{ SimpleRender() MIMEMap }
	// HTMLer renders as HTML (tensors do).
	HTMLer = interface{ HTML() string }
	// Markdowner renders as Markdown.
	Markdowner = interface{ Markdown() string }
	// Latexer renders as LaTeX.
	Latexer = interface{ Latex() string }
	// SVGer renders as an SVG document.
	SVGer = interface{ SVG() string }
	// PNGer renders as PNG bytes.
	PNGer = interface{ PNG() []byte }
	// JPEGer renders as JPEG bytes.
	JPEGer = interface{ JPEG() []byte }
	// JSONer renders as a JSON object.
	JSONer = interface{ JSON() map[string]any }
	// JavaScripter renders as JavaScript for the front end to run.
	JavaScripter = interface{ JavaScript() string }
	// PDFer renders as PDF bytes.
	PDFer = interface{ PDF() []byte }
)

// bundle returns Data holding one representation plus the text fallback.
func bundle(mime string, v any, text string) Data {
	return Data{Data: MIMEMap{mime: v, MIMEText: text}}
}

// Text returns a plain-text bundle.
func Text(s string) Data { return Data{Data: MIMEMap{MIMEText: s}} }

// HTML returns an HTML bundle.
func HTML(s string) Data { return bundle(MIMEHTML, s, s) }

// Markdown returns a Markdown bundle.
func Markdown(s string) Data { return bundle(MIMEMarkdown, s, s) }

// Latex returns a LaTeX bundle (for example "$x^2$").
func Latex(s string) Data { return bundle(MIMELatex, s, s) }

// SVG returns an SVG bundle.
func SVG(s string) Data { return bundle(MIMESVG, s, "<svg image>") }

// PNG returns a bundle for PNG-encoded bytes, with the image size as
// metadata when the header can be read.
func PNG(b []byte) Data { return imageBundle(MIMEPNG, b) }

// JPEG returns a bundle for JPEG-encoded bytes.
func JPEG(b []byte) Data { return imageBundle(MIMEJPEG, b) }

func imageBundle(mime string, b []byte) Data {
	d := bundle(mime, b, fmt.Sprintf("<%s image, %d bytes>", mime, len(b)))
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); err == nil {
		d.Metadata = MIMEMap{mime: MIMEMap{"width": cfg.Width, "height": cfg.Height}}
	}
	return d
}

// JavaScript returns a bundle of JavaScript that the front end runs in
// the output area (classic Notebook; JupyterLab only for trusted
// notebooks).
func JavaScript(s string) Data { return bundle(MIMEJavaScript, s, "<JavaScript>") }

// PDF returns a bundle for a PDF document.
func PDF(b []byte) Data {
	return bundle(MIMEPDF, b, fmt.Sprintf("<PDF document, %d bytes>", len(b)))
}

// Any returns a bundle holding v as the representation of MIME type mime,
// any type: text types as strings ([]byte is converted), binary types as
// bytes (base64-encoded when sent), JSON types as values.
func Any(mime string, v any) Data {
	if b, ok := v.([]byte); ok && (strings.HasPrefix(mime, "text/") || mime == MIMEJavaScript || mime == MIMESVG) {
		v = string(b)
	}
	text := fmt.Sprintf("<%s>", mime)
	if s, ok := v.(string); ok && strings.HasPrefix(mime, "text/") {
		text = s
	}
	if mime == MIMEText {
		return Data{Data: MIMEMap{MIMEText: v}}
	}
	return bundle(mime, v, text)
}

// MIME returns a raw bundle: data maps MIME types to representations,
// metadata holds per-type metadata (nil for none). A text/plain
// representation is added if data has none.
func MIME(data, metadata MIMEMap) Data {
	d := Data{Data: copyMap(data), Metadata: metadata}
	if _, ok := d.Data[MIMEText]; !ok {
		d.Data[MIMEText] = "<display data>"
	}
	return d
}

// File returns a bundle of the file at path, its type chosen by the
// file's extension or, failing that, its content: images, SVG, PDF,
// HTML, Markdown, LaTeX, JSON, JavaScript, else text.
func File(path string) (Data, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Data{}, fmt.Errorf("display.File: %w", err)
	}
	mime := ""
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		mime = MIMEPNG
	case ".jpg", ".jpeg":
		mime = MIMEJPEG
	case ".svg":
		return SVG(string(b)), nil
	case ".pdf":
		return PDF(b), nil
	case ".html", ".htm":
		return HTML(string(b)), nil
	case ".md", ".markdown":
		return Markdown(string(b)), nil
	case ".tex", ".latex":
		return Latex(string(b)), nil
	case ".json":
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return Data{}, fmt.Errorf("display.File %s: %w", path, err)
		}
		return JSON(v), nil
	case ".js":
		return JavaScript(string(b)), nil
	}
	if mime != "" {
		return imageBundle(mime, b), nil
	}
	if strings.HasPrefix(http.DetectContentType(b), "application/pdf") {
		return PDF(b), nil
	}
	return Bytes(b), nil
}

// JSON returns a bundle whose application/json representation is v
// encoded as JSON. A value that cannot be encoded yields a text bundle
// naming the error.
func JSON(v any) Data {
	b, err := json.Marshal(v)
	if err != nil {
		return Text(fmt.Sprintf("display.JSON: %v", err))
	}
	var obj any
	if err := json.Unmarshal(b, &obj); err != nil {
		return Text(fmt.Sprintf("display.JSON: %v", err))
	}
	pretty, _ := json.MarshalIndent(obj, "", "  ")
	return bundle(MIMEJSON, obj, string(pretty))
}

// Image returns a PNG bundle of img. A nil image yields a text bundle.
func Image(img image.Image) Data {
	if img == nil {
		return Text("display.Image: nil image")
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Text(fmt.Sprintf("display.Image: encode PNG: %v", err))
	}
	return PNG(buf.Bytes())
}

// Bytes returns a bundle for b, guessing its MIME type from its content
// (PNG, JPEG, SVG, HTML or plain text).
func Bytes(b []byte) Data {
	mime := http.DetectContentType(b)
	switch {
	case strings.HasPrefix(mime, "image/png"):
		return PNG(b)
	case strings.HasPrefix(mime, "image/jpeg"):
		return JPEG(b)
	case bytes.Contains(b[:min(len(b), 512)], []byte("<svg")):
		return SVG(string(b))
	case strings.HasPrefix(mime, "text/html"):
		return HTML(string(b))
	}
	return Text(string(b))
}

// Auto returns the richest bundle for v: v itself if it is a Data, else the
// first renderer interface v implements (Renderer, SimpleRenderer, HTMLer,
// Markdowner, SVGer, PNGer, JPEGer, JSONer, Latexer, JavaScripter, PDFer),
// an image.Image as PNG, and otherwise v's text form. A nil pointer is
// "<nil>". Every bundle has a text/plain entry.
func Auto(v any) Data {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		// A typed nil (var t *tensor.Tensor): its methods would dereference it.
		return Text("<nil>")
	}
	var d Data
	switch x := v.(type) {
	case Data:
		d = x
	case *Data:
		if x == nil {
			return Text("<nil>")
		}
		d = *x
	case Renderer:
		d = x.Render()
	case SimpleRenderer:
		d = Data{Data: x.SimpleRender()}
	case HTMLer:
		d = Data{Data: MIMEMap{MIMEHTML: x.HTML()}}
	case Markdowner:
		d = Data{Data: MIMEMap{MIMEMarkdown: x.Markdown()}}
	case SVGer:
		d = Data{Data: MIMEMap{MIMESVG: x.SVG()}}
	case PNGer:
		d = PNG(x.PNG())
	case JPEGer:
		d = JPEG(x.JPEG())
	case JSONer:
		d = Data{Data: MIMEMap{MIMEJSON: x.JSON()}}
	case Latexer:
		d = Data{Data: MIMEMap{MIMELatex: x.Latex()}}
	case JavaScripter:
		d = JavaScript(x.JavaScript())
	case PDFer:
		d = PDF(x.PDF())
	case image.Image:
		d = Image(x)
	default:
		return Text(fmt.Sprint(v))
	}
	if d.Data == nil {
		d.Data = MIMEMap{}
	}
	if _, ok := d.Data[MIMEText]; !ok {
		d.Data[MIMEText] = plainText(v)
	}
	return d
}

// plainText is the text/plain fallback of a rich value: its String or
// Error method if it has one, else fmt's default form.
func plainText(v any) string {
	switch x := v.(type) {
	case fmt.Stringer:
		return x.String()
	case error:
		return x.Error()
	case Data, *Data:
		return "<display data>"
	}
	return fmt.Sprint(v)
}

// Display publishes d as a display_data message, below the running cell.
func Display(d Data) error {
	return send("display_data", d)
}

// Show renders each value with Auto and publishes it.
func Show(values ...any) error {
	for _, v := range values {
		if err := Display(Auto(v)); err != nil {
			return err
		}
	}
	return nil
}

// DisplayWithID publishes d under display id id; later Update calls with
// the same id replace it in place, wherever it is shown.
func DisplayWithID(id string, d Data) error {
	return send("display_data", withID(d, id))
}

// Update replaces the output previously published under display id id.
func Update(id string, d Data) error {
	return send("update_display_data", withID(d, id))
}

// ClearOutput clears the running cell's output. With wait set the front end
// clears only when the next output arrives, which avoids flicker in
// animations.
func ClearOutput(wait bool) error {
	return iopub.Send(iopub.Output{Kind: "clear_output", Wait: wait})
}

// ErrNoKernel is returned by the publishing functions outside the kernel.
var ErrNoKernel = iopub.ErrNoKernel

func withID(d Data, id string) Data {
	t := MIMEMap{}
	for k, v := range d.Transient {
		t[k] = v
	}
	t["display_id"] = id
	d.Transient = t
	return d
}

func send(kind string, d Data) error {
	data := d.Data
	if data == nil {
		data = MIMEMap{}
	}
	if _, ok := data[MIMEText]; !ok {
		data = copyMap(data)
		data[MIMEText] = ""
	}
	return iopub.Send(iopub.Output{Kind: kind, Data: data, Metadata: d.Metadata, Transient: d.Transient})
}

func copyMap(m MIMEMap) MIMEMap {
	c := make(MIMEMap, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}
