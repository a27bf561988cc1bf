package comm

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEnvConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want Config
		err  string
	}{
		{name: "torch-style", env: map[string]string{"RANK": "1", "WORLD_SIZE": "3", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500", "JOB_ID": "j"},
			want: Config{Rank: 1, Size: 3, MasterAddr: "10.0.0.1:29500", JobID: "j"}},
		{name: "host-port", env: map[string]string{"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1:7000", "GOMPLAB_TTP": "1", "GOMPLAB_COMM_TIMEOUT": "5s"},
			want: Config{Rank: 2, Size: 2, MasterAddr: "127.0.0.1:7000", TTP: true, Timeout: 5 * time.Second}},
		{name: "no-rank", env: map[string]string{"WORLD_SIZE": "2", "MASTER_ADDR": "a:1"}, err: "RANK is not set"},
		{name: "bad-size", env: map[string]string{"RANK": "0", "WORLD_SIZE": "two", "MASTER_ADDR": "a:1"}, err: `WORLD_SIZE="two": not an integer`},
		{name: "no-master", env: map[string]string{"RANK": "0", "WORLD_SIZE": "2"}, err: "MASTER_ADDR is not set"},
		{name: "bad-ttp", env: map[string]string{"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "a:1", "GOMPLAB_TTP": "yes"}, err: `GOMPLAB_TTP="yes"`},
		{name: "bad-timeout", env: map[string]string{"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "a:1", "GOMPLAB_COMM_TIMEOUT": "soon"}, err: `GOMPLAB_COMM_TIMEOUT="soon"`},
		{name: "bad-fd", env: map[string]string{"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "a:1", "GOMPLAB_MASTER_FD": "1"}, err: "not an inherited descriptor"},
	}
	all := []string{EnvRank, EnvWorldSize, EnvMasterAddr, EnvMasterPort, EnvJobID, EnvTTP, EnvTimeout, EnvMasterFD}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range all {
				t.Setenv(k, tc.env[k])
			}
			// t.Setenv with "" still sets the variable: unset the absent ones.
			for _, k := range all {
				if _, ok := tc.env[k]; !ok {
					unsetenv(t, k)
				}
			}
			got, err := EnvConfig()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLocalJobEnv(t *testing.T) {
	job, err := NewLocalJob(2, true)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	job.Timeout = 3 * time.Second
	if job.Parties() != 3 || len(job.JobID) != 16 {
		t.Fatalf("parties %d, job id %q", job.Parties(), job.JobID)
	}
	cmd := exec.Command("true")
	if err := job.Prepare(cmd, 0); err != nil {
		t.Fatal(err)
	}
	env := strings.Join(cmd.Env, "\n")
	for _, want := range []string{"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=" + job.MasterAddr(), "JOB_ID=" + job.JobID,
		"GOMPLAB_TTP=1", "GOMPLAB_COMM_TIMEOUT=3s", "GOMPLAB_MASTER_FD=3"} {
		if !strings.Contains(env, want+"\n") && !strings.HasSuffix(env, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
	if len(cmd.ExtraFiles) != 1 {
		t.Errorf("rank 0 got %d extra files", len(cmd.ExtraFiles))
	}
	cmd1 := exec.Command("true")
	job.Prepare(cmd1, 1)
	if len(cmd1.ExtraFiles) != 0 {
		t.Error("rank 1 was handed the rendezvous socket")
	}
}

func TestDialCanceled(t *testing.T) {
	job := newJob(t, 2, false, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := Dial(ctx, job.Config(0))
	wantErr(t, "rank 0", err, "was canceled (context canceled): ranks [1] never showed up")
}

// unsetenv removes k for the rest of the test; the t.Setenv before it has
// registered the restore.
func unsetenv(t *testing.T, k string) {
	t.Helper()
	os.Unsetenv(k)
}
