// Package demopki generates the demo and test PKI: an internal CA, the
// gateway's server certificate, one consumer certificate with a SPIFFE ID,
// the STS signing certificate, and an untrusted CA with a look-alike
// consumer for negative tests. Keys are ECDSA P-256, except the STS
// signing key, which is RSA-2048 by default so that every SAML relying
// party can verify its assertions (lasso and xml-crypto verify no ECDSA
// signature); Options.STSKey selects ECDSA P-256 instead. Keys are PKCS#8
// PEM, written 0600. It is for demos and tests only; production
// certificates come from the organisation's CA.
package demopki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Demo identities.
const (
	TrustDomain      = "demo.gatehouse.internal"
	ConsumerSPIFFEID = "spiffe://" + TrustDomain + "/retail/teller-app"
	// EdgeSPIFFEID is the edge gateway's workload id (server.crt): the
	// enforcement point knows the edge by it.
	EdgeSPIFFEID = "spiffe://" + TrustDomain + "/gatehouse/edge"
	// EnforcementSPIFFEID is the mainframe enforcement point's workload
	// id (enforcement.crt).
	EnforcementSPIFFEID = "spiffe://" + TrustDomain + "/gatehouse/mainframe-ep"
)

// Files written by Generate, relative to its directory.
const (
	CACert          = "ca.crt"
	CAKey           = "ca.key"
	ServerCert      = "server.crt"
	ServerKey       = "server.key"
	ConsumerCert    = "consumer.crt"
	ConsumerKey     = "consumer.key"
	UntrustedCACert = "untrusted-ca.crt"
	UntrustedCert   = "untrusted.crt"
	UntrustedKey    = "untrusted.key"
	STSCert         = "sts.crt"
	STSKey          = "sts.key"
	// EnforcementCert and EnforcementKey are the server certificate of
	// the second Gatehouse, the enforcement point in front of the demo
	// mainframe.
	EnforcementCert = "enforcement.crt"
	EnforcementKey  = "enforcement.key"
	// TellerSecret is the demo UsernameToken user's password, random per
	// demo PKI (the users file names it as the user's secretFile).
	TellerSecret = "teller.secret"
	// RACFKey is the demo CICS region's secured signon key (enhanced
	// PassTicket, 64 bytes, hex), shared by Gatehouse and the demo CICS.
	RACFKey          = "racf-cicsprod.key"
	leafValidity     = 365 * 24 * time.Hour
	caValidity       = 3 * 365 * 24 * time.Hour
	regenerateBefore = 7 * 24 * time.Hour
)

// Key algorithms of generated keys.
const (
	KeyECDSAP256 = "ecdsa" // ECDSA P-256
	KeyRSA2048   = "rsa"   // RSA, 2048 bits
)

// Options are the choices of a demo PKI.
type Options struct {
	// STSKey is the STS signing key's algorithm: KeyRSA2048 (the default,
	// also when empty) or KeyECDSAP256.
	STSKey string
	// ConsumerKey is the consumer's key algorithm (its TLS client
	// certificate and its message signatures): KeyECDSAP256 (the default,
	// also when empty) or KeyRSA2048.
	ConsumerKey string
}

func (o Options) stsKey() (string, error) { return algorithm("STS", o.STSKey, KeyRSA2048) }

func (o Options) consumerKey() (string, error) {
	return algorithm("consumer", o.ConsumerKey, KeyECDSAP256)
}

// algorithm checks the key algorithm v asked for the key of whom; empty is
// def.
func algorithm(whom, v, def string) (string, error) {
	switch v {
	case "":
		return def, nil
	case KeyRSA2048, KeyECDSAP256:
		return v, nil
	}
	return "", fmt.Errorf("demopki: unknown %s key algorithm %q (want %q or %q)", whom, v, KeyRSA2048, KeyECDSAP256)
}

func newKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "", KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("demopki: unknown key algorithm %q", alg)
}

// Issuer is a CA that can sign leaves.
type Issuer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Leaf describes a certificate to issue.
type Leaf struct {
	Subject  pkix.Name
	DNSNames []string
	IPs      []net.IP
	URIs     []string
	Server   bool // server auth usage (else client auth)
	Client   bool
	NotAfter time.Time // zero: one year from now
	// Key is the leaf key's algorithm: KeyECDSAP256 (also when empty) or
	// KeyRSA2048.
	Key string
}

// NewCA makes a self-signed CA.
func NewCA(name pkix.Name) (*Issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               name,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Issuer{Cert: cert, Key: key}, nil
}

