package comm

// benchChild is the remote party of the process benchmarks (filled in below).
func benchChild(c Comm) int { return 0 }
