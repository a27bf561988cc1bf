package comm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Environment variables read by EnvConfig, as torch.distributed's env://
// uses them. MASTER_ADDR may be host:port, or a host with MASTER_PORT.
const (
	EnvRank       = "RANK"
	EnvWorldSize  = "WORLD_SIZE"
	EnvMasterAddr = "MASTER_ADDR"
	EnvMasterPort = "MASTER_PORT"
	EnvJobID      = "JOB_ID"
	// EnvTTP is "1" when a trusted third party joins as rank WORLD_SIZE.
	EnvTTP = "GOMPLAB_TTP"
	// EnvTimeout is the setup timeout as a Go duration ("30s").
	EnvTimeout = "GOMPLAB_COMM_TIMEOUT"
	// EnvMasterFD, set for rank 0 only, is the file descriptor of an
	// inherited, already-bound rendezvous socket (see LocalJob.Prepare).
	EnvMasterFD = "GOMPLAB_MASTER_FD"
	// EnvSecret is the job secret (Config.Secret) in hex: parties on one
	// host started by one user may share it through their environment.
	EnvSecret = "GOMPLAB_JOB_SECRET"
	// EnvPeerTimeout is Config.PeerTimeout as a Go duration ("10s"; a
	// negative one turns liveness checks off).
	EnvPeerTimeout = "GOMPLAB_PEER_TIMEOUT"
)

