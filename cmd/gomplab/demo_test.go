package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDemoCommand(t *testing.T) {
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&out)
	rootCmd.SetArgs([]string{"demo"})
	defer func() {
		rootCmd.SetOut(nil)
		rootCmd.SetErr(nil)
		rootCmd.SetArgs(nil)
	}()
	if err := rootCmd.Execute(); err != nil {
		t.Fatalf("gomplab demo: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"[[10. 21. 32.]\n   [13. 24. 35.]]", // broadcasting (2, 3) + (3,)
		"x.sum(dim=1) = [ 3. 12.]",
		"x.mean() = 2.5",
		"[[ 5. 14.]\n   [14. 50.]]", // x @ x.T
		"rows sum to [1. 1.]",
		"524288 data bytes -> 524300 encoded (12 of header); decoded bit-exactly: true",
		"received {accuracy: float64(0.93), epoch: int64(3)",
		"re-encodes to identical bytes: true",
		`message "result" #1 (version 1)`,
		"equal: true",
		"is refused:\n  serde: Unmarshal:",
		"truncated input",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(got, "false") {
		t.Errorf("demo reports a failed check:\n%s", got)
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", got)
	}
}
