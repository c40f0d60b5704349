package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"sync"
)

// Reasons of gatehouse_tls_handshake_failures_total.
const (
	handshakeNoCertificate   = "no_client_certificate" // the client sent none
	handshakeUnknownCA       = "unknown_authority"     // not issued by the client CA
	handshakeExpired         = "expired"               // outside its validity
	handshakeBadCertificate  = "bad_certificate"       // otherwise refused (usage, malformed)
	handshakeProtocol        = "protocol"              // version, cipher suite, malformed handshake
	handshakeClosed          = "closed"                // the client went away
	handshakeIssuerOther     = "other"                 // more distinct issuers than kept
	handshakeIssuerNone      = ""                      // no certificate presented
	maxHandshakeIssuerLabels = 32
)

// handshakeFailure classifies a failed server handshake, with the issuer
// of the certificate the client presented, when it presented one.
func handshakeFailure(err error) (reason string, presented *x509.Certificate) {
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		presented = cve.UnverifiedCertificates[0]
	}
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return handshakeUnknownCA, presented
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return handshakeExpired, presented
	case presented != nil || errors.As(err, &invalid):
		return handshakeBadCertificate, presented
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return handshakeClosed, nil
	}
	var alert tls.AlertError
	if errors.As(err, &alert) && alert == 116 { // certificate_required (TLS 1.3)
		return handshakeNoCertificate, nil
	}
	if msg := err.Error(); strings.Contains(msg, "didn't provide a certificate") || strings.Contains(msg, "client certificate required") {
		return handshakeNoCertificate, nil
	}
	return handshakeProtocol, nil
}

// issuerLabels bounds the issuer label: a client chooses what it presents,
// so only the first distinct issuers get a series of their own.
type issuerLabels struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (l *issuerLabels) label(c *x509.Certificate) string {
	if c == nil {
		return handshakeIssuerNone
	}
	issuer := subjectOfIssuer(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if !l.seen[issuer] && len(l.seen) >= maxHandshakeIssuerLabels {
		return handshakeIssuerOther
	}
	l.seen[issuer] = true
	return issuer
}
