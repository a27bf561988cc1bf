package onnx

import (
	"fmt"
	"math"

	"github.com/gomplab/gomplab/mpc/nn"
)

// convertMore maps the operators added for CrypTen parity (see
// nn.GraphSpec and addParityOps in package nn for their graph form).
func (im *importer) convertMore(n *Node, ns *nn.NodeSpec) (*nn.NodeSpec, error) {
	switch n.OpType {
	case "Erf", "Equal", "Greater", "Less", "Where", "Range":
	case "LeakyRelu":
		attrFloats(n, ns, "alpha")
	case "Clip":
		if im.opset < 11 {
			attrFloats(n, ns, "min", "max")
			break
		}
		for j, k := range []string{"min", "max"} {
			if v, ok, err := im.constScalar(n, j+1, k); err != nil {
				return nil, err
			} else if ok {
				ns.Floats[k] = v
			}
		}
		ns.Inputs = ns.Inputs[:1]
	case "Pow":
		if v, ok, err := im.constScalar(n, 1, "exponent"); err == nil && ok {
			ns.Floats["exponent"] = v
			ns.Inputs = ns.Inputs[:1]
		}
	case "Expand":
		if c, ok := im.consts[n.Inputs[1]]; ok && len(n.Inputs) == 2 {
			v, err := intsOf(c, "shape")
			if err != nil {
				return nil, err
			}
			ns.Ints["shape"] = v
			ns.Inputs = ns.Inputs[:1]
		}
	case "ReduceSum", "ReduceMean":
		attrInts(n, ns, "keepdims", "noop_with_empty_axes")
		inputAxes := (n.OpType == "ReduceSum" && im.opset >= 13) || im.opset >= 18
		if !inputAxes {
			attrInts(n, ns, "axes")
		} else if _, err := im.constInput(n, ns, 1, "axes"); err != nil {
			return nil, err
		}
		ns.Inputs = ns.Inputs[:1]
	case "ConvTranspose":
		if err := noAutoPad(n); err != nil {
			return nil, err
		}
		if n.Attr("output_shape") != nil {
			return nil, fmt.Errorf("attribute output_shape is not supported; export with pads and output_padding")
		}
		attrInts(n, ns, "kernel_shape", "strides", "pads", "dilations", "group", "output_padding")
	case "Resize":
		return im.convertResize(n, ns)
	case "InstanceNormalization":
		attrFloats(n, ns, "epsilon")
	case "LayerNormalization":
		attrInts(n, ns, "axis")
		attrFloats(n, ns, "epsilon")
		if len(n.Outputs) > 1 {
			ns.Outputs = ns.Outputs[:1] // the mean and inverse deviation outputs are not computed
		}
	case "Split":
		attrInts(n, ns, "axis")
		if im.opset < 13 {
			attrInts(n, ns, "split")
		} else if _, err := im.constInput(n, ns, 1, "split"); err != nil {
			return nil, err
		}
		ns.Inputs = ns.Inputs[:1]
	default:
		return nil, fmt.Errorf("unsupported operator %s", n.OpType)
	}
	return ns, nil
}

// constScalar reads optional input j, which must be a constant scalar.
func (im *importer) constScalar(n *Node, j int, what string) (float64, bool, error) {
	if j >= len(n.Inputs) || n.Inputs[j] == "" {
		return 0, false, nil
	}
	c, ok := im.consts[n.Inputs[j]]
	if !ok || c.t.Size() != 1 {
		return 0, false, fmt.Errorf("input %d (%s) must be a constant scalar", j, what)
	}
	return c.t.Data()[0], true, nil
}

// Resize's mode names and their graph codes.
var (
	resizeModes  = map[string]int{"nearest": 0, "linear": 1}
	resizeCoords = map[string]int{"half_pixel": 0, "asymmetric": 1, "align_corners": 2, "pytorch_half_pixel": 3}
	nearestModes = map[string]int{"round_prefer_floor": 0, "round_prefer_ceil": 1, "floor": 2, "ceil": 3}
)

// convertResize turns Resize's constant scales or sizes and its string
// attributes into the graph operator's attributes.
func (im *importer) convertResize(n *Node, ns *nn.NodeSpec) (*nn.NodeSpec, error) {
	str := func(name, def string) string {
		if a := n.Attr(name); a != nil {
			return a.S
		}
		return def
	}
	mode := str("mode", "nearest")
	m, ok := resizeModes[mode]
	if !ok {
		return nil, fmt.Errorf("mode %q is not supported (nearest or linear)", mode)
	}
	coord := str("coordinate_transformation_mode", "half_pixel")
	nearest := str("nearest_mode", "round_prefer_floor")
	if im.opset < 11 { // Upsample's rule
		coord, nearest = "asymmetric", "floor"
	}
	c, ok := resizeCoords[coord]
	if !ok {
		return nil, fmt.Errorf("coordinate_transformation_mode %q is not supported", coord)
	}
	nm, ok := nearestModes[nearest]
	if !ok {
		return nil, fmt.Errorf("nearest_mode %q is not supported", nearest)
	}
	for _, a := range []string{"antialias", "exclude_outside"} {
		if at := n.Attr(a); at != nil && at.I != 0 {
			return nil, fmt.Errorf("attribute %s=%d is not supported", a, at.I)
		}
	}
	if n.Attr("axes") != nil {
		return nil, fmt.Errorf("attribute axes is not supported")
	}
	if p := str("keep_aspect_ratio_policy", "stretch"); p != "stretch" {
		return nil, fmt.Errorf("keep_aspect_ratio_policy %q is not supported", p)
	}
	ns.Ints["mode"], ns.Ints["coord"], ns.Ints["nearest"] = []int{m}, []int{c}, []int{nm}
	scalesAt, sizesAt := 2, 3
	if im.opset < 11 {
		scalesAt, sizesAt = 1, -1
	}
	if sizesAt > 0 && sizesAt < len(n.Inputs) && n.Inputs[sizesAt] != "" {
		if _, known := im.consts[n.Inputs[sizesAt]]; !known {
			// Sizes computed at run time (from the input's shape: a dynamic
			// batch), public, read by the operator.
			ns.Inputs = []string{n.Inputs[0], n.Inputs[sizesAt]}
			return ns, nil
		}
		if _, err := im.constInput(n, ns, sizesAt, "sizes"); err != nil {
			return nil, err
		}
	} else if scalesAt < len(n.Inputs) && n.Inputs[scalesAt] != "" {
		cs, ok := im.consts[n.Inputs[scalesAt]]
		if !ok {
			return nil, fmt.Errorf("input %d (scales) must be a constant", scalesAt)
		}
		for i, v := range cs.t.Data() {
			if i < 2 {
				if v != 1 {
					return nil, fmt.Errorf("scales %v: only spatial dims (2 and on) resize", cs.t.Data())
				}
				continue
			}
			if !(v > 0) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("scales %v", cs.t.Data())
			}
			ns.Floats[fmt.Sprintf("scale%d", i)] = v
		}
	} else {
		return nil, fmt.Errorf("neither scales nor sizes given")
	}
	ns.Inputs = ns.Inputs[:1]
	return ns, nil
}
