package display

import (
	"bytes"
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Default plot size: wide enough for a notebook column.
const (
	DefaultPlotWidth  = 6 * vg.Inch
	DefaultPlotHeight = 4 * vg.Inch
)

// Plot renders p as a PNG bundle of the default size.
func Plot(p *plot.Plot) Data { return PlotSize(p, DefaultPlotWidth, DefaultPlotHeight) }

// PlotSize renders p as a PNG bundle of the given size.
func PlotSize(p *plot.Plot, w, h vg.Length) Data {
	if p == nil {
		return Text("display.Plot: nil plot")
	}
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return Text(fmt.Sprintf("display.Plot: %v", err))
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return Text(fmt.Sprintf("display.Plot: render PNG: %v", err))
	}
	return PNG(buf.Bytes())
}

// PlotSVG renders p as an SVG bundle of the given size.
func PlotSVG(p *plot.Plot, w, h vg.Length) Data {
	if p == nil {
		return Text("display.PlotSVG: nil plot")
	}
	wt, err := p.WriterTo(w, h, "svg")
	if err != nil {
		return Text(fmt.Sprintf("display.PlotSVG: %v", err))
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return Text(fmt.Sprintf("display.PlotSVG: render SVG: %v", err))
	}
	return SVG(buf.String())
}
