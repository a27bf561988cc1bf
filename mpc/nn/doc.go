// Package nn is gomplab's neural-network library: automatic
// differentiation, layers, losses, optimizers and model import, over
// plaintext tensors and encrypted (secret-shared) ones alike, as CrypTen's
// crypten.nn is to PyTorch's torch.nn.
//
// A Variable holds a *tensor.Tensor or an encrypted tensor and records the
// operations applied to it; Backward runs them in reverse to fill in
// gradients. Every operation is written once against a small internal value
// interface with two implementations, plaintext and encrypted, so a model
// trains and infers the same way on either, and the plaintext run is the
// reference the encrypted one is checked against. Operands mix freely: an
// encrypted input times plaintext weights is encrypted.
//
// Modules (Linear, Conv2d, ReLU, MaxPool2d, BatchNorm2d, Sequential, ...)
// mirror torch.nn, with state-dict names as PyTorch gives them ("0.weight").
// A Model wraps a root module with training/evaluation mode, state dicts,
// and an architecture Spec that can be sent to other parties without the
// weights. Package nn/onnx imports models exported by PyTorch.
//
// Errors: an operation on bad input (mismatched shapes) or a failed protocol
// step returns a Variable carrying the error, passed along by later
// operations and reported by Err, Backward, PlainText and Module.Forward.
package nn
