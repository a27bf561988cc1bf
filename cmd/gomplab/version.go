package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	rootCmd.Version = version
	// Declared here so that cobra gives --version no -v shorthand: -v means
	// --verbose wherever a command has it (gomplab kernel -v).
	rootCmd.Flags().Bool("version", false, "print the version")
	rootCmd.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the gomplab version, Go version and build revision",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			rev := "unknown"
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						rev = s.Value
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "gomplab %s (%s, %s/%s, revision %s)\n",
				version, runtime.Version(), runtime.GOOS, runtime.GOARCH, rev)
		},
	})
}
