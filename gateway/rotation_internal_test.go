package gateway

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

// rotationFixture is a listener's files in a directory of their own and a
// reloader started from them.
type rotationFixture struct {
	dir                       string
	ca                        *demopki.Issuer
	certFile, keyFile, caFile string
	r                         *certReloader
	m                         *metrics
}

func newRotationFixture(t *testing.T) *rotationFixture {
	t.Helper()
	f := &rotationFixture{dir: t.TempDir(), m: newMetrics()}
	f.certFile, f.keyFile, f.caFile = filepath.Join(f.dir, "server.crt"), filepath.Join(f.dir, "server.key"), filepath.Join(f.dir, "ca.crt")
	var err error
	if f.ca, err = demopki.NewCA(pkix.Name{CommonName: "Rotation CA 1"}); err != nil {
		t.Fatal(err)
	}
	rotMust(t, demopki.WriteCert(f.caFile, f.ca.Cert))
	f.issue(t, "old", time.Time{})
	kp, err := conf.LoadKeyPair(f.certFile, f.keyFile)
	rotMust(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(f.ca.Cert)
	lc := &conf.Listener{Name: "edge", TLS: conf.ListenerTLS{
		Certificate: f.certFile, Key: f.keyFile, ClientCA: f.caFile, ClientAuth: conf.ClientAuthRequire,
	}}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{kp}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	f.r = newCertReloader(lc, tc, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), f.m)
	return f
}

// issue writes a new server certificate for cn and its key.
func (f *rotationFixture) issue(t *testing.T, cn string, notAfter time.Time) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	c, k, err := f.ca.Issue(demopki.Leaf{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{"localhost"}, Server: true, NotAfter: notAfter})
	rotMust(t, err)
	rotMust(t, demopki.WriteCert(f.certFile, c))
	rotMust(t, demopki.WriteKey(f.keyFile, k))
	return c, k
}

func (f *rotationFixture) serial(t *testing.T) string {
	t.Helper()
	c, _ := f.r.getCertificate(nil)
	return c.Leaf.SerialNumber.String()
}

