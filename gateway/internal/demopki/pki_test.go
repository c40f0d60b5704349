package demopki

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
)

func stsPublicKey(t *testing.T, dir string) any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, STSCert))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.PublicKey
}

// The STS signs with RSA-2048 by default: lasso and xml-crypto verify no
// ECDSA signature.
func TestSTSKeyIsRSAByDefault(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir); err != nil {
		t.Fatal(err)
	}
	k, ok := stsPublicKey(t, dir).(*rsa.PublicKey)
	if !ok || k.N.BitLen() != 2048 {
		t.Fatalf("STS key %T, want RSA-2048", stsPublicKey(t, dir))
	}
	if !Current(dir) {
		t.Fatal("a fresh default PKI is not current")
	}
	if CurrentWith(dir, Options{STSKey: KeyECDSAP256}) {
		t.Fatal("an RSA STS key is current for an ECDSA request")
	}
}

// A PKI written when the STS key was ECDSA (or asked for ECDSA) is not
// current for the default options, so `gatehouse-demo pki` regenerates it.
func TestCurrentRegeneratesECDSASTS(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateWith(dir, Options{STSKey: KeyECDSAP256}); err != nil {
		t.Fatal(err)
	}
	if _, ok := stsPublicKey(t, dir).(*ecdsa.PublicKey); !ok {
		t.Fatalf("STS key %T, want ECDSA", stsPublicKey(t, dir))
	}
	if !CurrentWith(dir, Options{STSKey: KeyECDSAP256}) {
		t.Fatal("an ECDSA PKI is not current for an ECDSA request")
	}
	if Current(dir) {
		t.Fatal("a PKI with an ECDSA STS key is current for the default (RSA) options")
	}
	if err := GenerateWith(dir, Options{STSKey: "dsa"}); err == nil {
		t.Fatal("an unknown algorithm was accepted")
	}
}

// The consumer key is ECDSA unless RSA is asked for (the load tool signs
// with RSA-2048, as the reference measurements do); a PKI of the other
// algorithm is not current.
func TestConsumerKeyOption(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateWith(dir, Options{ConsumerKey: KeyRSA2048}); err != nil {
		t.Fatal(err)
	}
	kp, err := tls.LoadX509KeyPair(filepath.Join(dir, ConsumerCert), filepath.Join(dir, ConsumerKey))
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := kp.Leaf.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
		t.Fatalf("consumer key %T, want RSA-2048", kp.Leaf.PublicKey)
	}
	if !CurrentWith(dir, Options{ConsumerKey: KeyRSA2048}) {
		t.Fatal("an RSA consumer PKI is not current for an RSA request")
	}
	if Current(dir) {
		t.Fatal("an RSA consumer PKI is current for the default (ECDSA) options")
	}
	if err := GenerateWith(dir, Options{ConsumerKey: "dsa"}); err == nil {
		t.Fatal("an unknown algorithm was accepted")
	}
}
