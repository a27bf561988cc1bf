package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gomplab/gomplab/kernel"
	"github.com/gomplab/gomplab/kernel/repl"
	"github.com/spf13/cobra"
)

// interpreterStack bounds a cell's goroutine stacks in the interpreter
// process, so runaway recursion fails in well under a second instead of
// after a gigabyte.
const interpreterStack = 256 << 20

func init() {
	var connFile string
	var interpreter, verbose bool
	cmd := &cobra.Command{
		Use:   "kernel -f CONNECTION_FILE",
		Short: "Run the Jupyter kernel (started by Jupyter through the kernelspec)",
		Long: `kernel runs gomplab's Jupyter kernel on the sockets named in the connection
file Jupyter writes. Install the kernelspec with "gomplab install-kernel".
Cells run in a child interpreter process; if a cell crashes it, the kernel
reports the crash and starts a fresh interpreter.`,
		// Some launchers (jupyter run) append their own arguments to the
		// kernelspec's argv; they mean nothing to the kernel.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interpreter {
				return runInterpreter()
			}
			if connFile == "" {
				return fmt.Errorf("kernel: -f CONNECTION_FILE is required")
			}
			ci, err := kernel.ReadConnectionFile(connFile)
			if err != nil {
				return err
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelDebug
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("kernel: locate own binary: %w", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go watchParent(ctx, cancel)
			err = kernel.Run(ctx, kernel.Config{
				Conn:    ci,
				Version: version,
				Log:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
				InterpreterCommand: func() *exec.Cmd {
					return exec.Command(exe, "kernel", "--interpreter")
				},
			})
			if errors.Is(err, context.Canceled) {
				return nil // the front end that started us is gone
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&connFile, "connection-file", "f", "", "Jupyter connection file")
	cmd.Flags().BoolVar(&interpreter, "interpreter", false, "run as the kernel's interpreter child (internal)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every dropped or unhandled message")
	_ = cmd.Flags().MarkHidden("interpreter")
	rootCmd.AddCommand(cmd)
}

// watchParent ends the kernel when the process that started it (Jupyter
// sets JPY_PARENT_PID) exits, so a front end that quits without a shutdown
// request, such as "jupyter run", leaves no kernel behind.
func watchParent(ctx context.Context, cancel context.CancelFunc) {
	want, err := strconv.Atoi(os.Getenv("JPY_PARENT_PID"))
	if err != nil || want <= 1 || os.Getppid() != want {
		return
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != want {
				fmt.Fprintln(os.Stderr, "gomplab kernel: parent process exited; shutting down")
				cancel()
				return
			}
		}
	}
}

// runInterpreter is the child side: requests on fd 3, events on fd 4.
func runInterpreter() error {
	debug.SetMaxStack(interpreterStack)
	// The kernel process turns SIGINT into an interrupt request; the child
	// must not die of one sent to the whole process group.
	signal.Ignore(os.Interrupt)
	in := os.NewFile(3, "requests")
	out := os.NewFile(4, "events")
	if in == nil || out == nil {
		return fmt.Errorf("kernel --interpreter must be started by the kernel (fds 3 and 4)")
	}
	return repl.Serve(in, out)
}
