package comm

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Links of an authenticated mesh are TLS 1.3, and each end holds the
// other's party certificate.
func TestAuthenticatedLinksAreTLS13(t *testing.T) {
	for _, mode := range []struct {
		name string
		auth authFn
	}{{"pinned", pinned(t)}, {"secret", withSecret(testSecret)}} {
		t.Run(mode.name, func(t *testing.T) {
			cs := dialWorld(t, 3, true, mode.auth)
			for _, c := range cs {
				tc := c.(*tcpComm)
				for r, l := range tc.peers {
					if l == nil {
						continue
					}
					conn, ok := l.conn.(*tls.Conn)
					if !ok {
						t.Fatalf("rank %d link to %d is %T", tc.rank, r, l.conn)
					}
					st := conn.ConnectionState()
					if st.Version != tls.VersionTLS13 || len(st.PeerCertificates) != 1 {
						t.Errorf("rank %d link to %d: TLS version %x, %d peer certificates", tc.rank, r, st.Version, len(st.PeerCertificates))
					}
					if l.raw != nil || l.plain {
						t.Errorf("rank %d link to %d would bypass TLS", tc.rank, r)
					}
				}
			}
			runParties(t, cs[:3], func(c Comm) error { return Barrier(c) })
		})
	}
}

// A party that cannot prove it is the rank it claims is refused before it
// takes the slot, with a reason naming what is wrong, and the job's
// legitimate party still gets in. The impostor of each case plays rank 1
// and arrives first; the real rank 1 comes later.
func TestImpostorRefused(t *testing.T) {
	w := testWorkerCerts()
	cases := []struct {
		name   string
		mode   authFn
		forge  func(t testing.TB, cfg *Config) // makes cfg an impostor's
		reason string                          // in the impostor's error
	}{
		{"another worker's key", pinned(t), func(t testing.TB, cfg *Config) {
			// Worker 5 signs for rank 1 of this job: the job pins rank 1
			// to worker 1.
			cfg.Key, cfg.Credential = credentialFor(t, w[5], cfg.JobID, 1)
			cfg.Identities = append([]string(nil), cfg.Identities...)
			cfg.Identities[1] = Fingerprint(w[5].Certificate[0])
		}, "credential signed by worker"},
		{"another job's credential", pinned(t), func(t testing.TB, cfg *Config) {
			cfg.Key, cfg.Credential = credentialFor(t, w[1], "an-earlier-job", 1)
			cfg.JobID = "an-earlier-job"
		}, "does not match this job"},
		{"wrong secret", withSecret(testSecret), func(t testing.TB, cfg *Config) {
			cfg.Secret = []byte("not the job's secret, but long enough")
		}, "proof of the job secret does not match"},
		{"plain intruder", pinned(t), func(t testing.TB, cfg *Config) {
			cfg.Identities, cfg.Key, cfg.Credential = nil, nil, nil
		}, "not a TLS client: this job's links are authenticated (pinned identities)"},
		{"plain intruder, secret job", withSecret(testSecret), func(t testing.TB, cfg *Config) {
			cfg.Secret = nil
		}, "not a TLS client: this job's links are authenticated (job secret)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob(t, 3, false, 5*time.Second)
			impostor := job.Config(1)
			tc.mode(t, &impostor)
			tc.forge(t, &impostor)
			impostor.Timeout = 2 * time.Second
			var ierr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := Dial(context.Background(), impostor)
				if c != nil {
					c.Close()
				}
				ierr = err
			}()
			// Rank 0 is up first, so the impostor reaches it before the
			// real rank 1 does.
			cs, errs := dialAll(t, job, []int{0, 1, 2}, func(c *Config) {
				tc.mode(t, c)
				if c.Rank != 0 {
					time.Sleep(300 * time.Millisecond)
				}
			})
			<-done
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			if ierr == nil {
				t.Fatal("the impostor joined")
			}
			t.Logf("impostor: %v", ierr)
			if !strings.Contains(ierr.Error(), tc.reason) {
				t.Errorf("impostor told %q, want %q", ierr, tc.reason)
			}
			runParties(t, cs, func(c Comm) error { return Barrier(c) })
		})
	}
}

// The parties check the acceptor too: a rank 0 that cannot prove it is
// the worker the job names gets no party to join it.
func TestFalseMasterRefused(t *testing.T) {
	w := testWorkerCerts()
	job := newJob(t, 2, false, 2*time.Second)
	_, errs := dialAll(t, job, []int{0, 1}, func(c *Config) {
		pinned(t)(t, c)
		if c.Rank == 0 {
			// Rank 0 is run by worker 5, which the job does not name.
			c.Identities = append([]string(nil), c.Identities...)
			c.Identities[0] = Fingerprint(w[5].Certificate[0])
			c.Key, c.Credential = credentialFor(t, w[5], c.JobID, 0)
		}
	})
	wantErr(t, "rank 1", errs[1], "rank 0 failed to prove it belongs to the job", "credential signed by worker")
}

// relay is a man in the middle between a dialer and an acceptor: it ends
// each side's TLS session with its own key and passes the plaintext on.
func relay(t *testing.T, target string) (addr string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	key, _ := NewPartyKey()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				srv := tls.Server(in, &tls.Config{Certificates: []tls.Certificate{key.cert}, ClientAuth: tls.RequireAnyClientCert})
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				cli := tls.Client(out, &tls.Config{Certificates: []tls.Certificate{key.cert}, InsecureSkipVerify: true})
				var wg sync.WaitGroup
				wg.Add(2)
				go func() { defer wg.Done(); io.Copy(cli, srv); cli.CloseWrite() }()
				go func() { defer wg.Done(); io.Copy(srv, cli); srv.CloseWrite() }()
				wg.Wait()
			}()
		}
	}()
	return ln.Addr().String()
}

