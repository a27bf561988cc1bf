// Package layers holds no code, only the test that keeps gomplab's
// packages in their layers (docs/architecture.md): a package imports only
// from its own layer or the layers below, so that each capability can be
// read, tested and changed without the ones above it.
package layers
