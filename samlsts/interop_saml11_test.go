package samlsts

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// saml11Template is a SAML 1.1 assertion written here (not by Issue11) with
// an enveloped signature template last, where the SAML 1.1 schema puts it;
// xmlsec1 signs it. Upper-case words are replaced before signing.
const saml11Template = `<saml1:Assertion xmlns:saml1="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="ASSERTION_ID" Issuer="ISSUER" IssueInstant="ISSUED">
  <saml1:Conditions NotBefore="NOT_BEFORE" NotOnOrAfter="EXPIRES">
    <saml1:AudienceRestrictionCondition><saml1:Audience>AUDIENCE</saml1:Audience></saml1:AudienceRestrictionCondition>
  </saml1:Conditions>
  <saml1:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" AuthenticationInstant="AUTHN_INSTANT">
    <saml1:Subject>
      <saml1:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">SUBJECT</saml1:NameIdentifier>
      <saml1:SubjectConfirmation><saml1:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml1:ConfirmationMethod></saml1:SubjectConfirmation>
    </saml1:Subject>
  </saml1:AuthenticationStatement>
  <saml1:AttributeStatement>
    <saml1:Subject>
      <saml1:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">SUBJECT</saml1:NameIdentifier>
      <saml1:SubjectConfirmation><saml1:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml1:ConfirmationMethod></saml1:SubjectConfirmation>
    </saml1:Subject>
    <saml1:Attribute AttributeName="racfUserId" AttributeNamespace="urn:gatehouse:attributes"><saml1:AttributeValue>ALICE01</saml1:AttributeValue></saml1:Attribute>
  </saml1:AttributeStatement>
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
      <ds:Reference URI="#ASSERTION_ID">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue/>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue/>
    <ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>
  </ds:Signature>
</saml1:Assertion>
`

// xmlsec1SAML11 signs saml11Template for id with xmlsec1 as the STS (its
// RSA key).
func xmlsec1SAML11(t *testing.T, k *keys, at time.Time, id string) string {
	t.Helper()
	xmlsec1 := needTool(t, "xmlsec1")
	dir := t.TempDir()
	certFile, keyFile := writeKeyPair(t, dir, "sts", k.stsRSA, true)
	vars := strings.NewReplacer("ASSERTION_ID", id, "ISSUER", stsEntity, "ISSUED", at.Format(time.RFC3339),
		"NOT_BEFORE", at.Add(-time.Minute).Format(time.RFC3339), "EXPIRES", at.Add(5*time.Minute).Format(time.RFC3339),
		"AUDIENCE", audience, "AUTHN_INSTANT", at.Add(-time.Minute).Format(time.RFC3339), "SUBJECT", aliceNameID)
	tmpl := filepath.Join(dir, "template.xml")
	writeFile(t, tmpl, []byte(vars.Replace(saml11Template)))
	out, stderr, ok := runTool(t, xmlsec1, "--sign", "--privkey-pem", keyFile+","+certFile,
		"--id-attr:AssertionID", NSAssertion1+":Assertion", tmpl)
	if !ok {
		t.Fatalf("xmlsec1 --sign: %s", stderr)
	}
	if strings.Contains(out, "<ds:SignatureValue/>") {
		t.Fatalf("xmlsec1 left the template unsigned:\n%s", out)
	}
	return xmlDecl.ReplaceAllString(out, "")
}

// TestInteropSAMLVersions: a SAML 1.1 assertion signed by xmlsec1 is
// accepted by a verifier whose Versions list 1.1 and refused with
// wsse:UnsupportedSecurityToken by the default (SAML 2.0 only) one; a SAML
// 2.0 assertion (xmlsec1 too) is refused by a 1.1-only verifier. Tampered,
// the 1.1 assertion is refused where 1.1 is accepted.
func TestInteropSAMLVersions(t *testing.T) {
	k, at := interopKeys(t)
	id := newAssertionID(t)
	a11 := xmlsec1SAML11(t, k, at, id)
	a20, _ := xmlsec1Assertion(t, k, at)
	verify := func(versions []string, a string) (*Principal, error) {
		t.Helper()
		v := verifier(k)
		v.Clock, v.Versions = func() time.Time { return at }, versions
		m := message(t, a, nil, false)
		m.Caller, m.CallerCert = consumerID, k.client.cert
		p, _, err := v.Verify(m)
		return p, err
	}
	for _, versions := range [][]string{{Version11, Version20}, {Version11}} {
		p, err := verify(versions, a11)
		if err != nil {
			t.Fatalf("versions %q: xmlsec1's SAML 1.1 assertion refused: %v\n%s", versions, err, a11)
		}
		if p.Subject != aliceNameID || p.Issuer != stsEntity || p.AssertionID != id || p.Confirmation != CMBearer ||
			p.Attributes["racfUserId"][0] != "ALICE01" {
			t.Errorf("versions %q: principal %+v", versions, p)
		}
	}
	if _, err := verify([]string{Version11, Version20}, mustReplace(t, a11, "ALICE01", "ADMIN01")); err == nil || faultCode(t, err) != "InvalidSecurityToken" {
		t.Errorf("tampered SAML 1.1 assertion: err = %v, want InvalidSecurityToken", err)
	}
	for _, tc := range []struct {
		name      string
		versions  []string
		assertion string
	}{
		{"SAML 1.1 at the default (2.0 only)", nil, a11},
		{"SAML 1.1 at 2.0 only", []string{Version20}, a11},
		{"SAML 2.0 at 1.1 only", []string{Version11}, a20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verify(tc.versions, tc.assertion)
			if err == nil {
				t.Fatalf("accepted: principal %+v", p)
			}
			if got := faultCode(t, err); got != "UnsupportedSecurityToken" {
				t.Errorf("fault %s (%v), want UnsupportedSecurityToken", got, err)
			}
		})
	}
	if _, err := verify(nil, a20); err != nil {
		t.Errorf("SAML 2.0 at the default: %v", err)
	}
}
