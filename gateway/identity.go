package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Caller is the workload identity the mTLS handshake proved.
type Caller struct {
	// ID is the SPIFFE ID when the certificate has one, else the subject DN.
	ID string
	// SPIFFEID is the spiffe:// URI SAN, empty when there is none.
	SPIFFEID string
	// Subject is the certificate's subject DN.
	Subject string
	// Certificate is the verified leaf; nil for an anonymous caller.
	Certificate *x509.Certificate
}

// Anonymous reports whether no client certificate was verified (only on a
// listener configured with clientAuth="insecure-none").
func (c Caller) Anonymous() bool { return c.Certificate == nil }

// callerFromTLS takes the identity from the verified chain, never from an
// unverified peer certificate. A certificate with more than one SPIFFE ID is
// refused: the SPIFFE X.509-SVID specification allows exactly one.
func callerFromTLS(cs *tls.ConnectionState) (Caller, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Caller{}, nil
	}
	leaf := cs.VerifiedChains[0][0]
	c := Caller{Subject: leaf.Subject.String(), Certificate: leaf}
	for _, u := range leaf.URIs {
		if u.Scheme != "spiffe" {
			continue
		}
		if c.SPIFFEID != "" {
			return Caller{}, errors.New("client certificate has more than one SPIFFE ID")
		}
		if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" ||
			strings.Contains(u.Path, "//") || strings.HasSuffix(u.Path, "/") {
			return Caller{}, fmt.Errorf("client certificate has a malformed SPIFFE ID %q", u.String())
		}
		c.SPIFFEID = u.String()
	}
	c.ID = c.SPIFFEID
	if c.ID == "" {
		c.ID = c.Subject
	}
	return c, nil
}
