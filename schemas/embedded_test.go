package schemas

import (
	"io/fs"
	"strings"
	"testing"
)

// Every embedded document compiles on its own, with its imports resolved
// from the embedded catalog only.
func TestEveryEmbeddedSchemaCompiles(t *testing.T) {
	names := embeddedNames()
	want := []string{SOAP11Envelope, SOAP12Envelope, XML, XMLDSig, XMLEnc, SAML20, SAMLDelegation, SAML11,
		WSSecext10, WSUtility10, WSSecext11, WSAddressing, WSTrust13, WSTrust14}
	for _, w := range want {
		if !contains(names, w) {
			t.Errorf("%s is not embedded", w)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, err := CompileEmbedded(name)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() != name {
				t.Errorf("Name() = %q, want %q", s.Name(), name)
			}
			s.Close()
			s.Close() // idempotent
		})
	}
}

// embeddedNames lists the embedded schema documents.
func embeddedNames() []string {
	names, _ := fs.Glob(std, "std/*.xsd")
	for i, n := range names {
		names[i] = n[len("std/"):]
	}
	return names
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func TestCompileEmbeddedUnknown(t *testing.T) {
	for _, name := range []string{"nope.xsd", "../schemas/std/xml.xsd", "std/xml.xsd", "", "README.md"} {
		if _, err := CompileEmbedded(name); err == nil {
			t.Errorf("CompileEmbedded(%q) succeeded", name)
		}
	}
}

func TestSOAPEnvelopes(t *testing.T) {
	soap11 := mustEmbedded(t, SOAP11Envelope)
	soap12 := mustEmbedded(t, SOAP12Envelope)
	env11 := envelope(soap11NS, "", placeOrder("1", 1))
	env12 := envelope(soap12NS, "", placeOrder("1", 1))

	if err := soap11.Validate([]byte(env11)); err != nil {
		t.Errorf("SOAP 1.1 envelope against SOAP 1.1 schema: %v", err)
	}
	if err := soap12.Validate([]byte(env12)); err != nil {
		t.Errorf("SOAP 1.2 envelope against SOAP 1.2 schema: %v", err)
	}
	ve := asValidation(t, soap12.Validate([]byte(env11)))
	if p := ve.Problems[0]; p.Line != 2 || p.Element != "{"+soap11NS+"}Envelope" {
		t.Errorf("1.1 envelope against 1.2 schema: problem %+v, want line 2 on the 1.1 Envelope", p)
	}
	asValidation(t, soap11.Validate([]byte(env12)))
}

func TestSOAP12Structure(t *testing.T) {
	soap12 := mustEmbedded(t, SOAP12Envelope)
	tests := []struct {
		name, doc string
		valid     bool
	}{
		{"fault", envelope(soap12NS, "", `<soap:Fault>
  <soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:Value>o:BadOrder</soap:Value></soap:Subcode></soap:Code>
  <soap:Reason><soap:Text xml:lang="en">bad order</soap:Text></soap:Reason>
  <soap:Role>http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver</soap:Role>
  <soap:Detail><o:Why>no stock</o:Why></soap:Detail>
</soap:Fault>`), true},
		{"fault text without xml:lang", envelope(soap12NS, "", `<soap:Fault>
  <soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code>
  <soap:Reason><soap:Text>bad order</soap:Text></soap:Reason>
</soap:Fault>`), false},
		{"fault code outside the five", envelope(soap12NS, "", `<soap:Fault>
  <soap:Code><soap:Value>soap:Client</soap:Value></soap:Code>
  <soap:Reason><soap:Text xml:lang="en">x</soap:Text></soap:Reason>
</soap:Fault>`), false},
		{"header block attributes", envelope(soap12NS,
			`<o:Trace soap:mustUnderstand="true" soap:role="http://example.com/r" soap:relay="false"/>`, ""), true},
		{"mustUnderstand not a boolean", envelope(soap12NS, `<o:Trace soap:mustUnderstand="maybe"/>`, ""), false},
		{"not understood and upgrade", envelope(soap12NS,
			`<soap:NotUnderstood qname="o:Trace"/><soap:Upgrade><soap:SupportedEnvelope qname="soap:Envelope"/></soap:Upgrade>`, ""), true},
		{"element after Body", strings.Replace(envelope(soap12NS, "", ""), "</soap:Body>", "</soap:Body><o:Extra/>", 1), false},
		{"Header after Body", `<soap:Envelope xmlns:soap="` + soap12NS + `"><soap:Body/><soap:Header/></soap:Envelope>`, false},
		{"two Bodies", `<soap:Envelope xmlns:soap="` + soap12NS + `"><soap:Body/><soap:Body/></soap:Envelope>`, false},
		{"no Body", `<soap:Envelope xmlns:soap="` + soap12NS + `"><soap:Header/></soap:Envelope>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := soap12.Validate([]byte(tt.doc))
			if tt.valid && err != nil {
				t.Fatalf("want valid: %v", err)
			}
			if !tt.valid {
				asValidation(t, err)
			}
		})
	}
}

func TestSAML20Assertion(t *testing.T) {
	saml := mustEmbedded(t, SAML20)
	assertion := `<saml:Assertion xmlns:saml="` + samlNS + `" ID="_a1" IssueInstant="2024-01-01T00:00:00Z" Version="2.0">
  <saml:Issuer>https://sts.example.com</saml:Issuer>
  <saml:Subject>
    <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">alice</saml:NameID>
    <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"/>
  </saml:Subject>
  <saml:Conditions NotBefore="2024-01-01T00:00:00Z" NotOnOrAfter="2024-01-01T00:05:00Z">
    <saml:AudienceRestriction><saml:Audience>urn:service:orders</saml:Audience></saml:AudienceRestriction>
  </saml:Conditions>
  <saml:AttributeStatement>
    <saml:Attribute Name="role"><saml:AttributeValue>clerk</saml:AttributeValue></saml:Attribute>
  </saml:AttributeStatement>
</saml:Assertion>`
	if err := saml.Validate([]byte(assertion)); err != nil {
		t.Fatalf("valid assertion: %v", err)
	}
	// Issuer must come first; Version is required.
	bad := strings.Replace(assertion, ` Version="2.0"`, "", 1)
	ve := asValidation(t, saml.Validate([]byte(bad)))
	if !strings.Contains(ve.Problems[0].Message, "Version") || ve.Problems[0].Line != 1 {
		t.Errorf("missing Version: got %+v", ve.Problems[0])
	}
	bad = strings.Replace(assertion, `<saml:Issuer>https://sts.example.com</saml:Issuer>`, "", 1)
	bad = strings.Replace(bad, `</saml:Subject>`, `</saml:Subject><saml:Issuer>x</saml:Issuer>`, 1)
	asValidation(t, saml.Validate([]byte(bad)))
}

// A delegation chain (the STS's ActAs assertions and the gateway's hop
// assertions carry one) is a Condition of xsi:type
// del:DelegationRestrictionType: it validates only with the delegation
// schema in the set, and its content is checked.
func TestSAMLDelegationCondition(t *testing.T) {
	assertion := `<saml:Assertion xmlns:saml="` + samlNS + `" xmlns:del="urn:oasis:names:tc:SAML:2.0:conditions:delegation"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_a1" IssueInstant="2024-01-01T00:00:00Z" Version="2.0">
  <saml:Issuer>https://sts.example.com</saml:Issuer>
  <saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject>
  <saml:Conditions NotBefore="2024-01-01T00:00:00Z" NotOnOrAfter="2024-01-01T00:05:00Z">
    <saml:Condition xsi:type="del:DelegationRestrictionType">
      <del:Delegate DelegationInstant="2024-01-01T00:00:00Z"><saml:NameID>composite:open-account</saml:NameID></del:Delegate>
    </saml:Condition>
    <saml:AudienceRestriction><saml:Audience>urn:service:orders</saml:Audience></saml:AudienceRestriction>
  </saml:Conditions>
</saml:Assertion>`
	set, err := CompileEmbedded(SAML20, SAMLDelegation)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if err := set.Validate([]byte(assertion)); err != nil {
		t.Fatalf("assertion with a delegation chain: %v", err)
	}
	// Without the delegation schema the xsi:type names no known type.
	asValidation(t, mustEmbedded(t, SAML20).Validate([]byte(assertion)))
	// A Delegate names exactly one identifier.
	bad := strings.Replace(assertion, `<saml:NameID>composite:open-account</saml:NameID>`, "", 1)
	asValidation(t, set.Validate([]byte(bad)))
	bad = strings.Replace(assertion, `DelegationInstant="2024-01-01T00:00:00Z"`, `DelegationInstant="yesterday"`, 1)
	asValidation(t, set.Validate([]byte(bad)))
}

func TestWSSecurityHeader(t *testing.T) {
	wsse := mustEmbedded(t, WSSecext10)
	header := `<wsse:Security xmlns:wsse="` + wsseNS + `" xmlns:wsu="` + wsuNS + `">
  <wsu:Timestamp wsu:Id="TS-1"><wsu:Created>2024-01-01T00:00:00.1234567Z</wsu:Created><wsu:Expires>2024-01-01T00:05:00Z</wsu:Expires></wsu:Timestamp>
  <wsse:UsernameToken wsu:Id="UT-1">
    <wsse:Username>alice</wsse:Username>
    <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">c2VjcmV0</wsse:Password>
    <wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">bm9uY2U=</wsse:Nonce>
    <wsu:Created>2024-01-01T00:00:00Z</wsu:Created>
  </wsse:UsernameToken>
  <wsse:BinarySecurityToken ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3" wsu:Id="X509-1">MIIB</wsse:BinarySecurityToken>
  <wsse:SecurityTokenReference><wsse:Reference URI="#X509-1"/></wsse:SecurityTokenReference>
</wsse:Security>`
	if err := wsse.Validate([]byte(header)); err != nil {
		t.Fatalf("valid Security header: %v", err)
	}
	tests := map[string]string{
		"Created not a dateTime":    strings.Replace(header, "2024-01-01T00:00:00.1234567Z", "yesterday", 1),
		"Expires before Created":    strings.Replace(header, "<wsu:Created>2024-01-01T00:00:00.1234567Z</wsu:Created><wsu:Expires>2024-01-01T00:05:00Z</wsu:Expires>", "<wsu:Expires>2024-01-01T00:05:00Z</wsu:Expires><wsu:Created>2024-01-01T00:00:00Z</wsu:Created>", 1),
		"UsernameToken no Username": strings.Replace(header, "<wsse:Username>alice</wsse:Username>", "", 1),
		"duplicate wsu:Id":          strings.Replace(header, `wsu:Id="UT-1"`, `wsu:Id="TS-1"`, 1),
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			asValidation(t, wsse.Validate([]byte(doc)))
		})
	}
}

func TestWSTrustRequest(t *testing.T) {
	trust := mustEmbedded(t, WSTrust13)
	rst := `<wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512" xmlns:wsu="` + wsuNS + `" xmlns:wst14="http://docs.oasis-open.org/ws-sx/ws-trust/200802" Context="urn:ctx:1">
  <wst:TokenType>http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0</wst:TokenType>
  <wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType>
  <wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType>
  <wst:Lifetime><wsu:Created>2024-01-01T00:00:00Z</wsu:Created><wsu:Expires>2024-01-01T00:05:00Z</wsu:Expires></wst:Lifetime>
  <wst:KeySize>256</wst:KeySize>
  <wst14:ActAs><Token xmlns="urn:x"/></wst14:ActAs>
</wst:RequestSecurityToken>`
	if err := trust.Validate([]byte(rst)); err != nil {
		t.Fatalf("valid RST: %v", err)
	}
	bad := strings.Replace(rst, "<wst:KeySize>256</wst:KeySize>", "<wst:KeySize>-1</wst:KeySize>", 1)
	ve := asValidation(t, trust.Validate([]byte(bad)))
	if ve.Problems[0].Line != 6 {
		t.Errorf("KeySize problem on line %d, want 6", ve.Problems[0].Line)
	}
}
