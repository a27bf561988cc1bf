// Package hostile holds tests of a real worker daemon (the gomplab
// binary, over TLS) under clients that try to exhaust it: floods before
// authentication, an authenticated user asking for more memory than the
// worker allows, and a hundred clients at once. Each reads the daemon's
// resident memory (VmRSS and VmHWM from /proc) against a hard limit
// above its idle size. It is test support and imports anything.
package hostile
