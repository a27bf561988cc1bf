package comm

import (
	"strings"
	"testing"
)

// FuzzEnvConfig: the configuration a launched party reads from its
// environment, whatever its values, is refused with an error naming the
// variable or yields a rank within its world and an address; it never
// panics, and never takes a descriptor below 3.
func FuzzEnvConfig(f *testing.F) {
	f.Add("0", "2", "127.0.0.1", "7100", "job-1", "0", "10s", "", "", "")
	f.Add("1", "3", "host", "", "j", "1", "", "5s", strings.Repeat("ab", 32), "")
	f.Add("0", "2", "::1", "1", "j", "true", "-1s", "-1s", "zz", "3")
	f.Add("-5", "1000000000", "", "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, rank, size, addr, port, job, ttp, timeout, peer, secret, fd string) {
		env := map[string]string{EnvRank: rank, EnvWorldSize: size, EnvMasterAddr: addr, EnvMasterPort: port,
			EnvJobID: job, EnvTTP: ttp, EnvTimeout: timeout, EnvPeerTimeout: peer, EnvSecret: secret, EnvMasterFD: fd}
		lookup := func(k string) (string, bool) {
			v, ok := env[k]
			if !ok || (v == "" && k != EnvRank && k != EnvWorldSize) {
				return "", false
			}
			return v, true
		}
		cfg, gotFD, err := envConfig(lookup)
		if err != nil {
			if !strings.Contains(err.Error(), "comm: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		top := cfg.Size
		if cfg.TTP {
			top++ // the dealer
		}
		if cfg.Rank < 0 || cfg.Rank >= top || cfg.Size > maxParties || cfg.MasterAddr == "" {
			t.Fatalf("accepted rank %d of %d at %q", cfg.Rank, cfg.Size, cfg.MasterAddr)
		}
		if gotFD != -1 && gotFD < 3 {
			t.Fatalf("descriptor %d", gotFD)
		}
		if len(cfg.Secret) > 0 && len(cfg.Secret) < MinSecret {
			t.Fatalf("secret of %d bytes", len(cfg.Secret))
		}
	})
}
