// Package samlsts verifies SAML 2.0 assertions carried in WS-Security headers
// (SAML Token Profile 1.1) and issues them: the Gatehouse STS (WS-Trust 1.3
// Issue, Validate and Renew, with WS-Trust 1.4 ActAs and OnBehalfOf).
//
// Verification follows invariant 8 of ARCHITECTURE.md. The assertion's
// enveloped signature is checked by goxmldsig against the certificates
// configured for its issuer (a certificate in KeyInfo only selects one of
// them); every later check reads the element goxmldsig returns, which is
// re-read from the digested bytes, so nothing unsigned is ever decoded.
// crewjam/saml's types model the assertion; Conditions and
// SubjectConfirmationData are read directly because crewjam keeps one
// Audience per AudienceRestriction (SAML allows several, an OR) and no
// KeyInfo for holder-of-key. Several AudienceRestriction elements must each
// name this service's audience (an AND), as SAML 2.0 Core 2.5.1.4 says.
//
// Delegation is recorded with the standard SAML V2.0 Condition for
// Delegation Restriction (urn:oasis:names:tc:SAML:2.0:conditions:delegation):
// each Delegate names an actor that acted for the subject, oldest first.
//
// SAML 1.1 assertions (urn:oasis:names:tc:SAML:1.0:assertion) are verified
// and issued too, for legacy consumers, with the same rules; their
// confirmation methods map to the SAML 2.0 ones policies name.
//
// Not handled here: replay storage (Verify returns the one-time key for the
// caller's store), encrypted assertions.
package samlsts
