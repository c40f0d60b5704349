// Package samlsts verifies SAML 2.0 assertions carried in WS-Security headers
// (SAML Token Profile 1.1) and issues them: the Gatehouse STS (WS-Trust 1.3
// Issue, Validate, Renew and Cancel, with WS-Trust 1.4 ActAs and 1.3
// OnBehalfOf).
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
// The element handed to Verify is never changed: goxmldsig sees a copy.
//
// Subject confirmation is checked per SubjectConfirmation: its method must
// be one the service accepts; a SubjectConfirmationData with InResponseTo
// is refused (Gatehouse sends no AuthnRequest, so every assertion is
// unsolicited); a Recipient must be one of Verifier.Recipients (the
// service's endpoint URLs), and a bearer confirmation without Recipient is
// refused when RequireRecipient is set. Bearer needs mutual TLS;
// holder-of-key needs the confirmed key as the TLS client key or as the
// key that signed the Body; sender-vouches needs an attesting entity as the
// mTLS caller (the TLS channel binds Body and assertion) or as the signer
// of one message signature that covers both the Body and the assertion.
// A bearer assertion, and any assertion with OneTimeUse (SAML 1.1:
// DoNotCacheCondition), is single use: Verify returns its replay key.
//
// A Verifier with a Cache (AssertionCache) does not verify again the
// signature of a holder-of-key or sender-vouches SAML 2.0 assertion it has
// verified before: the key is a digest of the assertion's parsed tree in
// its namespace context and of the issuer's configured certificates; the
// entry is what was read from the verified element, and the time window,
// the audience, the currently valid confirmations and the issuer
// certificate's validity are checked again on every hit, before Verify
// checks the confirmation against the message. Bearer and OneTimeUse
// assertions are never looked up or stored. Each entry costs about 10 KB
// for a 4 KB assertion with a holder certificate.
//
// The STS accepts an ActAs / OnBehalfOf token only if it issued it, did not
// cancel it, and it was issued for an audience the acting party may act
// from (STS.MayDelegate, configured by sts/delegation/@tokenAudiences); a
// UsernameToken there (a username only, no password) is the actor vouching
// for a user, allowed by STS.MayVouch (sts/delegation/@vouchesForUsers).
//
// An RST element the STS neither reads nor may ignore (rstIgnored: hints
// that cannot change a bearer or public-key token) is refused: the STS
// never silently skips something a client asked of the token.
//
// Issued assertions are recorded in a TokenStore (the gateway's shared
// store) so that any instance can validate, renew and cancel them; Cancel
// is allowed to the requester that obtained the token or to its mTLS
// workload.
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
