package wssec

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/internal/dn"
)

// TrustStore is where signing keys come from (invariant 5): certificates that
// chain to one of its CAs or are pinned in it. A key named in a message only
// selects a certificate; the certificate must pass Verify.
type TrustStore struct {
	roots  *x509.CertPool
	pinned []*x509.Certificate
	// known are the certificates KeyIdentifier and IssuerSerial references
	// can find: the pinned ones and the known signers (WSS4J's keystore
	// model). A signer is not trusted for being known: it must still
	// chain to a CA. Any other certificate must travel in the message.
	known   []*x509.Certificate
	bySKI   map[string]*x509.Certificate
	byThumb map[[sha1.Size]byte]*x509.Certificate
	certs   *certCache
}

// NewTrustStore builds a trust store from a pool of CA certificates (nil
// for none), pinned end-entity certificates and known signer certificates,
// which references by subject key identifier, thumbprint or issuer and
// serial number can find but which are trusted only if they chain to one
// of the CAs. A pinned certificate wins over a signer with the same
// identifier.
func NewTrustStore(roots *x509.CertPool, pinned []*x509.Certificate, signers ...*x509.Certificate) *TrustStore {
	t := &TrustStore{
		roots:   roots,
		pinned:  pinned,
		known:   append(slices.Clone(pinned), signers...),
		bySKI:   map[string]*x509.Certificate{},
		byThumb: map[[sha1.Size]byte]*x509.Certificate{},
		certs:   newCertCache(certCacheSize),
	}
	for _, c := range slices.Backward(t.known) {
		if len(c.SubjectKeyId) > 0 {
			t.bySKI[string(c.SubjectKeyId)] = c
		}
		t.byThumb[sha1.Sum(c.Raw)] = c
	}
	return t
}

// Verify checks that cert is trusted at now: pinned (byte for byte) and
// within its validity period, or chaining to a configured CA. Its key must be
// RSA of at least 2048 bits or ECDSA on P-256, P-384 or P-521.
func (t *TrustStore) Verify(cert *x509.Certificate, now time.Time) error {
	if err := checkKey(cert); err != nil {
		return err
	}
	for _, p := range t.pinned {
		if bytes.Equal(p.Raw, cert.Raw) {
			if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
				return fmt.Errorf("pinned certificate %q is outside its validity period (%s to %s)",
					dn.Subject(cert), cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339))
			}
			return nil
		}
	}
	if t.roots == nil {
		return fmt.Errorf("certificate %q is not pinned in the trust store", dn.Subject(cert))
	}
	if t.certs.trusted(cert, now) {
		return nil
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:       t.roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("certificate %q: %w", dn.Subject(cert), err)
	}
	for _, c := range chains {
		t.certs.remember(cert, c)
	}
	return nil
}

// parseCertificate parses a certificate that travels in a message, from
// the store's cache when the same bytes came before. A nil store parses.
func (t *TrustStore) parseCertificate(der []byte) (*x509.Certificate, error) {
	if t == nil {
		return x509.ParseCertificate(der)
	}
	return t.certs.parse(der)
}

func checkKey(cert *x509.Certificate) error {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits (need 2048 or more)", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return errors.New("ECDSA key on an unsupported curve")
		}
	default:
		return fmt.Errorf("unsupported public key type %T", cert.PublicKey)
	}
	return nil
}

// The lookups below accept a nil store (no trust configured): they find nothing.

func (t *TrustStore) lookupSKI(ski []byte) *x509.Certificate {
	if t == nil {
		return nil
	}
	return t.bySKI[string(ski)]
}

func (t *TrustStore) lookupThumbprint(sum []byte) *x509.Certificate {
	if t == nil || len(sum) != sha1.Size {
		return nil
	}
	return t.byThumb[[sha1.Size]byte(sum)]
}

func (t *TrustStore) lookupIssuerSerial(issuer dn.DN, serial *big.Int) *x509.Certificate {
	if t == nil {
		return nil
	}
	// X509IssuerName is an RFC 2253/4514 string (WSS4J writes Java's
	// rendering, in the certificate's order): compare it as a parsed name
	// with the issuer name as the certificate encodes it, never as a string.
	for _, c := range t.known {
		if c.SerialNumber.Cmp(serial) != 0 {
			continue
		}
		if ci, err := dn.FromDER(c.RawIssuer); err == nil && ci.Equal(issuer) {
			return c
		}
	}
	return nil
}
