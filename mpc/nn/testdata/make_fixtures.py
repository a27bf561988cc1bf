#!/usr/bin/python3
"""Make the ONNX fixtures of gomplab's mpc/nn tests.

Run from this directory with Debian's interpreter (it has python3-torch and
python3-onnx):  /usr/bin/python3 make_fixtures.py

Each model is built with a fixed seed, exported to <name>.onnx, and run on a
fixed input in float64 (the float32 weights widened exactly to float64), so
the Go importer, which computes in float64, can be held to ~1e-9. Inputs go
to <name>_input.npy and PyTorch's outputs to <name>_output.npy.
"""
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


def unsupported():
    """A graph with an operator gomplab does not map (LeakyRelu)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    node = helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky0", alpha=0.1)
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


if __name__ == "__main__":
    main()
