package main

import (
	"errors"

	"github.com/gomplab/gomplab/mpc"
	"github.com/spf13/cobra"
)

// benchCmd groups the benchmarks; each area adds its subcommand from its
// own file (bench_mpc.go: `bench mpc`).
var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Run gomplab's standard benchmarks (time, bytes, rounds, error)",
}

func init() {
	rootCmd.AddCommand(benchCmd)
	// Benchmarks that run parties as processes re-execute this binary as
	// `gomplab bench child`; the party function comes from the environment.
	benchCmd.AddCommand(&cobra.Command{
		Use:    "child",
		Short:  "Internal: run one benchmark party (started by a benchmark)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			mpc.RunChildIfRequested()
			return errNotAChild
		},
	})
}

var errNotAChild = errors.New("bench child: not started by a benchmark (no party function in the environment)")

// benchChildArgs are the arguments that make a re-executed gomplab a
// benchmark party.
var benchChildArgs = []string{"bench", "child"}
