#!/usr/bin/python3
"""Export the PyTorch models of gomplab's ONNX parity test (TestPyTorchExports).

Usage: /usr/bin/python3 export_parity.py OUTDIR

Each model uses the layers and functions whose ONNX operators the importer
gained for CrypTen parity (Conv 1-D, ConvTranspose, Clip, Erf, ReduceSum,
ReduceMean, Pow, Expand, Where, Greater, Less, Equal, LeakyRelu, Resize,
Split, InstanceNormalization) and is exported with a dynamic batch size
(so its Reshape goes through Shape, Gather, Unsqueeze and Concat). Weights
are seeded; inputs go to <name>_input.npy and PyTorch's outputs, computed
in float64 from the float32 weights, to <name>_output.npy. Nothing is
downloaded and nothing is committed: the Go test runs this into a
temporary directory.
"""
import sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Parity1d(nn.Module):
    """Conv1d, LayerNorm (ReduceMean, Sub, Pow, Sqrt, Div), GELU (Erf),
    LeakyReLU, ConvTranspose1d, Hardtanh (Clip), a dynamic-batch flatten."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3, padding=1)
        self.ln = nn.LayerNorm(8)
        self.up = nn.ConvTranspose1d(4, 3, 3, stride=2, padding=1, output_padding=1)
        self.fc = nn.Linear(48, 5)
        with torch.no_grad():
            self.ln.weight.copy_(torch.rand(8) + 0.5)
            self.ln.bias.copy_(torch.randn(8) * 0.1)

    def forward(self, x):
        x = self.ln(self.conv(x))
        x = F.leaky_relu(F.gelu(x), 0.1)
        x = F.hardtanh(self.up(x), -1.5, 1.5)
        return self.fc(x.view(x.size(0), -1))


class Parity2d(nn.Module):
    """Conv2d, GroupNorm (InstanceNormalization), ReLU6 (Clip),
    ConvTranspose2d, nearest and bilinear upsampling (Resize), split and
    cat, where with comparisons, clamp with a lower bound only, pow and
    sums, a dynamic-batch flatten."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.gn = nn.GroupNorm(2, 4)
        self.up = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1)
        self.fc = nn.Linear(4 * 2 * 2 + 1, 3)
        with torch.no_grad():
            self.gn.weight.copy_(torch.rand(4) + 0.5)
            self.gn.bias.copy_(torch.randn(4) * 0.1)

    def forward(self, x):
        x = F.relu6(self.gn(self.conv(x)) * 3)
        x = self.up(x)                                   # 4 -> 8
        x = F.interpolate(x, scale_factor=2, mode="nearest")  # 8 -> 16
        x = F.interpolate(x, size=(6, 6), mode="bilinear", align_corners=False)
        a, b = torch.split(x, [1, 3], dim=1)
        x = torch.cat([b, a], dim=1)
        x = torch.where(x > 0.5, x, torch.where(x < 0.1, x * 0.5, x * x))
        x = torch.clamp(x, min=0.05)
        x = F.avg_pool2d(x, 3)                           # 6 -> 2
        s = x.pow(2).sum(dim=(1, 2, 3), keepdim=False).unsqueeze(1)
        return self.fc(torch.cat([x.view(x.size(0), -1), s.mean(dim=1, keepdim=True)], dim=1))


def export(model, name, example, run_on, opset):
    model.eval()
    torch.onnx.export(model, (example,), f"{out}/{name}.onnx", opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    with torch.no_grad():
        y = model.double()(run_on.double())
    np.save(f"{out}/{name}_input.npy", run_on.double().numpy())
    np.save(f"{out}/{name}_output.npy", y.numpy())


if __name__ == "__main__":
    out = sys.argv[1]
    torch.manual_seed(0)
    export(Parity1d(), "parity1d", torch.randn(2, 2, 8), torch.randn(3, 2, 8), 13)
    torch.manual_seed(1)
    export(Parity2d(), "parity2d", torch.randn(2, 3, 4, 4), torch.randn(3, 3, 4, 4), 13)
    torch.manual_seed(1)
    export(Parity2d(), "parity2d_opset11", torch.randn(2, 3, 4, 4), torch.randn(3, 3, 4, 4), 11)
