package comm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"
)

func init() {
	worlds = append(worlds,
		world{"tcp", func(t testing.TB, n int, ttp bool) []Comm { return dialWorld(t, n, ttp, nil) }},
		world{"pinned", func(t testing.TB, n int, ttp bool) []Comm { return dialWorld(t, n, ttp, pinned(t)) }},
		world{"secret", func(t testing.TB, n int, ttp bool) []Comm { return dialWorld(t, n, ttp, withSecret(testSecret)) }},
	)
}

// authFn sets a rank's authentication in its Config.
type authFn func(t testing.TB, cfg *Config)

// dialWorld starts a loopback mesh of n parties (plus TTP) as goroutines.
func dialWorld(t testing.TB, n int, ttp bool, auth authFn) []Comm {
	t.Helper()
	job, err := NewLocalJob(n, ttp)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	job.Timeout = 10 * time.Second
	cs := make([]Comm, job.Parties())
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for r := range cs {
		cfg := job.Config(r)
		if auth != nil {
			auth(t, &cfg)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs[r], errs[r] = Dial(context.Background(), cfg)
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range cs {
			if c != nil {
				c.Close()
			}
		}
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	return cs
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// withSecret authenticates every rank by secret.
func withSecret(secret []byte) authFn {
	return func(t testing.TB, cfg *Config) { cfg.Secret = secret }
}

// testWorkerCerts are long-term worker key pairs, made once per test
// binary (index = rank in the tests that pin them).
var testWorkerCerts = sync.OnceValue(func() []tls.Certificate {
	cs := make([]tls.Certificate, 8)
	for i := range cs {
		cs[i] = workerCert(nil, "worker")
	}
	return cs
})

// workerCert makes a self-signed ECDSA P-256 key pair like a worker's.
func workerCert(t testing.TB, name string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gomplab worker " + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// identities lists the fingerprints of the first n test workers.
func identities(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = Fingerprint(testWorkerCerts()[i].Certificate[0])
	}
	return ids
}

// pinned pins rank r to test worker r, as a worker would: a fresh party
// key per rank and a credential signed by the worker's key.
func pinned(t testing.TB) authFn {
	return func(t testing.TB, cfg *Config) {
		p := cfg.Size
		if cfg.TTP {
			p++
		}
		cfg.Identities = identities(p)
		cfg.Key, cfg.Credential = credentialFor(t, testWorkerCerts()[cfg.Rank], cfg.JobID, cfg.Rank)
	}
}

// credentialFor mints a party key and has worker sign it for rank of job.
func credentialFor(t testing.TB, worker tls.Certificate, job string, rank int) (*PartyKey, *Credential) {
	t.Helper()
	k, err := NewPartyKey()
	if err != nil {
		t.Fatal(err)
	}
	c, err := SignCredential(worker, job, rank, k)
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}
