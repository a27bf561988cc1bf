package comm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

// selfSigned makes a self-signed key pair for any key type.
func selfSigned(t testing.TB, priv any, pub any) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "w"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
}

func TestCredentialVerify(t *testing.T) {
	w0, w1 := testWorkerCerts()[0], testWorkerCerts()[1]
	fp0 := Fingerprint(w0.Certificate[0])
	key, cred := credentialFor(t, w0, "job-1", 2)
	other, _ := NewPartyKey()
	party := key.cert.Certificate[0]
	if err := cred.Verify("job-1", 2, fp0, party); err != nil {
		t.Fatalf("valid credential: %v", err)
	}
	forged := *cred
	forged.Sig = append([]byte(nil), cred.Sig...)
	forged.Sig[len(forged.Sig)/2] ^= 1
	forgedRank := *cred
	forgedRank.Rank = 1 // same signature, edited rank
	cases := []struct {
		name   string
		c      *Credential
		job    string
		rank   int
		fp     string
		party  []byte
		reason string
	}{
		{"other job", cred, "job-2", 2, fp0, party, `credential for job "job-1"`},
		{"other rank", cred, "job-1", 1, fp0, party, "credential for rank 2 presented as rank 1"},
		{"other worker", cred, "job-1", 2, Fingerprint(w1.Certificate[0]), party, "but rank 2 belongs to worker"},
		{"other party key", cred, "job-1", 2, fp0, other.cert.Certificate[0], "but the link presented"},
		{"bad signature", &forged, "job-1", 2, fp0, party, "bad signature"},
		{"edited rank", &forgedRank, "job-1", 1, fp0, party, "bad signature"},
		{"bad pin", cred, "job-1", 2, "md5:00", party, "want sha256: and 64 hex digits"},
	}
	for _, tc := range cases {
		err := tc.c.Verify(tc.job, tc.rank, tc.fp, tc.party)
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.reason)
		}
	}
}

func TestCredentialKeyTypes(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	key, _ := NewPartyKey()
	for _, tc := range []struct {
		name string
		w    tls.Certificate
		want string // "" for success
	}{
		{"ed25519", selfSigned(t, edPriv, edPriv.Public()), ""},
		{"p384", selfSigned(t, p384, &p384.PublicKey), ""},
		{"rsa", selfSigned(t, rsaKey, &rsaKey.PublicKey), "only ECDSA and Ed25519"},
		{"mismatched pair", tls.Certificate{Certificate: testWorkerCerts()[0].Certificate, PrivateKey: testWorkerCerts()[1].PrivateKey}, "bad signature"},
		{"no certificate", tls.Certificate{PrivateKey: p384}, "no certificate"},
	} {
		c, err := SignCredential(tc.w, "j", 0, key)
		if tc.want != "" {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := c.Verify("j", 0, Fingerprint(tc.w.Certificate[0]), key.cert.Certificate[0]); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := SignCredential(testWorkerCerts()[0], strings.Repeat("j", maxJobID+1), 0, key); err == nil {
		t.Error("overlong job id signed")
	}
	if _, err := SignCredential(testWorkerCerts()[0], "j", -1, key); err == nil {
		t.Error("negative rank signed")
	}
}

func TestCredentialEncoding(t *testing.T) {
	_, cred := credentialFor(t, testWorkerCerts()[0], "job-1", 3)
	b, err := cred.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCredential(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cred) {
		t.Errorf("round trip:\n%+v\n%+v", got, cred)
	}
	mutate := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated credential magic"},
		{"magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), "bad magic"},
		{"version", mutate(func(b []byte) []byte { b[4] = 9; return b }), "credential version 9"},
		{"truncated", b[:len(b)-1], "truncated signature"},
		{"trailing", append(append([]byte(nil), b...), 0), "1 trailing bytes"},
		{"long job", mutate(func(b []byte) []byte { b[5], b[6] = 0xff, 0xff; return b }), "exceeds 256"},
	} {
		_, err := ParseCredential(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestPartyKeyPEM(t *testing.T) {
	k, err := NewPartyKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePartyKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != k.Fingerprint() {
		t.Errorf("fingerprint %s after round trip, want %s", got.Fingerprint(), k.Fingerprint())
	}
	// The parsed key signs credentials that verify against its certificate.
	c, err := SignCredential(testWorkerCerts()[0], "j", 1, got)
	if err != nil || c.Verify("j", 1, Fingerprint(testWorkerCerts()[0].Certificate[0]), k.cert.Certificate[0]) != nil {
		t.Errorf("credential for parsed key: %v", err)
	}

	other, _ := NewPartyKey()
	ob, _ := other.MarshalPEM()
	certOf := func(b []byte) []byte { blk, _ := pem.Decode(b); return pem.EncodeToMemory(blk) }
	keyOf := func(b []byte) []byte { _, rest := pem.Decode(b); return rest }
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaPair := selfSigned(t, rsaKey, &rsaKey.PublicKey)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	rsaPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rsaPair.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})...)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "party key"},
		{"mismatched", append(certOf(b), keyOf(ob)...), "does not match"},
		{"two certificates", append(append(certOf(b), certOf(ob)...), keyOf(b)...), ""},
		{"rsa", rsaPEM, "want an ECDSA P-256 key"},
		{"huge", bytes.Repeat([]byte("x"), maxPartyKeyPEM+1), "exceeds"},
	} {
		_, err := ParsePartyKey(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzParseCredential: arbitrary bytes never panic the decoder, and what it
// accepts re-encodes to the same bytes.
func FuzzParseCredential(f *testing.F) {
	_, cred := credentialFor(f, testWorkerCerts()[0], "job", 1)
	b, _ := cred.MarshalBinary()
	f.Add(b)
	f.Add([]byte("GMCR\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCredential(b)
		if err != nil {
			return
		}
		again, err := c.MarshalBinary()
		if err != nil {
			t.Fatalf("re-encode %+v: %v", c, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
		}
		// Verification of garbage fails cleanly.
		if c.Verify(c.Job, c.Rank, Fingerprint(c.Worker), nil) == nil {
			t.Fatal("a credential verified against no party certificate")
		}
	})
}

// FuzzParsePartyKey: the party process decodes the key its worker handed
// it; arbitrary bytes never panic, and an accepted key is a usable
// P-256 key whose encoding parses to the same certificate.
func FuzzParsePartyKey(f *testing.F) {
	k, _ := NewPartyKey()
	b, _ := k.MarshalPEM()
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePartyKey(b)
		if err != nil {
			return
		}
		again, err := k.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		k2, err := ParsePartyKey(again)
		if err != nil || k2.Fingerprint() != k.Fingerprint() {
			t.Fatalf("re-parse: %v", err)
		}
	})
}

// TestBindJob: the bound id depends on the job and on the secret, keeps
// the job's id readable, and fits the bounds on job ids.
func TestBindJob(t *testing.T) {
	a := BindJob("j1", []byte("0123456789abcdef"))
	for _, other := range []string{BindJob("j1", []byte("0123456789abcdeg")), BindJob("j2", []byte("0123456789abcdef"))} {
		if other == a {
			t.Fatalf("BindJob collides: %s", a)
		}
	}
	if a != BindJob("j1", []byte("0123456789abcdef")) || !strings.HasPrefix(a, "j1~") || len(a) != len("j1~")+32 {
		t.Fatalf("BindJob(j1) = %q", a)
	}
}
