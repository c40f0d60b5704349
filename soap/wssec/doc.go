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
// One signer, one freshness: the signature that covers the Body is the
// message's signer (Verified.Signer); when the policy requires a Timestamp it
// must cover the Security header's Timestamp too, and every SignedPart of the
// policy (Body, Timestamp, header blocks such as wsa:To, wsa:Action,
// wsa:MessageID) must be covered by that same signature, not by any trusted
// one. A Body signed by A with a Timestamp signed by B is thus refused (it is
// a replay of A). Each signature's replay key lives as long as the Timestamp
// that signature covers keeps it fresh, or maxAge+skew when it covers none.
// References resolve only to the Body, direct children of the Security header
// being processed and header blocks; an element covered by the signatures of
// two keys is refused (unless Policy.AllowEndorsing; the Body never).
//
// WS-I Basic Security Profile 1.1 is the default, and every refusal under it
// names its rule in the internal error: exclusive C14N only, for SignedInfo
// (R5404) and for the one Reference canonicalization transform (R5412),
// which enveloped-signature may precede (node-soap and .NET-era stacks write
// it; it removes the signature when the referenced element contains it and
// is a no-op otherwise); every Reference has
// Transforms (R5416) holding a Transform (R5411); Timestamp Created and
// Expires in UTC with "Z" (R3217, R3223); one Timestamp per header (R3227)
// with one Created (R3203) before at most one Expires (R3221, R3224) and
// nothing else (R3222); no SignatureMethod parameters (R5401).
// Policy.AllowNonBSP (insecureAllowNonBSP) re-admits inclusive C14N 1.0 and
// C14N 1.1, References without Transforms and UTC offsets other than "Z".
// Not BSP rules but limits: at most 4 signatures per message and 12
// References per signature.
//
// SAML Token Profile 1.1: a KeyInfo STR may name a SAML assertion of the
// Security header (KeyIdentifier #SAMLID, #SAMLAssertionID, or a Reference
// with #SAMLID); Verifier.TokenKeys (package samlsts) verifies the assertion
// and returns its holder-of-key key, which is then trusted through the
// assertion's issuer, not the TrustStore (Signature.Token names the
// assertion). A Reference with the STR Dereference Transform (WSS 1.1
// section 8.3, exclusive C14N) to an STR of the Security header covers the
// assertion the STR names. A KeyIdentifier or IssuerSerial finds pinned
// certificates and the TrustStore's known signers, which must still chain
// to its CAs.
//
// Guarantees: keys come only from the configured TrustStore or from a
// verified holder-of-key assertion (KeyInfo selects, never supplies,
// trust); only allow-listed algorithms are accepted (RSA and
// ECDSA with SHA-256/384/512, SHA-1 only when the policy says so; no HMAC, no
// XSLT or XPath transforms); references are same-document "#id" only and each
// element is referenced at most once per signature; every signature in the
// header must verify. Verify returns the replay keys of the message (nonces and signature
// digests) for the caller to record in the shared store in one round trip; it
// does not record them itself. Errors are *soap.Fault values with the
// standard WS-Security fault codes and a generic public text.
//
// Not handled: XML Encryption (refused as unsupported), SAML assertions (kept
// in Verified.Assertions for package samlsts to verify), STR-Transform over
// anything but a SAML assertion.
package wssec
