package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomplab/gomplab/mpc/comm"
	"gopkg.in/yaml.v3"
)

// manifest is the part of a Kubernetes object the test reads.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Type       string            `yaml:"type"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Ports []struct {
			Port       int `yaml:"port"`
			TargetPort int `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		} `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

type podSpec struct {
	Containers []struct {
		Name  string   `yaml:"name"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Ports []struct {
			ContainerPort int `yaml:"containerPort"`
		} `yaml:"ports"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
		ReadinessProbe struct {
			TCPSocket struct {
				Port int `yaml:"port"`
			} `yaml:"tcpSocket"`
		} `yaml:"readinessProbe"`
	} `yaml:"containers"`
	Volumes []struct {
		Name   string `yaml:"name"`
		Secret struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
	} `yaml:"volumes"`
}

// imageCommand is what the image runs before a container's args
// (deploy/Dockerfile's ENTRYPOINT).
func imageCommand(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			var cmd []string
			if err := yaml.Unmarshal([]byte(rest), &cmd); err != nil {
				t.Fatalf("ENTRYPOINT %s: %v", rest, err)
			}
			return cmd
		}
	}
	t.Fatal("the Dockerfile has no ENTRYPOINT")
	return nil
}

// TestKubernetesManifests parses deploy/k8s and checks every flag, port
// and path the worker's container uses against the CLI: each flag exists
// (and parses), each port is one the worker listens on, each file path
// given in a flag lies on a mounted volume, each mounted volume and
// secret is declared.
func TestKubernetesManifests(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	entry := imageCommand(t)
	if len(entry) < 2 || entry[0] != "/gomplab" {
		t.Fatalf("ENTRYPOINT %q does not run /gomplab", entry)
	}
	var objs []manifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var m manifest
			if err := dec.Decode(&m); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			objs = append(objs, m)
		}
	}
	secrets := map[string]bool{}
	kinds := map[string]int{}
	listening := map[int]bool{} // client ports of the workers
	for _, m := range objs {
		kinds[m.Kind]++
		if m.Kind == "Secret" {
			secrets[m.Metadata.Name] = true
		}
	}
	for _, k := range []string{"StatefulSet", "Service", "Secret"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in the manifests", k)
		}
	}
	for _, m := range objs {
		if m.Kind != "StatefulSet" {
			continue
		}
		spec := m.Spec.Template.Spec
		if len(m.Spec.VolumeClaimTemplates) == 0 {
			t.Errorf("StatefulSet %s has no volume per worker", m.Metadata.Name)
		}
		volumes := map[string]bool{}
		for _, c := range m.Spec.VolumeClaimTemplates {
			volumes[c.Metadata.Name] = true
		}
		for _, v := range spec.Volumes {
			volumes[v.Name] = true
			if v.Secret.SecretName != "" && !secrets[v.Secret.SecretName] {
				t.Errorf("volume %s mounts secret %s, which the manifests do not declare", v.Name, v.Secret.SecretName)
			}
		}
		for _, c := range spec.Containers {
			var mounts []string
			for _, vm := range c.VolumeMounts {
				if !volumes[vm.Name] {
					t.Errorf("container %s mounts undeclared volume %s", c.Name, vm.Name)
				}
				mounts = append(mounts, vm.MountPath)
			}
			// The command the container runs: the image's entry point
			// and the manifest's args, parsed by the CLI's own flags.
			argv := append(append([]string(nil), entry[1:]...), c.Args...)
			cmd, rest, err := rootCmd.Find(argv)
			if err != nil {
				t.Fatalf("container %s: %v", c.Name, err)
			}
			if cmd.Name() != "worker" {
				t.Fatalf("container %s runs %q, not the worker", c.Name, cmd.CommandPath())
			}
			fs := workerCmd().Flags()
			if err := fs.Parse(rest); err != nil {
				t.Errorf("container %s: the CLI refuses the args: %v", c.Name, err)
				continue
			}
			if fs.NArg() > 0 {
				t.Errorf("container %s: stray arguments %q", c.Name, fs.Args())
			}
			get := func(name string) string {
				v, err := fs.GetString(name)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			// Paths given in flags lie on mounts.
			for _, name := range []string{"data", "cert", "key", "users"} {
				p := get(name)
				if p == "" {
					continue
				}
				if !slices.ContainsFunc(mounts, func(m string) bool { return p == m || strings.HasPrefix(p, m+"/") }) {
					t.Errorf("container %s: --%s %s is on no mounted volume (%v)", c.Name, name, p, mounts)
				}
			}
			if get("data") == "" {
				t.Errorf("container %s runs without --data", c.Name)
			}
			// Ports: the client port is the one --listen binds; the
			// party ports parse.
			_, listenPort, _ := strings.Cut(get("listen"), ":")
			lp, _ := strconv.Atoi(listenPort)
			listening[lp] = true
			for _, p := range c.Ports {
				if p.ContainerPort != lp {
					t.Errorf("container %s declares port %d; the worker listens on %d (--listen %s)", c.Name, p.ContainerPort, lp, get("listen"))
				}
			}
			if pr := c.ReadinessProbe.TCPSocket.Port; pr != 0 && pr != lp {
				t.Errorf("container %s probes port %d; the worker listens on %d", c.Name, pr, lp)
			}
			if _, err := comm.ParsePortRange(get("party-ports")); err != nil {
				t.Errorf("container %s: --party-ports: %v", c.Name, err)
			}
		}
	}
	for _, m := range objs {
		if m.Kind != "Service" {
			continue
		}
		for _, p := range m.Spec.Ports {
			if p.TargetPort != 0 && !listening[p.TargetPort] {
				t.Errorf("service %s targets port %d, on which no worker listens", m.Metadata.Name, p.TargetPort)
			}
		}
	}
}
