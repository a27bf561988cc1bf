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
	"net"
	"sync"
	"testing"
	"time"
)

func init() {
	worlds = append(worlds,
		world{"tcp", func(t testing.TB, n int, ttp bool) []Comm { return dialWorld(t, n, ttp, nil) }},
		world{"tls", func(t testing.TB, n int, ttp bool) []Comm { return dialWorld(t, n, ttp, testTLS(t)) }},
	)
}

// dialWorld starts a loopback mesh of n parties (plus TTP) as goroutines.
func dialWorld(t testing.TB, n int, ttp bool, tlsFor func(rank int) *tls.Config) []Comm {
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
		if tlsFor != nil {
			cfg.TLS = tlsFor(r)
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

// testCA is a certificate authority made once per test binary.
var testCA = sync.OnceValues(func() (*x509.Certificate, *ecdsa.PrivateKey) { return newCA(nil) })

// newCA makes a self-signed certificate authority.
func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gomplab test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return cert, key
}

// partyCert issues a certificate valid as TLS server and client on
// 127.0.0.1, signed by ca.
func partyCert(t testing.TB, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// testTLS gives each rank a certificate of the shared test CA.
func testTLS(t testing.TB) func(rank int) *tls.Config {
	ca, caKey := testCA()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return func(rank int) *tls.Config {
		return &tls.Config{
			Certificates: []tls.Certificate{partyCert(t, "party", ca, caKey)},
			RootCAs:      pool,
		}
	}
}
