// Command gomplab is the one binary of gomplab: Jupyter kernel, worker
// daemon, MPC party, benchmark runner and demo. Each subcommand lives in its
// own file and registers itself with the root command in an init function.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// rootCmd is the top of the command tree; subcommands add themselves to it.
var rootCmd = &cobra.Command{
	Use:   "gomplab",
	Short: "Privacy-preserving machine learning in Go, driven from Jupyter",
	Long: `gomplab joins Syft-style workers (private tensors held under tags, used
through pointers) with CrypTen-style encrypted tensors (secret-shared MPC),
in one binary that is Jupyter kernel, worker daemon and MPC party.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gomplab:", err)
		os.Exit(1)
	}
}
