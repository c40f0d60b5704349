package main

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/gateway/internal/demo"
	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

// TestBinaryCertificateRotation rotates the edge listener's certificate
// (file watch) and its client CA bundle (SIGHUP to add a CA, file watch to
// remove one) while a consumer calls continuously, each call on a new
// connection: not one of its calls fails.
func TestBinaryCertificateRotation(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	backend := httptest.NewServer(&demo.Accounts{})
	defer backend.Close()
	edge, admin := freeAddr(t), freeAddr(t)
	copyDemo(t, dir)
	pki := filepath.Join(dir, "pki")

	// The listener's files live in listener/; its bundle is a symbolic
	// link to cas/bundle.pem, whose changes the watch of listener/ does
	// not see (only SIGHUP does).
	lis, cas := filepath.Join(dir, "listener"), filepath.Join(dir, "cas")
	for _, d := range []string{lis, cas} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(pki, demopki.ServerCert), filepath.Join(lis, "server.crt"))
	copyFile(t, filepath.Join(pki, demopki.ServerKey), filepath.Join(lis, "server.key"))
	demoCA := readFile(t, filepath.Join(pki, demopki.CACert))
	caKP, err := tls.LoadX509KeyPair(filepath.Join(pki, demopki.CACert), filepath.Join(pki, demopki.CAKey))
	if err != nil {
		t.Fatal(err)
	}
	ca := &demopki.Issuer{Cert: caKP.Leaf, Key: caKP.PrivateKey.(crypto.Signer)}
	oldCA, oldClient := clientCA(t, dir, "old")
	newCA, newClient := clientCA(t, dir, "new")
	bundle := filepath.Join(cas, "bundle.pem")
	writeAtomic(t, bundle, append(bytes.Clone(demoCA), oldCA...))
	if err := os.Symlink(bundle, filepath.Join(lis, "clients.pem")); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, "gatehouse.xml", edgeReplacements(backend.URL+"/accounts", edge, admin,
		`<tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>`,
		`<tls certificate="listener/server.crt" key="listener/server.key" clientCA="listener/clients.pem"/>`)...)
	srv := serveDemo(t, bin, cfgPath, admin)

	body := readFile(t, "../../../conf/demo/requests/get-balance-11.xml")
	// call sends one GetBalance on a new connection with the client
	// certificate in certFile and keyFile and returns the server's leaf.
	call := func(certFile, keyFile string) (*x509.Certificate, error) {
		c := mtlsClientAs(t, pki, certFile, keyFile)
		c.Transport.(*http.Transport).DisableKeepAlives = true
		req, _ := http.NewRequest("POST", "https://"+edge+"/services/accounts", bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"urn:gatehouse:demo:accounts:GetBalance"`)
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "<a:Balance>") {
			return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
		}
		return resp.TLS.PeerCertificates[0], nil
	}
	consumer := func() (*x509.Certificate, error) {
		return call(filepath.Join(pki, demopki.ConsumerCert), filepath.Join(pki, demopki.ConsumerKey))
	}
	first, err := consumer()
	if err != nil {
		t.Fatalf("before the rotation: %v\n%s", err, srv.stderr.String())
	}
	if _, err := call(oldClient[0], oldClient[1]); err != nil {
		t.Fatalf("a client of the old CA before the rotation: %v", err)
	}
	if _, err := call(newClient[0], newClient[1]); err == nil {
		t.Fatal("a client of the new CA accepted before its CA was added")
	}

	// The consumer whose CA stays in the bundle calls without pause.
	var calls, failures atomic.Int64
	var failMu sync.Mutex
	var failed []string
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		deadline := time.After(20 * time.Second) // bound, should the test hang
		for {
			select {
			case <-stop:
				return
			case <-deadline:
				return
			default:
			}
			calls.Add(1)
			if _, err := consumer(); err != nil {
				failures.Add(1)
				failMu.Lock()
				failed = append(failed, err.Error())
				failMu.Unlock()
			}
		}
	}()
	until := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if ok() {
				return
			}
		}
		close(stop)
		<-loopDone
		t.Fatalf("%s: not within %s\n%s", what, within, srv.stderr.String())
	}

	// (1) A new server certificate, replaced by mv: seen by the watch.
	leaf, key, err := ca.Issue(demopki.Leaf{
		Subject:  pkix.Name{CommonName: "gatehouse." + demopki.TrustDomain, Organization: []string{"Demo Bank"}},
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, URIs: []string{demopki.EdgeSPIFFEID},
		Server: true, Client: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	writeAtomicWith(t, filepath.Join(lis, "server.key"), func(p string) error { return demopki.WriteKey(p, key) })
	writeAtomicWith(t, filepath.Join(lis, "server.crt"), func(p string) error { return demopki.WriteCert(p, leaf) })
	until("new connections see the new server certificate", 5*time.Second, func() bool {
		c, err := consumer()
		return err == nil && c.SerialNumber.Cmp(leaf.SerialNumber) == 0
	})
	if leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("the new certificate has the old serial")
	}

	// (2) The bundle gains the new CA, which only SIGHUP sees (the link's
	// target is outside the watched directory).
	writeAtomic(t, bundle, bytes.Join([][]byte{demoCA, oldCA, newCA}, nil))
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	until("a client of the new CA accepted after SIGHUP", 5*time.Second, func() bool {
		_, err := call(newClient[0], newClient[1])
		return err == nil
	})
	if _, err := call(oldClient[0], oldClient[1]); err != nil {
		t.Fatalf("a client of the old CA during the transition: %v", err)
	}

	// (3) The old CA removed: the link replaced by a file (mv), which the
	// watch sees.
	writeAtomic(t, filepath.Join(lis, "clients.pem"), append(bytes.Clone(demoCA), newCA...))
	until("a client of the old CA refused", 5*time.Second, func() bool {
		_, err := call(oldClient[0], oldClient[1])
		return err != nil
	})
	if _, err := call(newClient[0], newClient[1]); err != nil {
		t.Fatalf("a client of the new CA after the old one was removed: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	<-loopDone

	if n, f := calls.Load(), failures.Load(); f != 0 || n < 10 {
		t.Fatalf("continuous consumer: %d calls, %d failed: %q", n, f, failed)
	} else {
		t.Logf("continuous consumer: %d calls, none failed", n)
	}
	metrics := readURL(t, "http://"+admin+"/metrics")
	for _, want := range []string{
		`gatehouse_certificate_reload_total{listener="edge",result="ok"} 3`,
		`gatehouse_certificate_expiry_timestamp_seconds{kind="client-ca",name="edge",subject="CN=Rotation new CA"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, `subject="CN=Rotation old CA"`) {
		t.Error("the removed CA's expiry is still exported")
	}
}

// clientCA makes a CA named name, writes a consumer certificate it issued
// into dir, and returns the CA's PEM and the certificate and key files.
func clientCA(t *testing.T, dir, name string) ([]byte, [2]string) {
	t.Helper()
	ca, err := demopki.NewCA(pkix.Name{CommonName: "Rotation " + name + " CA"})
	if err != nil {
		t.Fatal(err)
	}
	c, k, err := ca.Issue(demopki.Leaf{
		Subject: pkix.Name{CommonName: "teller-app", OrganizationalUnit: []string{"Retail"}, Organization: []string{"Demo Bank"}},
		URIs:    []string{demopki.ConsumerSPIFFEID}, Client: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	files := [2]string{filepath.Join(dir, name+"-client.crt"), filepath.Join(dir, name+"-client.key")}
	caFile := filepath.Join(dir, name+"-ca.crt")
	for _, err := range []error{demopki.WriteCert(files[0], c), demopki.WriteKey(files[1], k), demopki.WriteCert(caFile, ca.Cert)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return readFile(t, caFile), files
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readURL(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	writeAtomic(t, to, readFile(t, from))
}

// writeAtomic replaces path as mv does: written beside it, then renamed.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	writeAtomicWith(t, path, func(p string) error { return os.WriteFile(p, data, 0o600) })
}

func writeAtomicWith(t *testing.T, path string, write func(string) error) {
	t.Helper()
	tmp := path + ".tmp"
	if err := write(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
