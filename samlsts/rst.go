package samlsts

import (
	"crypto/x509"
	"encoding/base64"
	"strings"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// More WS-Trust and token profile URIs the RST reader knows.
const (
	KeyTypeSymmetric = NSTrust + "/SymmetricKey"
	// ClaimsDialectIdentity is the claims dialect of the Identity
	// Selector Interoperability Profile that WSS4J/CXF send.
	ClaimsDialectIdentity = "http://schemas.xmlsoap.org/ws/2005/05/identity"
	nsWSSE11              = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
	valueTypeX509v3       = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	encodingBase64        = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// rstUsed are the RST elements the STS reads (some only for one request
// type). An element of this list in the wrong request type is ignored,
// except where the request type's code says otherwise.
var rstUsed = map[soap.QName]bool{
	{Space: NSTrust, Local: "RequestType"}:         true,
	{Space: NSTrust, Local: "TokenType"}:           true,
	{Space: NSPolicy, Local: "AppliesTo"}:          true,
	{Space: NSPolicy2004, Local: "AppliesTo"}:      true,
	{Space: NSTrust, Local: "KeyType"}:             true,
	{Space: NSTrust, Local: "UseKey"}:              true,
	{Space: NSTrust, Local: "Lifetime"}:            true,
	{Space: NSTrust, Local: "OnBehalfOf"}:          true,
	{Space: NSTrust14, Local: "ActAs"}:             true,
	{Space: NSTrust, Local: "Claims"}:              true,
	{Space: NSTrust, Local: "SecondaryParameters"}: true,
	{Space: NSTrust, Local: "Renewing"}:            true,
	{Space: NSTrust, Local: "ValidateTarget"}:      true,
	{Space: NSTrust, Local: "RenewTarget"}:         true,
	{Space: NSTrust, Local: "CancelTarget"}:        true,
}

// rstIgnored are optional RST elements that cannot change or weaken the
// token Gatehouse issues, so they are accepted and ignored: KeySize and the
// algorithm hints concern a proof key Gatehouse does not make (bearer and
// public-key tokens have none; the assertion is always signed with the
// STS's own algorithm), and wst:Issuer only hints at who issued an
// OnBehalfOf token, which is verified against the STS's own keys anyway.
var rstIgnored = map[soap.QName]bool{
	{Space: NSTrust, Local: "KeySize"}:                   true,
	{Space: NSTrust, Local: "SignatureAlgorithm"}:        true,
	{Space: NSTrust, Local: "CanonicalizationAlgorithm"}: true,
	{Space: NSTrust, Local: "EncryptionAlgorithm"}:       true,
	{Space: NSTrust, Local: "ComputedKeyAlgorithm"}:      true,
	{Space: NSTrust, Local: "KeyWrapAlgorithm"}:          true,
	{Space: NSTrust, Local: "SignWith"}:                  true,
	{Space: NSTrust, Local: "EncryptWith"}:               true,
	{Space: NSTrust, Local: "Issuer"}:                    true,
}

// checkKnown refuses an RST (or its SecondaryParameters) that holds an
// element the STS neither reads nor may ignore: every other element would
// ask for something about the token (Entropy, DelegateTo, Forwardable,
// AuthenticationType, Participants, ...) that Gatehouse would silently
// not do.
func checkKnown(el *etree.Element) error {
	for _, c := range el.ChildElements() {
		q := soap.QName{Space: c.NamespaceURI(), Local: c.Tag}
		if !rstUsed[q] && !rstIgnored[q] {
			return trustFault(FaultBadRequest, "unsupported element in token request", "RST element {%s}%s is not supported", q.Space, q.Local)
		}
	}
	return nil
}

// rstParam reads an Issue parameter: the RST's own element, else the one
// in SecondaryParameters (what the relying party's policy asks for,
// WS-Trust 1.3 section 9.2.1), where the requester's own value wins.
func rstParam(rst *etree.Element, local string) *etree.Element {
	if el := child(rst, NSTrust, local); el != nil {
		return el
	}
	return child(child(rst, NSTrust, "SecondaryParameters"), NSTrust, local)
}

// checkClaims allows a Claims element (own or from SecondaryParameters)
// only in the identity dialect and only for claims the token carries: the
// STS always issues the directory's roles and attributes, so a claim it
// does not have is refused unless the ClaimType is Optional.
func checkClaims(claims *etree.Element, ident Identity) error {
	if claims == nil {
		return nil
	}
	if d := attr(claims, "Dialect"); d != ClaimsDialectIdentity {
		return trustFault(FaultBadRequest, "claims not supported", "Claims dialect %q (only %s)", d, ClaimsDialectIdentity)
	}
	for _, c := range claims.ChildElements() {
		if c.NamespaceURI() != ClaimsDialectIdentity || c.Tag != "ClaimType" {
			return trustFault(FaultBadRequest, "claims not supported", "Claims element {%s}%s", c.NamespaceURI(), c.Tag)
		}
		uri := attr(c, "Uri")
		have := (uri == RoleAttribute && len(ident.Roles) > 0) || len(ident.Attributes[uri]) > 0
		if !have && attr(c, "Optional") != "true" {
			return trustFault(FaultBadRequest, "claims not supported", "required claim %q is not an attribute of subject %q", uri, ident.NameID)
		}
	}
	return nil
}

// checkRenewing accepts wst:Renewing except Allow="false": Gatehouse's
// tokens are always renewable by their owner (within maxLifetime after
// their end, whatever OK says), so a token that may not be renewed cannot
// be issued.
func checkRenewing(rst *etree.Element) error {
	r := child(rst, NSTrust, "Renewing")
	if r == nil {
		return nil
	}
	if a := strings.TrimSpace(attr(r, "Allow")); a == "false" || a == "0" {
		return trustFault(FaultBadRequest, "renewing not supported", "Renewing Allow=%q: tokens are always renewable", a)
	}
	return nil
}

// useKeyCertificate reads the certificate a UseKey names: a
// ds:KeyInfo/ds:X509Data/ds:X509Certificate or an X.509 v3
// wsse:BinarySecurityToken in base64. Every other form (a KeyValue, a
// reference to a token elsewhere) is refused.
func useKeyCertificate(uk *etree.Element) (*x509.Certificate, error) {
	var b64 string
	kids := uk.ChildElements()
	if len(kids) != 1 {
		return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey must hold exactly one key")
	}
	switch k := kids[0]; {
	case k.NamespaceURI() == nsDSig && k.Tag == "KeyInfo":
		x509Data := child(k, nsDSig, "X509Data")
		if x509Data == nil || len(k.ChildElements()) != 1 || len(children(x509Data, nsDSig, "X509Certificate")) != 1 {
			return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey ds:KeyInfo must hold one X509Data with one X509Certificate")
		}
		b64 = text(child(x509Data, nsDSig, "X509Certificate"))
	case k.NamespaceURI() == soap.NSWSSE && k.Tag == "BinarySecurityToken":
		if vt := attr(k, "ValueType"); vt != valueTypeX509v3 {
			return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey BinarySecurityToken ValueType %q", vt)
		}
		if et := attr(k, "EncodingType"); et != "" && et != encodingBase64 {
			return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey BinarySecurityToken EncodingType %q", et)
		}
		b64 = text(k)
	default:
		return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey {%s}%s (only ds:KeyInfo/X509Data or an X509v3 BinarySecurityToken)", k.NamespaceURI(), k.Tag)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
	if err != nil {
		return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, trustFault(FaultBadRequest, "unsupported UseKey", "UseKey certificate: %v", err)
	}
	return cert, nil
}

// delegationElement is the RST's ActAs (WS-Trust 1.4) or OnBehalfOf
// (1.3), nil for none; asking for both is refused (whose token would it
// be?).
func delegationElement(rst *etree.Element) (*etree.Element, error) {
	actAs, obo := children(rst, NSTrust14, "ActAs"), children(rst, NSTrust, "OnBehalfOf")
	switch {
	case len(actAs)+len(obo) > 1:
		return nil, trustFault(FaultInvalidRequest, "invalid delegation token", "the RST has %d ActAs and %d OnBehalfOf elements; at most one of them is allowed", len(actAs), len(obo))
	case len(actAs) == 1:
		return actAs[0], nil
	case len(obo) == 1:
		return obo[0], nil
	}
	return nil, nil
}

// vouchedUsername reads a UsernameToken in ActAs/OnBehalfOf: the acting
// party names the subject by its username and vouches for it. A Password
// (or a digest with Nonce and Created) is refused rather than checked: the
// STS never handles a user's password that an intermediary relays, and a
// password it did not verify must not look verified.
func vouchedUsername(ut *etree.Element) (string, error) {
	for _, c := range ut.ChildElements() {
		if c.NamespaceURI() == soap.NSWSSE && c.Tag == "Username" {
			continue
		}
		return "", trustFault(FaultInvalidRequest, "invalid delegation token",
			"the delegation UsernameToken holds {%s}%s: only a Username is accepted (the actor vouches for it; passwords are not relayed)", c.NamespaceURI(), c.Tag)
	}
	names := children(ut, soap.NSWSSE, "Username")
	if len(names) != 1 || text(names[0]) == "" {
		return "", trustFault(FaultInvalidRequest, "invalid delegation token", "the delegation UsernameToken must hold one non-empty Username")
	}
	return text(names[0]), nil
}

// delegationToken is the one token inside ActAs/OnBehalfOf.
func delegationToken(el *etree.Element) (*etree.Element, error) {
	kids := el.ChildElements()
	if len(kids) != 1 {
		return nil, trustFault(FaultInvalidRequest, "invalid delegation token", "%s must hold exactly one token, not %d", el.Tag, len(kids))
	}
	k := kids[0]
	ok := (k.NamespaceURI() == NSAssertion && k.Tag == "Assertion") || (k.NamespaceURI() == soap.NSWSSE && k.Tag == "UsernameToken")
	if !ok {
		return nil, trustFault(FaultInvalidRequest, "invalid delegation token", "%s holds {%s}%s (only a SAML 2.0 assertion or a UsernameToken)", el.Tag, k.NamespaceURI(), k.Tag)
	}
	return k, nil
}
