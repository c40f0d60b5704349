package gateway

import (
	"crypto/x509"

	"github.com/gatehouse/gatehouse/conf"
	"github.com/gatehouse/gatehouse/internal/dn"
)

// heldCertificate is one certificate the configuration makes Gatehouse
// hold: kind says what for, name whose (a listener, trust store or
// service).
type heldCertificate struct {
	kind, name string
	cert       *x509.Certificate
}

// Kinds of held certificates, the kind label of
// gatehouse_certificate_expiry_timestamp_seconds.
const (
	certListener        = "listener"           // a listener's own certificate
	certClientCA        = "client-ca"          // a listener's client CA bundle
	certTrustCA         = "trust-ca"           // a trust store's CA
	certTrustPinned     = "trust-pinned"       // a pinned signer
	certTrustSigner     = "trust-signer"       // a known signer of a trust store's CA
	certSTSSigning      = "sts-signing"        // the STS's signing certificate
	certBackendClient   = "backend-client"     // the client certificate toward a backend
	certBackendCA       = "backend-ca"         // the CA a backend's certificate must chain to
	certOutboundSigning = "outbound-signing"   // the certificate outbound requests are signed with
	certDecryption      = "decryption"         // a service's decryption key's certificate
	certBackendEncrypt  = "backend-encryption" // the backend certificate requests are encrypted to
)

// heldCertificates lists every certificate of the configuration. A bundle
// that cannot be read again (it was read at load) is left out.
func heldCertificates(cfg *conf.Config) []heldCertificate {
	var out []heldCertificate
	add := func(kind, name string, certs ...*x509.Certificate) {
		for _, c := range certs {
			if c != nil {
				out = append(out, heldCertificate{kind, name, c})
			}
		}
	}
	bundle := func(kind, name, path string) {
		if path == "" {
			return
		}
		if certs, err := conf.ReadCertificates(path); err == nil {
			add(kind, name, certs...)
		}
	}
	for _, l := range cfg.Listeners {
		if tc := l.ServerTLSConfig(); tc != nil && len(tc.Certificates) > 0 {
			add(certListener, l.Name, tc.Certificates[0].Leaf)
		}
		bundle(certClientCA, l.Name, l.TLS.ClientCA)
	}
	for _, t := range cfg.Trust {
		for _, f := range t.CAs {
			bundle(certTrustCA, t.Name, f.Path)
		}
		add(certTrustPinned, t.Name, t.Pinned()...)
		add(certTrustSigner, t.Name, t.SignerCertificates()...)
	}
	if cfg.STS != nil {
		add(certSTSSigning, "sts", cfg.STS.Certificate())
	}
	for _, s := range cfg.Services {
		b := &s.Backend
		if tc := b.ClientTLSConfig(); tc != nil && len(tc.Certificates) > 0 {
			add(certBackendClient, s.Name, tc.Certificates[0].Leaf)
		}
		if b.TLS != nil {
			bundle(certBackendCA, s.Name, b.TLS.CA)
		}
		if _, c := b.SigningKey(); c != nil {
			add(certOutboundSigning, s.Name, c)
		}
		if b.Encrypt != nil {
			add(certBackendEncrypt, s.Name, b.Encrypt.Recipient())
		}
		if s.Security != nil {
			for i := range s.Security.DecryptionKeys {
				c, _ := s.Security.DecryptionKeys[i].KeyPair()
				add(certDecryption, s.Name, c)
			}
		}
	}
	return out
}

// subjectOf is a certificate's subject as RFC 4514 writes it.
func subjectOf(c *x509.Certificate) string {
	if d, err := dn.FromDER(c.RawSubject); err == nil {
		return d.String()
	}
	return c.Subject.String()
}

// subjectOfIssuer is a certificate's issuer as RFC 4514 writes it.
func subjectOfIssuer(c *x509.Certificate) string {
	if d, err := dn.FromDER(c.RawIssuer); err == nil {
		return d.String()
	}
	return c.Issuer.String()
}
