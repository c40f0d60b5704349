package interop

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The interop PKI is RSA-2048 throughout: every peer verifies RSA, and
// WSS4J 1.6 and lasso verify nothing else.

// ca is a certificate authority of the interop PKI.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// keyPair is a leaf certificate and its key.
type keyPair struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t *testing.T) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// attr is one attribute of a distinguished name, in a name written in the
// order it has in the certificate (first = the DER's first RDN).
func attr(oid asn1.ObjectIdentifier, v string) pkix.RelativeDistinguishedNameSET {
	return pkix.RelativeDistinguishedNameSET{{Type: oid, Value: v}}
}

var (
	oidC  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
)

// newCA makes a self-signed CA whose subject is the RDN sequence as given,
// so that a test can choose an order other than the one Go writes.
func newCA(t *testing.T, subject pkix.RDNSequence) *ca {
	t.Helper()
	raw, err := asn1.Marshal(subject)
	if err != nil {
		t.Fatal(err)
	}
	key := rsaKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), RawSubject: raw,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ca{cert: cert, key: key}
}

// leaf is what issue writes into a certificate.
type leaf struct {
	subject pkix.Name
	uri     string
	dns     []string
	server  bool
}

// issue signs a leaf with a fresh RSA key. Its SubjectKeyIdentifier is the
// SHA-1 of the public key (RFC 5280 4.2.1.2 method 1), which WSS4J reads
// for a SKI key identifier.
func (c *ca) issue(t *testing.T, l leaf) keyPair {
	t.Helper()
	key := rsaKey(t)
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		t.Fatal(err)
	}
	ski := sha1.Sum(info.Key.Bytes)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: l.subject, SubjectKeyId: ski[:],
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:    l.dns,
	}
	if l.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	if l.uri != "" {
		u, err := url.Parse(l.uri)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{cert: cert, key: key}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// writePEM writes cert (and key, if not nil) as dir/name.crt and
// dir/name.key and returns their paths.
func writePEM(t *testing.T, dir, name string, cert *x509.Certificate, key crypto.Signer) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+".crt")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	if key != nil {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyFile = filepath.Join(dir, name+".key")
		writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	return certFile, keyFile
}

// writeDER writes cert (and key, PKCS#8, if not nil) in DER as
// dir/name.der and dir/name-key.der, as the Java side reads them.
func writeDER(t *testing.T, dir, name string, cert *x509.Certificate, key crypto.Signer) (certFile, keyFile string) {
	t.Helper()
	certFile = filepath.Join(dir, name+".der")
	writeFile(t, certFile, cert.Raw)
	if key != nil {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyFile = filepath.Join(dir, name+"-key.der")
		writeFile(t, keyFile, der)
	}
	return certFile, keyFile
}
