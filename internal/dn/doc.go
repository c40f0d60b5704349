// Package dn renders and compares X.500 distinguished names the way the
// rest of the world writes them: RFC 4514 strings, as openssl
// (-nameopt RFC2253) and Java print a certificate's subject.
//
// It guarantees:
//   - Rendering from a certificate's raw DER name (RawSubject, RawIssuer)
//     keeps the certificate's order and its multi-valued RDNs; Go's
//     pkix.Name.String() reorders attributes and loses both.
//   - Two names are compared as parsed RDN sequences with the X.500 matching
//     rules (RFC 4517 distinguishedNameMatch, RFC 4518 preparation in the
//     usual simplified form): same RDNs in the same order, attribute types
//     by OID whatever name or dotted form was written, string values after
//     trimming, collapsing inner spaces and folding case, the members of a
//     multi-valued RDN as a set. Names are never compared as strings.
//
// It does not implement full RFC 4518 string preparation (no Unicode
// normalisation or mapping tables), nor per-attribute matching rules beyond
// "case-insensitive for the directory string types we know, exact for the
// rest".
//
// The package imports nothing of Gatehouse's, so every package may use it.
package dn
