package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/store"
	"github.com/spf13/cobra"
)

// workerStoreCmds are the store's maintenance commands: check, recover,
// backup (docs/workers.md, "Persistence").
func workerStoreCmds() []*cobra.Command {
	return []*cobra.Command{workerCheckCmd(), workerRecoverCmd(), workerBackupCmd()}
}

func workerCheckCmd() *cobra.Command {
	var data, file string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check a stopped worker's store: file structure, bbolt's check, every record's checksum",
		Long: `Check the store of a stopped worker (--data), or a store file such as a
backup (--file), without changing it: the file's size against its meta
pages, both meta pages, every page, bbolt's consistency check, and the
checksum of every record. It lists every damaged record and exits with
status 1 when anything is damaged; "gomplab worker recover" then salvages
the intact objects.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r *store.CheckReport
			var err error
			switch {
			case file != "" && data != "":
				return errors.New("give either --data or --file, not both")
			case file != "":
				r, err = store.CheckFile(file)
			default:
				if err := requireData(data); err != nil {
					return err
				}
				r, err = daemon.Check(data)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if r.File != nil {
				for _, n := range r.File.Notes {
					fmt.Fprintf(out, "note: %s\n", n)
				}
				for _, p := range r.File.Problems {
					fmt.Fprintf(out, "damage: %s\n", p)
				}
			}
			if r.Open != nil {
				fmt.Fprintf(out, "cannot open: %v\n", r.Open)
			}
			for _, d := range r.Damaged {
				fmt.Fprintf(out, "damaged: %s (%s)\n", d.What, d.Why)
			}
			if r.DamagedTotal > len(r.Damaged) {
				fmt.Fprintf(out, "and %d more damaged records\n", r.DamagedTotal-len(r.Damaged))
			}
			if r.Sound() {
				fmt.Fprintf(out, "sound: %d objects, every checksum holds\n", r.Objects)
				return nil
			}
			return errors.New("the store is damaged; `gomplab worker recover --data DIR` salvages the intact objects into a new store")
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the worker's data directory")
	cmd.Flags().StringVar(&file, "file", "", "a store file (a backup) instead of a data directory's")
	return cmd
}

func workerRecoverCmd() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Salvage the intact objects of a stopped worker's damaged store into a new store",
		Long: `Salvage a stopped worker's store: every object, grant and record whose
checksum holds is copied into a new store file, which takes the place of
store.db; the damaged file is kept as store.db.damaged-TIME. Each object
that could not be salvaged is named. A missing store.db becomes an empty
store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireData(data); err != nil {
				return err
			}
			rep, old, err := daemon.Recover(data)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if old == "" {
				fmt.Fprintln(out, "there was no store file: started an empty store")
				return nil
			}
			fmt.Fprint(out, rep)
			fmt.Fprintf(out, "the old store file is kept as %s\n", old)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the worker's data directory")
	return cmd
}

func workerBackupCmd() *cobra.Command {
	var data, out string
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write a consistent snapshot of a worker's store, while it serves",
		Long: `Write a consistent snapshot of the store of the worker whose data
directory is --data. While its daemon runs, the daemon writes it (one read
transaction; requests go on being served) into the data directory's
backups folder, asked with the owner's token; otherwise it is read from the
file. --out moves it to a file of your choosing. The snapshot is checked
like a store at open; "gomplab worker check --file" checks it again later.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireData(data); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			path, n, err := daemon.Backup(ctx, data, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup: %s (%d bytes)\n", path, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the worker's data directory")
	cmd.Flags().StringVar(&out, "out", "", "file to write the snapshot to (default: DATA/backups/store-TIME.db)")
	return cmd
}
