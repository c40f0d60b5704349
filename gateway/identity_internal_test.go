package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"testing"
)

// TestCallerFromTLS: exactly one valid SPIFFE ID (as go-spiffe parses it)
// is the caller id; without one the id is the RFC 4514 subject; several
// or a malformed one are refused.
func TestCallerFromTLS(t *testing.T) {
	raw, err := asn1.Marshal(pkix.RDNSequence{ // CN first: not Go's order
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "batch, nightly"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Demo Bank"}},
		{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: "example"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	const subject = `DC=example,O=Demo Bank,CN=batch\, nightly`
	tests := []struct {
		name    string
		uris    []string
		wantID  string
		wantErr bool
	}{
		{"no URI", nil, subject, false},
		{"other URIs only", []string{"https://example.org/batch", "urn:example:batch"}, subject, false},
		{"one SPIFFE ID", []string{"spiffe://example.org/batch"}, "spiffe://example.org/batch", false},
		{"one SPIFFE ID and another URI", []string{"https://example.org/x", "spiffe://example.org/batch"}, "spiffe://example.org/batch", false},
		{"trust domain only", []string{"spiffe://example.org"}, "spiffe://example.org", false},
		{"two SPIFFE IDs", []string{"spiffe://example.org/a", "spiffe://example.org/b"}, "", true},
		{"the same SPIFFE ID twice", []string{"spiffe://example.org/a", "spiffe://example.org/a"}, "", true},
		{"upper-case trust domain", []string{"spiffe://Example.org/a"}, "", true},
		{"trailing slash", []string{"spiffe://example.org/a/"}, "", true},
		{"empty segment", []string{"spiffe://example.org//a"}, "", true},
		{"dot segment", []string{"spiffe://example.org/a/../b"}, "", true},
		{"percent-encoded", []string{"spiffe://example.org/%61"}, "", true},
		{"query", []string{"spiffe://example.org/a?x=1"}, "", true},
		{"fragment", []string{"spiffe://example.org/a#x"}, "", true},
		{"user info", []string{"spiffe://u@example.org/a"}, "", true},
		{"port", []string{"spiffe://example.org:8443/a"}, "", true},
		{"no trust domain", []string{"spiffe:///a"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := &x509.Certificate{RawSubject: raw}
			for _, s := range tt.uris {
				u, err := url.Parse(s)
				if err != nil {
					t.Fatal(err)
				}
				leaf.URIs = append(leaf.URIs, u)
			}
			c, err := callerFromTLS(&tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted as %q", c.ID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ID != tt.wantID || c.Subject != subject {
				t.Errorf("ID %q, Subject %q; want %q, %q", c.ID, c.Subject, tt.wantID, subject)
			}
			if (c.SPIFFEID != "") != (tt.wantID != subject) {
				t.Errorf("SPIFFEID %q", c.SPIFFEID)
			}
		})
	}
}
