package main

import (
	"os"

	"github.com/gomplab/gomplab/sandbox"
	"github.com/spf13/cobra"
)

func init() {
	rootCmd.AddCommand(partyCmd())
}

// partyCmd is the child process a worker daemon starts for each MPC party
// it runs: the job arrives on stdin, the result leaves on stdout, and the
// process applies its resource limits before running any job code.
func partyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "party",
		Short: "Run one MPC party of a job (started by a worker daemon, not by hand)",
		Long: `Run one MPC party of an encrypted-computation job in the sandbox.

A worker daemon starts this command once per party it runs: the job (source,
rank, master address, arguments) arrives on standard input as framed
MessagePack, tensors the party loads or saves by tag travel over the same pipe
(the party never opens the worker's store), and the result is written to
standard output. The process sets its own resource limits (address space,
CPU time, open files, stack) before running any job code.`,
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			os.Exit(sandbox.ServeChild(os.Stdin, os.Stdout))
			return nil
		},
	}
}