// Issue signs a new leaf with a fresh key of l.Key's algorithm.
func (ca *Issuer) Issue(l Leaf) (*x509.Certificate, crypto.Signer, error) {
	key, err := newKey(l.Key)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	notAfter := l.NotAfter
	if notAfter.IsZero() {
		notAfter = now.Add(leafValidity)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      l.Subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
	}
	if l.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if l.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, s := range l.URIs {
		u, err := url.Parse(s)
		if err != nil {
			return nil, nil, err
		}
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// WriteCert writes cert as PEM.
func WriteCert(path string, cert *x509.Certificate) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// WriteKey writes key as PKCS#8 PEM, readable by the owner only.
func WriteKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// Current reports whether dir holds a complete demo PKI with the default
// options whose certificates are valid for at least another week.
func Current(dir string) bool { return CurrentWith(dir, Options{}) }

// CurrentWith reports whether dir holds a complete demo PKI whose
// certificates are valid for at least another week and whose STS key has
// the algorithm opts asks for: a PKI written before the STS key became
// RSA by default (ECDSA) is not current and is regenerated.
func CurrentWith(dir string, opts Options) bool {
	want, err := opts.stsKey()
	if err != nil {
		return false
	}
	wantConsumer, err := opts.consumerKey()
	if err != nil {
		return false
	}
	for _, name := range []string{CACert, ServerCert, EnforcementCert, ConsumerCert, UntrustedCACert, UntrustedCert, STSCert} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return false
		}
		b, _ := pem.Decode(data)
		if b == nil {
			return false
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil || time.Until(c.NotAfter) < regenerateBefore {
			return false
		}
		if name == STSCert && keyAlgorithm(c) != want || name == ConsumerCert && keyAlgorithm(c) != wantConsumer {
			return false
		}
	}
	for _, name := range []string{CAKey, ServerKey, EnforcementKey, ConsumerKey, UntrustedKey, STSKey, TellerSecret, RACFKey} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// keyAlgorithm names the algorithm of a certificate's public key.
func keyAlgorithm(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() == 2048 {
			return KeyRSA2048
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return KeyECDSAP256
		}
	}
	return ""
}

// Generate writes a fresh demo PKI with the default options into dir.
func Generate(dir string) error { return GenerateWith(dir, Options{}) }

// GenerateWith writes a fresh demo PKI into dir.
func GenerateWith(dir string, opts Options) error {
	stsKeyAlg, err := opts.stsKey()
	if err != nil {
		return err
	}
	consumerKeyAlg, err := opts.consumerKey()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ca, err := NewCA(pkix.Name{CommonName: "Gatehouse Demo Internal CA", Organization: []string{"Demo Bank"}})
	if err != nil {
		return err
	}
	server, serverKey, err := ca.Issue(Leaf{
		Subject:  pkix.Name{CommonName: "gatehouse." + TrustDomain, Organization: []string{"Demo Bank"}},
		DNSNames: []string{"localhost", "gatehouse." + TrustDomain},
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		URIs:     []string{EdgeSPIFFEID},
		Server:   true, Client: true,
	})
	if err != nil {
		return err
	}
	enforcement, enforcementKey, err := ca.Issue(Leaf{
		Subject:  pkix.Name{CommonName: "mainframe-ep." + TrustDomain, Organization: []string{"Demo Bank"}},
		DNSNames: []string{"localhost", "mainframe-ep." + TrustDomain},
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		URIs:     []string{EnforcementSPIFFEID},
		Server:   true,
	})
	if err != nil {
		return err
	}
	consumerName := pkix.Name{CommonName: "teller-app", OrganizationalUnit: []string{"Retail"}, Organization: []string{"Demo Bank"}}
	consumer, consumerKey, err := ca.Issue(Leaf{Subject: consumerName, URIs: []string{ConsumerSPIFFEID}, Client: true, Key: consumerKeyAlg})
	if err != nil {
		return err
	}
	sts, stsKey, err := ca.Issue(Leaf{Subject: pkix.Name{CommonName: "Gatehouse STS", Organization: []string{"Demo Bank"}}, Key: stsKeyAlg})
	if err != nil {
		return err
	}
	other, err := NewCA(pkix.Name{CommonName: "Gatehouse Demo Internal CA", Organization: []string{"Not Demo Bank"}})
	if err != nil {
		return err
	}
	untrusted, untrustedKey, err := other.Issue(Leaf{Subject: consumerName, URIs: []string{ConsumerSPIFFEID}, Client: true})
	if err != nil {
		return err
	}
	for _, w := range []struct {
		name string
		fn   func(string) error
	}{
		{CACert, func(p string) error { return WriteCert(p, ca.Cert) }},
		{CAKey, func(p string) error { return WriteKey(p, ca.Key) }},
		{ServerCert, func(p string) error { return WriteCert(p, server) }},
		{ServerKey, func(p string) error { return WriteKey(p, serverKey) }},
		{EnforcementCert, func(p string) error { return WriteCert(p, enforcement) }},
		{EnforcementKey, func(p string) error { return WriteKey(p, enforcementKey) }},
		{ConsumerCert, func(p string) error { return WriteCert(p, consumer) }},
		{ConsumerKey, func(p string) error { return WriteKey(p, consumerKey) }},
		{UntrustedCACert, func(p string) error { return WriteCert(p, other.Cert) }},
		{UntrustedCert, func(p string) error { return WriteCert(p, untrusted) }},
		{UntrustedKey, func(p string) error { return WriteKey(p, untrustedKey) }},
		{STSCert, func(p string) error { return WriteCert(p, sts) }},
		{STSKey, func(p string) error { return WriteKey(p, stsKey) }},
		{TellerSecret, func(p string) error { return os.WriteFile(p, []byte(rand.Text()+"\n"), 0o600) }},
		{RACFKey, func(p string) error {
			k := make([]byte, 64)
			_, _ = rand.Read(k)
			return os.WriteFile(p, []byte(hex.EncodeToString(k)+"\n"), 0o600)
		}},
	} {
		if err := w.fn(filepath.Join(dir, w.name)); err != nil {
			return fmt.Errorf("demopki: write %s: %w", w.name, err)
		}
	}
	return nil
}
