#!/usr/bin/python3
"""Make the ONNX fixtures of gomplab's mpc/nn tests.

Run from this directory with Debian's interpreter (it has python3-torch and
python3-onnx):  /usr/bin/python3 make_fixtures.py

Each model is built with a fixed seed, exported to <name>.onnx, and run on a
fixed input in float64 (the float32 weights widened exactly to float64), so
the Go importer, which computes in float64, can be held to ~1e-9. Inputs go
to <name>_input.npy and PyTorch's outputs to <name>_output.npy.

digits_mlp.onnx is different: a classifier *trained* here on synthetic
MNIST-shaped digits (the seven-segment images of Go's mpc/nn/dataset,
redrawn with numpy), the model alice holds in the model-hiding scenario.
A copy goes to cmd/gomplab/demo_model.onnx, which `gomplab demo` embeds.
"""
import shutil
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper


class MLP(nn.Module):
    """Gemm, Relu, Dropout (dropped in eval), Tanh, Softmax."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 32)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, 4)

    def forward(self, x):
        x = self.drop(F.relu(self.fc1(x)))
        x = torch.tanh(self.fc2(x))
        return F.softmax(self.fc3(x), dim=1)


class LeNet(nn.Module):
    """conv-relu-pool twice, then fc-relu-fc, on 1x28x28 (CrypTen's TFE network B)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5)
        self.conv2 = nn.Conv2d(16, 16, 5)
        self.fc1 = nn.Linear(256, 100)
        self.fc2 = nn.Linear(100, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


class Mixed(nn.Module):
    """Pad, Conv (stride, padding), BatchNormalization (2d and 1d), Relu,
    AveragePool, MaxPool with padding, Concat, GlobalAveragePool, Reshape,
    MatMul, Mul and Add with constants, Sigmoid, Transpose."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(3, 2, 3, stride=2, padding=1, bias=False)
        self.w = nn.Parameter(torch.randn(6, 5))
        self.bn1d = nn.BatchNorm1d(5)
        # Non-trivial running statistics, so eval mode is really tested.
        with torch.no_grad():
            self.bn.running_mean.copy_(torch.randn(4) * 0.5)
            self.bn.running_var.copy_(torch.rand(4) + 0.5)
            self.bn.weight.copy_(torch.rand(4) + 0.5)
            self.bn.bias.copy_(torch.randn(4) * 0.1)
            self.bn1d.running_mean.copy_(torch.randn(5) * 0.5)
            self.bn1d.running_var.copy_(torch.rand(5) + 0.5)

    def forward(self, x):
        p = F.pad(x, (1, 1, 1, 1))
        a = F.relu(self.bn(self.conv1(p)))
        a = F.max_pool2d(a, 3, stride=1, padding=1)
        b = F.avg_pool2d(a, 2)
        c = self.conv2(x)
        d = torch.cat([b, c], dim=1)
        e = F.adaptive_avg_pool2d(d, 1)
        f = e.reshape(-1, 6)
        g = f @ self.w
        h = g * 0.5 + 1.0
        i = self.bn1d(h)
        return torch.sigmoid(i).transpose(0, 1)


class Dynamic(nn.Module):
    """Exported with a dynamic batch size: x.view(x.size(0), -1) becomes a
    run-time Shape, Gather, Unsqueeze, Concat, Reshape chain."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, stride=2)
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        x = F.relu(self.conv(x))
        return self.fc(x.view(x.size(0), -1))


def export(model, name, x, opset, run_on=None, **kw):
    """Export model traced on x; store its float64 output on run_on (x by default)."""
    model.eval()
    kw.setdefault("do_constant_folding", True)
    torch.onnx.export(model, x, name + ".onnx", opset_version=opset,
                      input_names=["input"], output_names=["output"], **kw)
    if run_on is not None:
        x = run_on
    onnx.checker.check_model(onnx.load(name + ".onnx"))
    with torch.no_grad():
        y = model.double()(x.double()).numpy()
    model.float()
    np.save(name + "_input.npy", np.ascontiguousarray(x.double().numpy()))
    np.save(name + "_output.npy", np.ascontiguousarray(y))
    print(name, "opset", opset, "input", tuple(x.shape), "output", y.shape)


# Seven-segment strokes of each digit and their endpoints on the 28x28
# canvas, as in mpc/nn/dataset (x0, y0, x1, y1).
SEGMENTS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]
STROKES = {
    "a": (9, 5, 18, 5), "g": (9, 14, 18, 14), "d": (9, 23, 18, 23),
    "f": (9, 5, 9, 14), "b": (18, 5, 18, 14), "e": (9, 14, 9, 23), "c": (18, 14, 18, 23),
}


def digits(n, rng):
    """n images (n, 1, 28, 28) in [0, 1] and labels, drawn as Go's
    dataset.Digits draws them (same strokes, shifts, slant, thickness and
    noise; another random generator, so other images)."""
    side = 28
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float64)
    images = np.zeros((n, 1, side, side))
    labels = rng.integers(0, 10, n)
    for i, c in enumerate(labels):
        dx, dy = rng.integers(-3, 4, 2)
        slant = (rng.random() - 0.5) * 0.4
        width = 0.5 + 0.8 * rng.random()
        px = xs - dx + slant * (ys - 14)
        py = ys - dy
        d = np.full((side, side), np.inf)
        for seg in SEGMENTS[c]:
            x0, y0, x1, y1 = STROKES[seg]
            vx, vy = x1 - x0, y1 - y0
            t = np.clip(((px - x0) * vx + (py - y0) * vy) / (vx * vx + vy * vy), 0, 1)
            d = np.minimum(d, np.hypot(px - x0 - t * vx, py - y0 - t * vy))
        v = np.maximum(0, 1 - np.maximum(0, d - width))
        images[i, 0] = np.clip(v + rng.normal(0, 0.1, (side, side)), 0, 1)
    return images, labels