// A relay that terminates TLS (an orchestrator or network attacker placing
// itself between two parties) cannot pass a hello on: the proof is bound
// to the session it was made for.
func TestRelayRefused(t *testing.T) {
	for _, mode := range []struct {
		name   string
		auth   authFn
		reason string
	}{
		{"pinned", pinned(t), "but the link presented"},
		{"secret", withSecret(testSecret), "proof of the job secret does not match"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			job := newJob(t, 2, false, 2*time.Second)
			via := relay(t, job.MasterAddr())
			_, errs := dialAll(t, job, []int{0, 1}, func(c *Config) {
				mode.auth(t, c)
				if c.Rank == 1 {
					c.MasterAddr = via
				}
			})
			wantErr(t, "rank 1", errs[1], mode.reason)
			wantErr(t, "rank 0", errs[0], "never showed up", mode.reason)
		})
	}
}

// Misconfigurations are caught by Dial before any connection.
func TestAuthConfigErrors(t *testing.T) {
	w := testWorkerCerts()
	ids := identities(2)
	k, cred := credentialFor(t, w[1], "j", 1)
	base := Config{Rank: 1, Size: 2, MasterAddr: "127.0.0.1:1", JobID: "j"}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"both", func(c *Config) { c.Identities, c.Key, c.Credential, c.Secret = ids, k, cred, testSecret }, "not both"},
		{"short secret", func(c *Config) { c.Secret = []byte("short") }, "job secret of 5 bytes"},
		{"ids without key", func(c *Config) { c.Identities = ids }, "need this party's Key and Credential"},
		{"too few ids", func(c *Config) { c.Identities, c.Key, c.Credential = ids[:1], k, cred }, "1 identities for a world of 2"},
		{"bad id", func(c *Config) { c.Identities, c.Key, c.Credential = []string{ids[0], "nope"}, k, cred }, "identity of rank 1"},
		{"own credential for another rank", func(c *Config) { c.Rank = 0; c.Identities, c.Key, c.Credential = ids, k, cred }, "own credential does not fit"},
		{"own credential for another key", func(c *Config) {
			other, _ := NewPartyKey()
			c.Identities, c.Key, c.Credential = ids, other, cred
		}, "own credential does not fit"},
	}
	for _, tc := range cases {
		cfg := base
		tc.edit(&cfg)
		_, err := Dial(context.Background(), cfg)
		wantErr(t, tc.name, err, tc.want)
	}
}

// sayHello plays a party by hand: TLS with key, then hello, and returns
// the answer.
func sayHello(t *testing.T, addr string, key *PartyKey, h ctrlMsg) ctrlMsg {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	c := tls.Client(raw, &tls.Config{Certificates: []tls.Certificate{key.cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if _, err := c.Write(h.encode()); err != nil {
		t.Fatal(err)
	}
	m, err := readCtrl(c)
	if err != nil {
		t.Fatalf("reading the answer to a forged hello: %v", err)
	}
	return m
}

// Forged hellos at the rendezvous of a pinned job: each is refused with a
// reason, and the slot it aimed at stays free for the real party.
func TestForgedCredentialsRefused(t *testing.T) {
	w := testWorkerCerts()
	cases := []struct {
		name   string
		proof  func(job string, key *PartyKey) []byte
		reason string
	}{
		{"stolen credential", func(job string, _ *PartyKey) []byte {
			// Rank 1's genuine credential, replayed by someone without
			// its party key.
			_, c := credentialFor(t, w[1], job, 1)
			b, _ := c.MarshalBinary()
			return b
		}, "but the link presented"},
		{"another rank's credential", func(job string, _ *PartyKey) []byte {
			_, c := credentialFor(t, w[2], job, 2)
			b, _ := c.MarshalBinary()
			return b
		}, "credential for rank 2 presented as rank 1"},
		{"edited rank", func(job string, key *PartyKey) []byte {
			// A credential for the forger's own key, for rank 2, edited.
			c, err := SignCredential(w[1], job, 2, key)
			if err != nil {
				t.Fatal(err)
			}
			c.Rank = 1
			b, _ := c.MarshalBinary()
			return b
		}, "bad signature"},
		{"garbage", func(string, *PartyKey) []byte { return []byte("let me in") }, "bad magic"},
		{"none", func(string, *PartyKey) []byte { return nil }, "rank 1 sent no credential"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob(t, 3, false, 5*time.Second)
			key, _ := NewPartyKey()
			h := ctrlMsg{Kind: kindHello, From: 1, To: 0, Size: 3, Job: job.JobID, Proof: tc.proof(job.JobID, key)}
			var answer ctrlMsg
			cs, errs := dialAll(t, job, []int{0, 1, 2}, func(c *Config) {
				pinned(t)(t, c)
				switch c.Rank {
				case 0:
				case 1:
					answer = sayHello(t, job.MasterAddr(), key, h)
				default:
					time.Sleep(100 * time.Millisecond)
				}
			})
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			if answer.Kind != kindReject || !strings.Contains(answer.Reason, tc.reason) {
				t.Errorf("forged hello answered %v %q, want a refusal with %q", answer.Kind, answer.Reason, tc.reason)
			}
			runParties(t, cs, func(c Comm) error { return Barrier(c) })
		})
	}
}
