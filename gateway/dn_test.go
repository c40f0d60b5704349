package gateway_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
)

// issueClient issues a client certificate from the environment's demo CA
// with the subject rdns (in DER order, most significant first) and writes
// it as name.crt and name.key in the PKI directory.
func (e *env) issueClient(t *testing.T, name string, uris []string, rdns ...pkix.AttributeTypeAndValue) *x509.Certificate {
	t.Helper()
	dir := filepath.Join(e.dir, "pki")
	certPEM, err := os.ReadFile(filepath.Join(dir, demopki.CACert))
	must(t, err)
	keyPEM, err := os.ReadFile(filepath.Join(dir, demopki.CAKey))
	must(t, err)
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		t.Fatal("demo CA is not PEM")
	}
	caCert, err := x509.ParseCertificate(cb.Bytes)
	must(t, err)
	caKey, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	must(t, err)
	ca := &demopki.Issuer{Cert: caCert, Key: caKey.(crypto.Signer)}
	// Only ExtraNames: pkix.Name encodes them in this order, unlike its
	// own fields (always C, O, OU, CN).
	cert, key, err := ca.Issue(demopki.Leaf{Subject: pkix.Name{ExtraNames: rdns}, URIs: uris, Client: true})
	must(t, err)
	must(t, demopki.WriteCert(filepath.Join(dir, name+".crt"), cert))
	must(t, demopki.WriteKey(filepath.Join(dir, name+".key"), key))
	return cert
}

// opensslSubject is the subject as openssl prints it (RFC 2253), the
// independent reference of a certificate DN.
func opensslSubject(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command("openssl", "x509", "-in", file, "-noout", "-subject", "-nameopt", "RFC2253").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl (needed for this test): %v\n%s", err, out)
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "subject=")
	if !ok {
		t.Fatalf("openssl printed %q", out)
	}
	return s
}

// TestCallerIDIsRFC4514Subject: an mTLS client certificate without a
// SPIFFE ID calls as its subject DN, rendered RFC 4514 from the
// certificate (as openssl prints it, not in Go's attribute order), and the
// policy's consumer and caller workloads, written as the same DN in other
// spellings, match it as a DN.
func TestCallerIDIsRFC4514Subject(t *testing.T) {
	const policy = `<policy>
    <consumer name="batch" workload="c=DE, o=demo bank, ou=Batch  Jobs, cn=LEGACY-BATCH"/>
    <flow from="batch" to="accounts"/>
    <rule id="batch-accounts" effect="allow" service="accounts" operation="*"><caller workload="2.5.4.6=DE,O=Demo Bank,OU=Batch Jobs,CN=legacy-batch"/></rule>
  </policy>`
	e := newEnv(t, envOptions{policy: policy})
	at := func(oid asn1.ObjectIdentifier, v string) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: oid, Value: v}
	}
	cert := e.issueClient(t, "batch", nil, // CN encoded first
		at(asn1.ObjectIdentifier{2, 5, 4, 3}, "legacy-batch"),
		at(asn1.ObjectIdentifier{2, 5, 4, 11}, "Batch Jobs"),
		at(asn1.ObjectIdentifier{2, 5, 4, 10}, "Demo Bank"),
		at(asn1.ObjectIdentifier{2, 5, 4, 6}, "DE"),
	)
	want := opensslSubject(t, filepath.Join(e.dir, "pki", "batch.crt"))
	if want != "C=DE,O=Demo Bank,OU=Batch Jobs,CN=legacy-batch" {
		t.Fatalf("openssl prints %q: the test's certificate is not what it expects", want)
	}
	if cert.Subject.String() == want {
		t.Fatalf("Go's order gives %q too: the test proves nothing", want)
	}

	e.client = e.clientWith("batch.crt", "batch.key")
	resp := e.post(t, "/services/accounts", envelope11(getBalance), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	rec := e.record(t, resp.Header.Get("X-Correlation-ID"))
	if rec.Caller != want {
		t.Errorf("audit caller %q, want the RFC 4514 subject %q", rec.Caller, want)
	}
	if rec.Issuer != "CN=Gatehouse Demo Internal CA,O=Demo Bank" {
		t.Errorf("audit issuer %q", rec.Issuer)
	}
}
