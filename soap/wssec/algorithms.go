package wssec

import (
	"crypto"
	_ "crypto/sha1" // registered for the SHA-1 digest, used only when a policy allows it
	_ "crypto/sha256"
	_ "crypto/sha512"

	dsig "github.com/russellhaering/goxmldsig"
)

// Namespaces of XML-DSig and friends.
const (
	NSDSig   = "http://www.w3.org/2000/09/xmldsig#"
	NSExcC14 = "http://www.w3.org/2001/10/xml-exc-c14n#"
	NSXEnc   = "http://www.w3.org/2001/04/xmlenc#"
)

// Algorithm identifiers.
const (
	AlgExcC14N        = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgC14N10         = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
	AlgC14N11         = "http://www.w3.org/2006/12/xml-c14n11"
	AlgEnveloped      = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	AlgSHA1           = "http://www.w3.org/2000/09/xmldsig#sha1"
	AlgSHA256         = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgSHA384         = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	AlgSHA512         = "http://www.w3.org/2001/04/xmlenc#sha512"
	AlgRSASHA1        = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	AlgRSASHA256      = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgRSASHA384      = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	AlgRSASHA512      = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	AlgECDSASHA256    = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	AlgECDSASHA384    = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
	AlgECDSASHA512    = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
	AlgSTRTransform   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#STR-Transform"
	valueTypeX509v3   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	valueTypeSKI      = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
	valueTypeThumb    = "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
	encodingBase64    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
	passwordTextType  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	passwordDigestTyp = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)

// keyKind is the public key algorithm a signature method needs.
type keyKind int

const (
	keyRSA keyKind = iota + 1
	keyECDSA
)

type signatureMethod struct {
	key  keyKind
	hash crypto.Hash
	sha1 bool // allowed only with Policy.AllowSHA1
}

// signatureMethods is the allow-list of SignedInfo/SignatureMethod values.
// HMAC is absent on purpose: Gatehouse shares no symmetric keys with clients.
var signatureMethods = map[string]signatureMethod{
	AlgRSASHA256:   {keyRSA, crypto.SHA256, false},
	AlgRSASHA384:   {keyRSA, crypto.SHA384, false},
	AlgRSASHA512:   {keyRSA, crypto.SHA512, false},
	AlgECDSASHA256: {keyECDSA, crypto.SHA256, false},
	AlgECDSASHA384: {keyECDSA, crypto.SHA384, false},
	AlgECDSASHA512: {keyECDSA, crypto.SHA512, false},
	AlgRSASHA1:     {keyRSA, crypto.SHA1, true},
}

type digestMethod struct {
	hash crypto.Hash
	sha1 bool
}

// digestMethods is the allow-list of Reference/DigestMethod values.
var digestMethods = map[string]digestMethod{
	AlgSHA256: {crypto.SHA256, false},
	AlgSHA384: {crypto.SHA384, false},
	AlgSHA512: {crypto.SHA512, false},
	AlgSHA1:   {crypto.SHA1, true},
}

// canonicalizer returns goxmldsig's canonicalizer for an allow-listed
// canonicalization method (comments are never included), or nil.
func canonicalizer(alg, prefixList string) dsig.Canonicalizer {
	switch alg {
	case AlgExcC14N:
		return dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(prefixList)
	case AlgC14N10:
		return dsig.MakeC14N10RecCanonicalizer()
	case AlgC14N11:
		return dsig.MakeC14N11Canonicalizer()
	}
	return nil
}
