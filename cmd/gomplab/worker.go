package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gomplab/gomplab/mpc/comm"
	"github.com/gomplab/gomplab/sandbox"
	"github.com/gomplab/gomplab/serde"
	"github.com/gomplab/gomplab/tensor"
	"github.com/gomplab/gomplab/workers"
	"github.com/gomplab/gomplab/workers/daemon"
	"github.com/gomplab/gomplab/workers/fl"
	"github.com/gomplab/gomplab/workers/jobs"
	"github.com/gomplab/gomplab/workers/store"
	"github.com/spf13/cobra"
)

func init() {
	rootCmd.AddCommand(workerCmd())
}

func workerCmd() *cobra.Command {
	var (
		id, listen, data, certFile, keyFile, logFormat string
		usersFile                                      string
		insecure                                       bool
		maxMessage                                     int
		requestTimeout, shutdownTimeout                time.Duration
		maxJobs, partyMemoryMiB                        int
		partyCPU                                       time.Duration
		advertise, partyPorts                          string
		peerTimeout                                    time.Duration
		maxJobsPerUser, jobQueue                       int
		bounds                                         = daemon.DefaultBounds
		flMinContributors                              int
		quotas                                         daemon.Quotas
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker daemon that holds data and answers pointer requests",
		Long: `Run a worker daemon: it holds tensors in a persistent store in its data
directory and serves authenticated clients over TLS 1.3.

The first run on an empty data directory initialises it (as "gomplab worker
init" does) and prints the certificate fingerprint and the owner's token.
SIGTERM or SIGINT stops accepting connections, finishes requests in flight
and exits; acknowledged writes are already on disk.`,
		Example: `  gomplab worker init --id alice --data ./alice
  gomplab worker --id alice --listen 127.0.0.1:7101 --data ./alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireData(data); err != nil {
				return err
			}
			log := newLogger(cmd, logFormat)
			dir, err := daemon.OpenDataDir(data)
			if err != nil {
				if id == "" {
					return err
				}
				res, ierr := daemon.InitDataDir(data, id, nil)
				if ierr != nil {
					return ierr
				}
				printInit(cmd, res)
				dir = res.Dir
			}
			if id != "" && id != dir.WorkerID {
				return fmt.Errorf("data directory %s belongs to worker %q, not %q", data, dir.WorkerID, id)
			}
			ports, err := comm.ParsePortRange(partyPorts)
			if err != nil {
				return fmt.Errorf("--party-ports: %w", err)
			}
			if advertise == "" {
				advertise = daemon.DefaultAdvertise(listen)
			}
			if flMinContributors < 2 {
				return fmt.Errorf("--fl-min-contributors %d: a federated round needs at least 2 contributors (alone, an aggregate is the model)", flMinContributors)
			}
			d, err := daemon.Start(daemon.Config{
				Dir: data, Listen: listen, InsecureLoopback: insecure,
				CertFile: certFile, KeyFile: keyFile, UsersFile: usersFile, Log: log,
				Limits: serde.Limits{MaxBytes: maxMessage}, RequestTimeout: requestTimeout, Bounds: bounds, Quotas: quotas,
			})
			if err != nil {
				return err
			}
			applyMemoryLimit(quotas, log)
			// MPC parties run as `gomplab party` child processes under
			// resource limits.
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("locating this binary for party processes: %w", err)
			}
			d.Jobs().Configure(jobs.Options{MaxJobs: maxJobs, MaxPerUser: maxJobsPerUser, Queue: jobQueue,
				Advertise: advertise, Ports: ports, PeerTimeout: peerTimeout,
				Child: &sandbox.ChildOptions{Command: []string{exe, "party"},
					Limits: sandbox.Limits{AddressSpace: int64(partyMemoryMiB) << 20, CPU: partyCPU}}})
			if err := d.FL().Configure(fl.Options{MinContributors: flMinContributors}); err != nil {
				d.Shutdown(context.Background())
				return err
			}
			log.Info("MPC parties", "advertise", advertise, "ports", ports.String(), "max_jobs", maxJobs)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			select {
			case <-ctx.Done():
				log.Info("signal received, shutting down")
			case err := <-d.Done():
				log.Error("server stopped", "err", err)
			}
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			return d.Shutdown(sctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "worker id (initialises an empty data directory with it)")
	f.StringVar(&listen, "listen", "127.0.0.1:7101", "address to listen on")
	f.StringVar(&data, "data", "", "data directory (store, users, keys, access log)")
	f.BoolVar(&insecure, "insecure-loopback", false, "serve plaintext (loopback addresses only)")
	f.StringVar(&certFile, "cert", "", "TLS certificate (PEM) instead of the data directory's")
	f.StringVar(&keyFile, "key", "", "TLS private key (PEM) instead of the data directory's")
	f.StringVar(&usersFile, "users", "", "user table (users.json) instead of the data directory's, read only (a mounted secret)")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.IntVar(&maxMessage, "max-message", 0, "largest request in bytes (0: 1 GiB)")
	f.DurationVar(&requestTimeout, "request-timeout", time.Minute, "longest time one request may run")
	f.DurationVar(&shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for requests in flight")
	f.IntVar(&maxJobs, "max-jobs", 8, "MPC parties this worker runs at once (more wait in a queue)")
	f.IntVar(&maxJobsPerUser, "max-jobs-per-user", 0, "MPC parties one user may run at once (0: --max-jobs)")
	f.IntVar(&jobQueue, "job-queue", 0, "MPC parties that may wait for a slot beyond --max-jobs (0: four times --max-jobs); more are refused")
	f.StringVar(&advertise, "advertise", "", "host other workers' MPC parties reach this worker's parties by (default: the --listen host, or the address of the interface that leads out)")
	f.StringVar(&partyPorts, "party-ports", "", "port range LO-HI the MPC parties listen on, for firewalls (default: any free port)")
	f.DurationVar(&peerTimeout, "peer-timeout", 0, "how long a party waits on a silent peer before it reports it stuck (0: 10s)")
	f.IntVar(&partyMemoryMiB, "party-memory", sandbox.DefaultAddressSpace>>20, "address space of each MPC party process in MiB (usable memory is about 2 GiB less)")
	f.IntVar(&flMinContributors, "fl-min-contributors", fl.DefaultMinContributors, "fewest contributors a federated round needs before this worker releases its share of a model trained on data the requester may not read (at least 2): approved workers, each trained on such data")
	f.DurationVar(&partyCPU, "party-cpu", 0, "CPU time limit of each MPC party process (0: twice the job's timeout plus 10s)")
	addBoundsFlags(f, &bounds)
	addQuotaFlags(f, &quotas)
	cmd.AddCommand(workerInitCmd(), workerLoadCmd(), workerUserCmd(), workerListCmd(), workerInfoCmd(), workerRequestsCmd())
	cmd.AddCommand(workerStoreCmds()...)
	return cmd
}

func newLogger(cmd *cobra.Command, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
}

func printInit(cmd *cobra.Command, res *daemon.InitResult) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "initialised worker %q in %s\n", res.Dir.WorkerID, res.Dir.Path)
	fmt.Fprintf(out, "fingerprint: %s\n", res.Fingerprint)
	fmt.Fprintf(out, "owner token: %s\n", res.OwnerToken)
	fmt.Fprintln(out, "(the owner token is also kept in the data directory; give clients the fingerprint and a user token)")
}

func workerInitCmd() *cobra.Command {
	var id, data string
	var hosts []string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a worker's data directory: TLS key and certificate, owner account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" || data == "" {
				return errors.New("--id and --data are required")
			}
			res, err := daemon.InitDataDir(data, id, hosts)
			if err != nil {
				return err
			}
			printInit(cmd, res)
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "worker id")
	cmd.Flags().StringVar(&data, "data", "", "data directory to create")
	cmd.Flags().StringSliceVar(&hosts, "host", nil, "extra host names or IPs for the certificate (loopback is always included)")
	return cmd
}

func workerLoadCmd() *cobra.Command {
	var data, file, desc, id string
	var tags, allow []string
	var private, header, replace bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load a .npy, .csv or .onnx file into a worker as its data owner",
		Long: `Load a tensor from a .npy or .csv file, or a model from an .onnx file (as
PyTorch exports it), into the worker whose data directory is --data, owned
by the worker's owner. If the daemon is not running the
object is written straight into its store; if it is, it is sent to the
daemon (found through the data directory) with the owner's token.

A --private object can be used in remote computations and MPC jobs, but its
value, and anything computed from it, is released only to users with the
read-private permission or named with --allow.

A load that would make a lookup by tag ambiguous (the owner already holds
an object with the same tags, or with a subset or superset of them) is
refused; --replace stores the new object and removes the old one.`,
		Example: `  gomplab worker load --data ./alice --tag '#salaries' --file salaries.csv --header --private`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireData(data); err != nil {
				return err
			}
			if file == "" || len(tags) == 0 {
				return errors.New("--file and at least one --tag are required")
			}
			var t *tensor.Tensor
			var model []byte
			var err error
			switch strings.ToLower(filepath.Ext(file)) {
			case ".npy", ".csv":
				t, err = loadTensorFile(file, header, "--header")
			case ".onnx":
				model, err = os.ReadFile(file)
			default:
				return fmt.Errorf("load %s: unknown file type (want .npy, .csv or .onnx)", file)
			}
			if err != nil {
				return err // it names the file
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			spec := daemon.LoadSpec{ID: id, Tags: tags, Description: desc, Private: private, AllowedUsers: allow, File: file, Replace: replace}
			var info store.Info
			var via string
			if model != nil {
				info, via, err = daemon.LoadONNXInto(ctx, data, model, spec)
				if err != nil && strings.Contains(err.Error(), "onnx: decode model") {
					return fmt.Errorf("load %s: not an ONNX model (%v); export one from PyTorch with torch.onnx.export", file, err)
				}
			} else {
				info, via, err = daemon.LoadInto(ctx, data, t, spec)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loaded %s (via %s)\n", info, via)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "", "the worker's data directory")
	f.StringVar(&file, "file", "", "a .npy, .csv or .onnx file")
	f.StringArrayVar(&tags, "tag", nil, "tag (repeatable)")
	f.StringVar(&desc, "description", "", "description")
	f.StringVar(&id, "object-id", "", "object id (default: random)")
	f.BoolVar(&private, "private", false, "mark the data private")
	f.StringArrayVar(&allow, "allow", nil, "user allowed to read the private value (repeatable)")
	f.BoolVar(&header, "header", false, "the CSV file has a header line")
	f.BoolVar(&replace, "replace", false, "replace the owner's object already loaded under these tags")
	return cmd
}

func workerUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage a worker's users and tokens"}
	var usersFile string
	cmd.PersistentFlags().StringVar(&usersFile, "users", "", "a user table file (users.json) instead of a data directory's: for a worker run with --users (add creates it)")
	var data string
	var readPrivate, admin bool
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a user and print its token (a running daemon picks it up within a second)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			users, err := userTable(data, usersFile, true)
			if err != nil {
				return err
			}
			var perms []string
			if readPrivate {
				perms = append(perms, workers.PermReadPrivate)
			}
			if admin {
				perms = append(perms, workers.PermAdmin)
			}
			tok, err := users.Add(args[0], perms...)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %s token: %s\n", args[0], tok)
			return nil
		},
	}
	add.Flags().StringVar(&data, "data", "", "the worker's data directory")
	add.Flags().BoolVar(&readPrivate, "read-private", false, "may read private values")
	add.Flags().BoolVar(&admin, "admin", false, "may do everything")
	var rmData string
	rm := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user; its token stops working",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			users, err := userTable(rmData, usersFile, false)
			if err != nil {
				return err
			}
			return users.Remove(args[0])
		},
	}
	rm.Flags().StringVar(&rmData, "data", "", "the worker's data directory")
	var lsData string
	ls := &cobra.Command{
		Use:   "list",
		Short: "List users and permissions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			users, err := userTable(lsData, usersFile, false)
			if err != nil {
				return err
			}
			for _, u := range users.List() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", u.Name, strings.Join(u.Perms, ","))
			}
			return nil
		},
	}
	ls.Flags().StringVar(&lsData, "data", "", "the worker's data directory")
	cmd.AddCommand(add, rm, ls)
	return cmd
}

// userTable opens the user table of a data directory, or the table file
// given with --users (created empty when create and it does not exist).
func userTable(data, file string, create bool) (*workers.Users, error) {
	if file != "" {
		if data != "" {
			return nil, errors.New("give either --data or --users, not both")
		}
		users, err := workers.LoadUsers(file)
		if err != nil && create && errors.Is(err, os.ErrNotExist) {
			return workers.NewUsersFile(file), nil
		}
		return users, err
	}
	if err := requireData(data); err != nil {
		return nil, err
	}
	if _, err := daemon.OpenDataDir(data); err != nil {
		return nil, err
	}
	return workers.LoadUsers(filepath.Join(data, "users.json"))
}

func workerListCmd() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the objects in a stopped worker's store (metadata only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireData(data); err != nil {
				return err
			}
			dir, err := daemon.OpenDataDir(data)
			if err != nil {
				return err
			}
			store, err := store.OpenBolt(dir.StorePath(), store.BoltOptions{Wait: 100 * time.Millisecond, MustExist: true, ReadOnly: true})
			if err != nil {
				return fmt.Errorf("%w (while the daemon runs, list through a client)", err)
			}
			defer store.Close()
			infos, err := store.Search()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tSHAPE\tTAGS\tPRIVATE\tOWNER\tSOURCE\tDESCRIPTION")
			for _, in := range infos {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%v\t%s\t%s\t%s\n", in.ID, in.Kind, in.Shape,
					strings.Join(in.Tags, ","), in.Private, in.Owner, in.Provenance.Source, in.Description)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the worker's data directory")
	return cmd
}

func workerInfoCmd() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Print a worker's id, certificate fingerprint and daemon address",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireData(data); err != nil {
				return err
			}
			dir, err := daemon.OpenDataDir(data)
			if err != nil {
				return err
			}
			fp, err := dir.Fingerprint()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "id: %s\nfingerprint: %s\n", dir.WorkerID, fp)
			if d, err := dir.ReadDaemonInfo(); err == nil {
				fmt.Fprintf(out, "daemon: %s (pid %d, tls %v)\n", d.Addr, d.PID, !d.Insecure)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the worker's data directory")
	return cmd
}

// requireData checks that a command that works on a worker's data
// directory was given one.
func requireData(data string) error {
	if data == "" {
		return errors.New("--data DIR is required: the worker's data directory, as created by `gomplab worker init --id ID --data DIR`")
	}
	return nil
}

// loadTensorFile reads a .npy or .csv file. A CSV whose first line is not
// numbers gets a hint that it is a header, which headerFlag reads.
func loadTensorFile(file string, header bool, headerFlag string) (*tensor.Tensor, error) {
	if strings.EqualFold(filepath.Ext(file), ".npy") {
		return tensor.LoadNPY(file)
	}
	t, _, err := tensor.LoadCSV(file, header)
	if err != nil && !header && strings.Contains(err.Error(), "(data row 1)") && strings.Contains(err.Error(), "is not a number") {
		return nil, fmt.Errorf("%w; if the first line is a header, add %s", err, headerFlag)
	}
	return t, err
}
