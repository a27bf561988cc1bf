package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomplab/gomplab/mpc"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/syft"
	"github.com/gomplab/gomplab/tensor"
)

// runLoad is one --load flag: a file the owner of rank Rank's worker loads
// under Tag before the job starts.
type runLoad struct {
	Rank int
	Tag  string
	File string
}

// parseRunLoad parses RANK:TAG=FILE.
func parseRunLoad(s string) (runLoad, error) {
	rank, rest, ok := strings.Cut(s, ":")
	tag, file, ok2 := strings.Cut(rest, "=")
	r, err := strconv.Atoi(rank)
	if !ok || !ok2 || err != nil || r < 0 || tag == "" || file == "" {
		return runLoad{}, fmt.Errorf("--load %q: want RANK:TAG=FILE (e.g. 0:crypten_data=alice.npy)", s)
	}
	return runLoad{Rank: r, Tag: tag, File: file}, nil
}

func init() { rootCmd.AddCommand(newRunCmd()) }

// newRunCmd builds the run command (fresh flags each time, for tests).
func newRunCmd() *cobra.Command {
	var (
		entry    string
		parties  int
		loads    []string
		timeout  time.Duration
		header   bool
		provider string
	)
	cmd := &cobra.Command{
		Use:   "run FILE.go",
		Short: "Run a Go function as synchronized MPC parties in the jail, on local workers",
		Long: `Run calls the function --entry of a Go source file as --parties
synchronized MPC parties, each on its own in-process worker and inside the
jail, exactly as syft.RunMultiWorkers runs it on real workers: the file may
import only what the jail allows, and mpc.Load(tag, src) reads rank src's
worker. --load puts a private .npy or .csv file on a rank's worker under a
tag first (--header when the CSV files start with a header line),
readable by the job's user: you hold the files, so no owner needs to
approve the job (on other owners' workers they would, docs/privacy.md);
every party runs on this machine with your data, so rank 0 deals the
randomness (--provider tfp) unless you ask for dealer-free (2 parties). Each
rank's result is printed, with time, bytes and rounds; a failure is
printed once, naming the file and line, with the ranks it happened on.

Example (files in examples/run):
  gomplab run --load 0:x=examples/run/alice.npy --load 1:x=examples/run/bob.npy --entry product examples/run/product.go`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if parties < 1 {
				return fmt.Errorf("--parties %d: need at least 1", parties)
			}
			src, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			ws := make([]syft.Worker, parties)
			for i := range ws {
				w := syft.NewVirtualWorker(fmt.Sprintf("party%d", i))
				defer w.Shutdown()
				ws[i] = w
			}
			for _, s := range loads {
				l, err := parseRunLoad(s)
				if err != nil {
					return err
				}
				if l.Rank >= parties {
					return fmt.Errorf("--load %q: rank %d, but there are %d parties", s, l.Rank, parties)
				}
				if err := loadPrivate(ws[l.Rank].(*syft.VirtualWorker), l, header); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			fn := syft.SourceFunc(string(src), entry)
			fn.File = filepath.Base(args[0]) // errors name the user's file
			job := &syft.Job{Workers: ws, MasterAddr: "127.0.0.1", Func: fn, Timeout: timeout, Provider: provider}
			res, err := job.Run(ctx)
			var je *syft.JobError
			if errors.As(err, &je) {
				// The error lists the failures; print only the ranks that
				// succeeded, and each distinct failure once.
				if res != nil {
					for _, rr := range res.Ranks {
						if rr.Err == nil {
							fmt.Fprintf(cmd.OutOrStdout(), "rank %d (%s): %v\n", rr.Rank, rr.Worker, rr.Value)
						}
					}
				}
				return groupedJobError(je)
			}
			if res != nil {
				fmt.Fprintln(cmd.OutOrStdout(), strings.TrimRight(res.String(), "\n"))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&entry, "entry", "run", "the function to call in each party")
	cmd.Flags().IntVarP(&parties, "parties", "n", 2, "number of parties (ranks 0..n-1)")
	cmd.Flags().StringArrayVar(&loads, "load", nil, "RANK:TAG=FILE: load a .npy or .csv file, private, on rank RANK's worker under TAG (repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "deadline for the whole job")
	cmd.Flags().BoolVar(&header, "header", false, "the --load CSV files start with a header line")
	cmd.Flags().StringVar(&provider, "provider", mpc.ProviderTFP, "who deals the randomness: tfp (rank 0: every party's data is yours here), dealer-free (2 parties)")
	return cmd
}

// loadPrivate stores l.File on w under l.Tag as its data owner would.
func loadPrivate(w *syft.VirtualWorker, l runLoad, header bool) error {
	var t *tensor.Tensor
	var err error
	switch strings.ToLower(filepath.Ext(l.File)) {
	case ".npy", ".csv":
		t, err = loadTensorFile(l.File, header, "--header")
	default:
		err = fmt.Errorf("want a .npy or .csv file")
	}
	if err != nil {
		return fmt.Errorf("--load %d:%s=%s: %w", l.Rank, l.Tag, l.File, err)
	}
	// Private, and readable by the job's user: whoever runs this command
	// holds the file, so the job needs no owner's approval (on other
	// owners' workers it would: docs/privacy.md).
	p, err := syft.Send(t, w.Owner(), syft.WithTags(l.Tag), syft.AsPrivate(syft.DefaultUser))
	if err != nil {
		return fmt.Errorf("--load %d:%s=%s: %w", l.Rank, l.Tag, l.File, err)
	}
	p.Keep()
	return nil
}

// groupedJobError words a job's failures with each distinct one once,
// naming the ranks it happened on: a compile error hits every rank alike.
func groupedJobError(je *syft.JobError) error {
	type group struct {
		ranks []string
		msg   string
	}
	var groups []*group
	byMsg := map[string]*group{}
	for _, err := range je.Ranks {
		rank, msg := "", err.Error()
		var se *sandbox.Error
		if errors.As(err, &se) && se.Rank >= 0 {
			rank = fmt.Sprintf("%d (%s)", se.Rank, se.Worker)
			c := *se
			c.Rank, c.Worker = -1, ""
			msg = c.Error()
		}
		g := byMsg[msg]
		if g == nil {
			g = &group{msg: msg}
			byMsg[msg] = g
			groups = append(groups, g)
		}
		if rank != "" {
			g.ranks = append(g.ranks, rank)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "job %s failed on %d rank", je.JobID, len(je.Ranks))
	if len(je.Ranks) != 1 {
		b.WriteString("s")
	}
	for _, g := range groups {
		b.WriteString("\n  ")
		switch len(g.ranks) {
		case 0:
		case 1:
			b.WriteString("rank " + g.ranks[0] + ": ")
		default:
			b.WriteString("ranks " + strings.Join(g.ranks, ", ") + ": ")
		}
		b.WriteString(g.msg)
	}
	return errors.New(b.String())
}