class DigitsMLP(nn.Module):
    """The network of CrypTen's access-control and model-hiding tutorials
    (784-128-128-10 with ReLU), on flattened 28x28 images."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def digits_mlp():
    """Train DigitsMLP on 6000 synthetic digits (3 epochs of Adam) and
    export it with a dynamic batch size; check it on 1000 fresh digits."""
    rng = np.random.default_rng(19)
    x, y = digits(6000, rng)
    x = torch.tensor(x.reshape(len(x), -1), dtype=torch.float32)
    y = torch.tensor(y)
    model = DigitsMLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(3):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    tx, ty = digits(1000, rng)
    model.eval()
    with torch.no_grad():
        pred = model(torch.tensor(tx.reshape(len(tx), -1), dtype=torch.float32)).argmax(1).numpy()
    print("digits_mlp: test accuracy %.3f on fresh digits" % (pred == ty).mean())
    sample, _ = digits(16, rng)
    export(model, "digits_mlp", torch.tensor(sample.reshape(16, -1), dtype=torch.float32), 13,
           dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    shutil.copyfile("digits_mlp.onnx", "../../../cmd/gomplab/demo_model.onnx")


def unsupported():
    """A graph with an operator gomplab does not map (Celu)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    node = helper.make_node("Celu", ["x"], ["y"], name="celu0", alpha=0.1)
    graph = helper.make_graph([node], "unsupported", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, "unsupported.onnx")


def crafted():
    """Identity, Constant (a tensor attribute), Concat of a constant, and
    Transpose, built by hand because PyTorch rarely emits the first two."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    t = helper.make_tensor_value_info("t", TensorProto.FLOAT, [3, 4])
    c = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    nodes = [
        helper.make_node("Identity", ["x"], ["a"], name="id0"),
        helper.make_node("Constant", [], ["c"], name="const0",
                         value=helper.make_tensor("cval", TensorProto.FLOAT, [2, 3], c.flatten())),
        helper.make_node("Concat", ["a", "c"], ["b"], name="cat0", axis=0),
        helper.make_node("Transpose", ["b"], ["t"], name="tr0", perm=[1, 0]),
    ]
    graph = helper.make_graph(nodes, "crafted", [x], [t])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, "crafted.onnx")
    xv = np.arange(6, dtype=np.float64).reshape(2, 3) - 2.5
    np.save("crafted_input.npy", xv)
    np.save("crafted_output.npy", np.ascontiguousarray(np.concatenate([xv, c.astype(np.float64)], 0).T))
    print("crafted opset 13")


def main():
    torch.manual_seed(7)
    export(MLP(), "mlp", torch.randn(8, 20), 13)
    torch.manual_seed(11)
    export(LeNet(), "lenet", torch.rand(64, 1, 28, 28), 13)
    torch.manual_seed(13)
    mixed = Mixed()
    x = torch.randn(4, 3, 8, 8)
    # PRESERVE keeps BatchNormalization nodes: in EVAL mode the exporter folds
    # them into the convolution's float32 weights, and the float64 reference
    # would then differ by float32 rounding.
    export(mixed, "mixed", x, 13, training=torch.onnx.TrainingMode.PRESERVE)
    # The same model at opset 9: Pad takes attributes, Softmax/Flatten rules differ.
    export(mixed, "mixed_opset9", x, 9, training=torch.onnx.TrainingMode.PRESERVE)
    torch.manual_seed(17)
    export(Dynamic(), "dynamic", torch.randn(2, 2, 5, 5), 13, run_on=torch.randn(5, 2, 5, 5),
           dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    unsupported()
    crafted()
    torch.manual_seed(19)
    digits_mlp()


if __name__ == "__main__":
    main()