// metric is the value of the series of name whose labels include want.
func (f *rotationFixture) metric(t *testing.T, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := f.m.reg.Gather()
	rotMust(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func (f *rotationFixture) reloads(t *testing.T, result string) float64 {
	v, _ := f.metric(t, "gatehouse_certificate_reload_total", map[string]string{"listener": "edge", "result": result})
	return v
}

// TestCertificateRotation: a new certificate and key replace the old ones
// for new handshakes, with the metrics following; unchanged files reload
// nothing.
func TestCertificateRotation(t *testing.T) {
	f := newRotationFixture(t)
	old := f.serial(t)
	oldPool := f.r.client.Load()
	rotMust(t, f.r.Reload())
	if f.reloads(t, "ok") != 0 || f.serial(t) != old {
		t.Fatal("unchanged files were reloaded")
	}
	c, _ := f.issue(t, "new", time.Now().Add(48*time.Hour))
	rotMust(t, f.r.Reload())
	if got := f.serial(t); got != c.SerialNumber.String() {
		t.Fatalf("serial after reload %s, want %s (old %s)", got, c.SerialNumber, old)
	}
	if f.r.client.Load() == oldPool {
		t.Error("the handshake configuration was not renewed with the reload")
	}
	if f.reloads(t, "ok") != 1 || f.reloads(t, "failed") != 0 {
		t.Errorf("reloads ok %v failed %v, want 1 and 0", f.reloads(t, "ok"), f.reloads(t, "failed"))
	}
	if v, ok := f.metric(t, "gatehouse_certificate_expiry_timestamp_seconds", map[string]string{"kind": certListener, "subject": "CN=new"}); !ok || v != float64(c.NotAfter.Unix()) {
		t.Errorf("expiry of the new certificate: %v %v", v, ok)
	}
	if _, ok := f.metric(t, "gatehouse_certificate_expiry_timestamp_seconds", map[string]string{"kind": certListener, "subject": "CN=old"}); ok {
		t.Error("the old certificate's expiry series is still exported")
	}
	if _, ok := f.metric(t, "gatehouse_certificate_expiry_timestamp_seconds", map[string]string{"kind": certClientCA, "subject": "CN=Rotation CA 1"}); !ok {
		t.Error("no client-ca expiry series after the reload")
	}
}

// TestCertificateRotationRefused: a key that does not match, an expired
// certificate and a CA bundle without certificates are refused, naming the
// file; the previous certificate and pool stay in force.
func TestCertificateRotationRefused(t *testing.T) {
	f := newRotationFixture(t)
	_, oldKey := f.issue(t, "first", time.Time{})
	rotMust(t, f.r.Reload())
	old, oldPool := f.serial(t), f.r.client.Load()

	check := func(name, wantErr string) {
		t.Helper()
		failed := f.reloads(t, "failed")
		err := f.r.Reload()
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: err %v, want one containing %q", name, err, wantErr)
		}
		if f.serial(t) != old || f.r.client.Load() != oldPool {
			t.Errorf("%s: the refused files replaced the previous ones", name)
		}
		if f.reloads(t, "failed") != failed+1 {
			t.Errorf("%s: failed reloads not counted", name)
		}
	}

	// A new certificate with the previous key.
	f.issue(t, "mismatch", time.Time{})
	rotMust(t, demopki.WriteKey(f.keyFile, oldKey))
	check("mismatched key", "key "+f.keyFile+" does not match certificate "+f.certFile)

	f.issue(t, "expired", time.Now().Add(-time.Minute))
	check("expired certificate", "certificate "+f.certFile+": expired")

	f.issue(t, "good", time.Time{})
	rotMust(t, os.WriteFile(f.caFile, []byte("not a bundle\n"), 0o644))
	check("CA bundle without certificates", "clientCA "+f.caFile+": no PEM CERTIFICATE block")

	rotMust(t, os.Remove(f.keyFile))
	check("missing key", "key "+f.keyFile)
	if _, ok := f.metric(t, "gatehouse_certificate_expiry_timestamp_seconds", map[string]string{"kind": certListener, "subject": "CN=good"}); ok {
		t.Error("a refused certificate's expiry is exported")
	}
}

// TestCertificateRotationClientCA: the handshake configuration carries the
// reloaded client CA pool, old and new CA during a transition.
func TestCertificateRotationClientCA(t *testing.T) {
	f := newRotationFixture(t)
	ca2, err := demopki.NewCA(pkix.Name{CommonName: "Rotation CA 2"})
	rotMust(t, err)
	client, _, err := ca2.Issue(demopki.Leaf{Subject: pkix.Name{CommonName: "client"}, Client: true})
	rotMust(t, err)
	verify := func() error {
		_, err := client.Verify(x509.VerifyOptions{Roots: f.r.client.Load().ClientCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err
	}
	if verify() == nil {
		t.Fatal("a client of CA 2 verifies before CA 2 is added")
	}
	both := append(pemOf(f.ca.Cert), pemOf(ca2.Cert)...)
	rotMust(t, os.WriteFile(f.caFile, both, 0o644))
	rotMust(t, f.r.Reload())
	if err := verify(); err != nil {
		t.Fatalf("a client of CA 2 after CA 2 was added: %v", err)
	}
	cfg, err := f.r.serverConfig().GetConfigForClient(nil)
	rotMust(t, err)
	if cfg != f.r.client.Load() || cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.GetCertificate == nil {
		t.Error("GetConfigForClient does not return the current handshake configuration")
	}
}

func pemOf(c *x509.Certificate) []byte {
	dir, _ := os.MkdirTemp("", "pem")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "c.pem")
	_ = demopki.WriteCert(p, c)
	b, _ := os.ReadFile(p)
	return b
}

func rotMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
