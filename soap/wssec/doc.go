// Package wssec verifies and writes the WS-Security 1.0/1.1 header
// (OASIS Web Services Security: SOAP Message Security 1.1, UsernameToken
// Profile 1.1, X.509 Certificate Token Profile 1.1).
//
// Verifier.Verify returns a Verified value that names, by element identity,
// what was signed and by which trusted key; a policy such as "Body and
// Timestamp must be signed" is met only when those elements are the
// envelope's own Body and the Security header's own Timestamp (invariant 4
// of ARCHITECTURE.md), which is what defeats signature wrapping. Detached
// signatures with several References are verified here on goxmldsig's
// canonicalizers; the algorithm, transform and reference checks are ours
// because goxmldsig verifies one enveloped reference and accepts SHA-1 and a
// reference without canonicalization.
//
// Guarantees: keys come only from the configured TrustStore (KeyInfo selects,
// never supplies, trust); only allow-listed algorithms are accepted (RSA and
// ECDSA with SHA-256/384/512, SHA-1 only when the policy says so; no HMAC, no
// XSLT or XPath transforms); references are same-document "#id" only and each
// element is referenced at most once; every signature in the header must
// verify. Verify returns the replay keys of the message (nonces and signature
// digests) for the caller to record in the shared store in one round trip; it
// does not record them itself. Errors are *soap.Fault values with the
// standard WS-Security fault codes and a generic public text.
//
// Not handled: XML Encryption (refused as unsupported), SAML assertions (kept
// in Verified.Assertions for package samlsts to verify), STR-Transform.
package wssec
