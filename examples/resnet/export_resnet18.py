#!/usr/bin/env python3
"""Export torchvision's ResNet-18 with seeded random weights to ONNX.

examples/resnet runs this at test time (nothing is downloaded and no
weights are committed): torchvision builds the network with its own
initialization from the seed, the batch-norm layers get seeded random
statistics and affine parameters (so that none is an identity), and the
model is exported at 224x224 with a dynamic batch size. The script also
writes seeded random input images (ImageNet-normalized scale) and
PyTorch's logits for them, so the Go side can check its plaintext import
against PyTorch before comparing encrypted inference with it.

Usage: export_resnet18.py OUT_DIR [--seed 1] [--images 8]
Writes OUT_DIR/resnet18.onnx, images.npy (N, 3, 224, 224) and logits.npy (N, 1000).
Needs Debian's python3-torch, python3-torchvision and python3-onnx.
"""
import argparse
import os

import numpy as np
import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--images", type=int, default=8)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    model = torchvision.models.resnet18()  # random initialization, no download
    g = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
    model.eval()
    images = torch.randn(args.images, 3, 224, 224, generator=g)
    os.makedirs(args.out, exist_ok=True)
    torch.onnx.export(
        model, images[:1], os.path.join(args.out, "resnet18.onnx"),
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13, do_constant_folding=True)
    with torch.no_grad():
        logits = model(images)
    np.save(os.path.join(args.out, "images.npy"), images.numpy().astype(np.float64))
    np.save(os.path.join(args.out, "logits.npy"), logits.numpy().astype(np.float64))


if __name__ == "__main__":
    main()
