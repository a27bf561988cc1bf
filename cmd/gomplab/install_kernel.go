package main

import (
	"errors"
	"fmt"

	"github.com/gomplab/gomplab/install"
	"github.com/spf13/cobra"
)

func init() {
	var user, sysPrefix, uninstall bool
	var prefix, name string
	cmd := &cobra.Command{
		Use:   "install-kernel [--user | --sys-prefix | --prefix DIR] [--uninstall]",
		Short: "Install (or remove) the Jupyter kernelspec that runs this binary",
		Long: `install-kernel writes kernels/gomplab/kernel.json (display name "Go (gomplab)")
and its logos where Jupyter looks for kernels: the user's data directory by
default (--user), the active Python environment (--sys-prefix), or
DIR/share/jupyter (--prefix DIR; then set JUPYTER_PATH=DIR/share/jupyter).
It prints every path written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := 0
			for _, b := range []bool{user, sysPrefix, prefix != ""} {
				if b {
					n++
				}
			}
			if n > 1 {
				return errors.New("install-kernel: choose one of --user, --sys-prefix and --prefix")
			}
			opt := install.Options{Scope: install.User, Name: name}
			switch {
			case sysPrefix:
				opt.Scope = install.SysPrefix
			case prefix != "":
				opt.Scope, opt.Prefix = install.Prefix, prefix
			}
			out := cmd.OutOrStdout()
			if uninstall {
				dir, err := install.Uninstall(opt)
				if err != nil {
					return err
				}
				fmt.Fprintln(out, "removed", dir)
				return nil
			}
			paths, err := install.Install(opt)
			for _, p := range paths {
				fmt.Fprintln(out, "wrote", p)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&user, "user", false, "install for the current user (default)")
	cmd.Flags().BoolVar(&sysPrefix, "sys-prefix", false, "install into the active Python environment")
	cmd.Flags().StringVar(&prefix, "prefix", "", "install into `DIR`/share/jupyter")
	cmd.Flags().StringVar(&name, "name", install.DefaultName, "kernelspec name")
	cmd.Flags().BoolVar(&uninstall, "uninstall", false, "remove the kernelspec instead")
	rootCmd.AddCommand(cmd)
}