// EnvConfig builds a Config from the environment of a party process.
// Pinned identities are not configured from the environment: set
// Config.Identities, Key and Credential afterwards.
func EnvConfig() (Config, error) {
	cfg, fd, err := envConfig(os.LookupEnv)
	if err != nil || fd < 0 {
		return cfg, err
	}
	if cfg.Rendezvous, err = RendezvousFromFile(os.NewFile(uintptr(fd), "rendezvous")); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// envConfig decodes a party's configuration from the variables lookup
// finds, and the descriptor of rank 0's inherited rendezvous listener
// (-1 when there is none).
func envConfig(lookup func(string) (string, bool)) (Config, int, error) {
	var cfg Config
	getenv := func(name string) string {
		v, _ := lookup(name)
		return v
	}
	atoi := func(name string) (int, error) {
		v, ok := lookup(name)
		if !ok {
			return 0, fmt.Errorf("comm: environment variable %s is not set", name)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("comm: %s=%q: not an integer", name, v)
		}
		return n, nil
	}
	var err error
	if cfg.Rank, err = atoi(EnvRank); err != nil {
		return cfg, -1, err
	}
	if cfg.Size, err = atoi(EnvWorldSize); err != nil {
		return cfg, -1, err
	}
	cfg.MasterAddr = getenv(EnvMasterAddr)
	if port := getenv(EnvMasterPort); port != "" {
		cfg.MasterAddr = net.JoinHostPort(cfg.MasterAddr, port)
	}
	if cfg.MasterAddr == "" {
		return cfg, -1, fmt.Errorf("comm: environment variable %s is not set", EnvMasterAddr)
	}
	cfg.JobID = getenv(EnvJobID)
	switch v := getenv(EnvTTP); v {
	case "", "0", "false":
	case "1", "true":
		cfg.TTP = true
	default:
		return cfg, -1, fmt.Errorf("comm: %s=%q: want 0 or 1", EnvTTP, v)
	}
	// With a trusted third party, the dealer is the extra rank Size.
	top := cfg.Size
	if cfg.TTP {
		top++
	}
	if cfg.Size < 1 || cfg.Size > maxParties || cfg.Rank < 0 || cfg.Rank >= top {
		return cfg, -1, fmt.Errorf("comm: rank %d of a world of %d (with the dealer: %v): want 0 <= rank < size <= %d", cfg.Rank, cfg.Size, cfg.TTP, maxParties)
	}
	if v := getenv(EnvTimeout); v != "" {
		if cfg.Timeout, err = time.ParseDuration(v); err != nil {
			return cfg, -1, fmt.Errorf("comm: %s=%q: %v", EnvTimeout, v, err)
		}
	}
	if v := getenv(EnvPeerTimeout); v != "" {
		if cfg.PeerTimeout, err = time.ParseDuration(v); err != nil {
			return cfg, -1, fmt.Errorf("comm: %s=%q: %v", EnvPeerTimeout, v, err)
		}
	}
	if v := getenv(EnvSecret); v != "" {
		if cfg.Secret, err = hex.DecodeString(v); err != nil || len(cfg.Secret) < MinSecret {
			return cfg, -1, fmt.Errorf("comm: %s: want at least %d bytes in hex", EnvSecret, MinSecret)
		}
	}
	if v := getenv(EnvMasterFD); v != "" && cfg.Rank == 0 {
		fd, err := strconv.Atoi(v)
		if err != nil || fd < 3 {
			return cfg, -1, fmt.Errorf("comm: %s=%q: not an inherited descriptor", EnvMasterFD, v)
		}
		return cfg, fd, nil
	}
	return cfg, -1, nil
}

// DialEnv joins the mesh described by the environment (see EnvConfig).
func DialEnv(ctx context.Context) (Comm, error) {
	cfg, err := EnvConfig()
	if err != nil {
		return nil, err
	}
	return Dial(ctx, cfg)
}

// LocalJob is what a parent process needs to run one job's parties on
// loopback, as goroutines or as child processes: a rendezvous socket bound
// to a free port (so nobody picks ports by hand) and a fresh job id.
type LocalJob struct {
	Size    int
	TTP     bool
	JobID   string
	Timeout time.Duration // setup timeout passed to the parties; 0 for the default
	// Secret, when set, authenticates the parties' links by this job
	// secret (Config.Secret); NewLocalJob leaves it empty (plain links).
	Secret []byte
	// PeerTimeout is passed to the parties as Config.PeerTimeout.
	PeerTimeout time.Duration
	rv          *Rendezvous
	files       []*os.File
}

// NewLocalJob binds a loopback rendezvous for size parties (plus a TTP).
func NewLocalJob(size int, ttp bool) (*LocalJob, error) {
	rv, err := LocalRendezvous()
	if err != nil {
		return nil, err
	}
	var id [8]byte
	rand.Read(id[:])
	return &LocalJob{Size: size, TTP: ttp, JobID: hex.EncodeToString(id[:]), rv: rv}, nil
}

// MasterAddr is the rendezvous address the parties dial.
func (j *LocalJob) MasterAddr() string { return j.rv.Addr() }

// Parties is the number of processes to start: Size, plus one for the TTP.
func (j *LocalJob) Parties() int {
	if j.TTP {
		return j.Size + 1
	}
	return j.Size
}

// Config is the Config of rank, for parties run in this process. Rank 0's
// Config carries the bound rendezvous.
func (j *LocalJob) Config(rank int) Config {
	cfg := Config{Rank: rank, Size: j.Size, TTP: j.TTP, MasterAddr: j.rv.Addr(), JobID: j.JobID,
		Timeout: j.Timeout, Secret: j.Secret, PeerTimeout: j.PeerTimeout}
	if rank == 0 {
		cfg.Rendezvous = j.rv
	}
	return cfg
}

// Env is the environment (NAME=value) telling a child process its place in
// the job; EnvConfig reads it back. Rank 0 also needs the socket, which
// Prepare passes.
func (j *LocalJob) Env(rank int) []string {
	env := []string{
		EnvRank + "=" + strconv.Itoa(rank),
		EnvWorldSize + "=" + strconv.Itoa(j.Size),
		EnvMasterAddr + "=" + j.rv.Addr(),
		EnvJobID + "=" + j.JobID,
	}
	if j.TTP {
		env = append(env, EnvTTP+"=1")
	}
	if j.Timeout > 0 {
		env = append(env, EnvTimeout+"="+j.Timeout.String())
	}
	if j.PeerTimeout != 0 {
		env = append(env, EnvPeerTimeout+"="+j.PeerTimeout.String())
	}
	if j.Secret != nil {
		env = append(env, EnvSecret+"="+hex.EncodeToString(j.Secret))
	}
	return env
}

// Prepare sets up cmd to run as party rank: it appends Env(rank) to cmd's
// environment (the parent's, when cmd.Env is nil) and, for rank 0, hands
// over the bound rendezvous socket as an extra file, so the port chosen
// here is the one rank 0 serves. Call Close once the children started.
func (j *LocalJob) Prepare(cmd *exec.Cmd, rank int) error {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, j.Env(rank)...)
	if rank == 0 {
		f, err := j.rv.File()
		if err != nil {
			return err
		}
		j.files = append(j.files, f)
		cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		fd := 2 + len(cmd.ExtraFiles) // ExtraFiles[i] becomes descriptor 3+i
		cmd.Env = append(cmd.Env, EnvMasterFD+"="+strconv.Itoa(fd))
	}
	return nil
}

// Close releases this process's copies of the rendezvous socket (a rank 0
// child or goroutine keeps its own).
func (j *LocalJob) Close() error {
	for _, f := range j.files {
		f.Close()
	}
	j.files = nil
	return j.rv.Close()
}
