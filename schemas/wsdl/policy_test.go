package wsdl

import (
	"encoding/xml"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// policyWSDL is a document/literal SOAP 1.1 service whose binding refers to
// an asymmetric-binding policy with a signed supporting SAML 2.0 token,
// and whose operation input adds signed parts (WS-Policy 1.5, SP 1.2).
const policyWSDL = `<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:test:ledger"
    xmlns:wsp="http://www.w3.org/ns/ws-policy" xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"
    xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    xmlns:wsam="http://www.w3.org/2007/05/addressing/metadata" targetNamespace="urn:test:ledger">
  <wsp:Policy wsu:Id="LedgerBinding">
    <wsp:ExactlyOne><wsp:All>
      <sp:AsymmetricBinding><wsp:Policy>
        <sp:InitiatorToken><wsp:Policy><sp:X509Token sp:IncludeToken="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702/IncludeToken/AlwaysToRecipient">
          <wsp:Policy><sp:RequireThumbprintReference/><sp:WssX509V3Token10/></wsp:Policy></sp:X509Token></wsp:Policy></sp:InitiatorToken>
        <sp:RecipientToken><wsp:Policy><sp:X509Token sp:IncludeToken="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702/IncludeToken/Never">
          <wsp:Policy><sp:WssX509V3Token10/></wsp:Policy></sp:X509Token></wsp:Policy></sp:RecipientToken>
        <sp:AlgorithmSuite><wsp:Policy><sp:Basic256Sha256/></wsp:Policy></sp:AlgorithmSuite>
        <sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout>
        <sp:IncludeTimestamp/>
        <sp:OnlySignEntireHeadersAndBody/>
      </wsp:Policy></sp:AsymmetricBinding>
      <sp:Wss11><wsp:Policy><sp:MustSupportRefThumbprint/></wsp:Policy></sp:Wss11>
      <sp:SignedSupportingTokens><wsp:Policy><sp:SamlToken sp:IncludeToken="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702/IncludeToken/AlwaysToRecipient">
        <wsp:Policy><sp:WssSamlV20Token11/></wsp:Policy></sp:SamlToken></wsp:Policy></sp:SignedSupportingTokens>
      <wsam:Addressing wsp:Optional="true"><wsp:Policy/></wsam:Addressing>
    </wsp:All></wsp:ExactlyOne>
  </wsp:Policy>
  <wsp:Policy wsu:Id="PostInput">
    <sp:SignedParts><sp:Body/><sp:Header Name="To" Namespace="http://www.w3.org/2005/08/addressing"/></sp:SignedParts>
  </wsp:Policy>
  <wsdl:types><xs:schema targetNamespace="urn:test:ledger"><xs:element name="Post" type="xs:string"/><xs:element name="Read" type="xs:string"/></xs:schema></wsdl:types>
  <wsdl:message name="PostIn"><wsdl:part name="p" element="t:Post"/></wsdl:message>
  <wsdl:message name="ReadIn"><wsdl:part name="p" element="t:Read"/></wsdl:message>
  <wsdl:portType name="Ledger">
    <wsdl:operation name="Post"><wsdl:input message="t:PostIn"/></wsdl:operation>
    <wsdl:operation name="Read"><wsdl:input message="t:ReadIn"/></wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="LedgerSoap" type="t:Ledger">
    <wsp:PolicyReference URI="#LedgerBinding"/>
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Post">
      <soap:operation soapAction="urn:test:ledger:Post"/>
      <wsdl:input><wsp:PolicyReference URI="#PostInput"/><soap:body use="literal"/></wsdl:input>
    </wsdl:operation>
    <wsdl:operation name="Read">
      <soap:operation soapAction="urn:test:ledger:Read"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="LedgerService"><wsdl:port name="LedgerPort" binding="t:LedgerSoap"><soap:address location="https://ledger.internal/"/></wsdl:port></wsdl:service>
</wsdl:definitions>`

func TestSecurityPolicyAsymmetricSignedSAML(t *testing.T) {
	dir := write(t, map[string]string{"ledger.wsdl": policyWSDL})
	c, err := Load(filepath.Join(dir, "ledger.wsdl"), xml.Name{}, "")
	if err != nil {
		t.Fatal(err)
	}
	post := c.Operation(xml.Name{Space: "urn:test:ledger", Local: "Post"})
	read := c.Operation(xml.Name{Space: "urn:test:ledger", Local: "Read"})
	if post == nil || read == nil || post.Policy == nil || read.Policy == nil {
		t.Fatalf("operations %+v %+v", post, read)
	}
	p := post.Policy
	if p.Binding != "AsymmetricBinding" || p.AlgorithmSuite != "Basic256Sha256" || p.SHA1 || p.Layout != "Strict" || !p.Timestamp ||
		!p.OnlySignEntireHeadersAndBody || !p.SignBody || len(p.SignedHeaders) != 1 || p.SignedHeaders[0].Local != "To" ||
		len(p.Tokens) != 1 || p.Tokens[0] != (SupportingToken{Kind: "SamlToken", Signed: true, SAMLVersion: "2.0"}) || p.Addressing {
		t.Errorf("Post's policy %+v", p)
	}
	if want := 1 + strings.Count(policyWSDL[:strings.Index(policyWSDL, "<sp:AsymmetricBinding>")], "\n"); p.Line != want {
		t.Errorf("policy line %d, want %d (its first assertion)", p.Line, want)
	}
	if want := "AsymmetricBinding, Basic256Sha256, Layout Strict, IncludeTimestamp, SignedParts Body {http://www.w3.org/2005/08/addressing}To, SignedSupportingTokens SamlToken 2.0"; p.String() != want {
		t.Errorf("String() = %q\nwant        %q", p.String(), want)
	}
	// EncryptedParts: the Body and a header, named in the policy line.
	enc := strings.Replace(policyWSDL, "<sp:SignedParts><sp:Body/>", `<sp:EncryptedParts><sp:Body/><sp:Header Name="Route" Namespace="urn:x"/></sp:EncryptedParts><sp:SignedParts><sp:Body/>`, 1)
	dir = write(t, map[string]string{"ledger.wsdl": enc})
	ce, err := Load(filepath.Join(dir, "ledger.wsdl"), xml.Name{}, "")
	if err != nil {
		t.Fatal(err)
	}
	ep := ce.Operation(xml.Name{Space: "urn:test:ledger", Local: "Post"}).Policy
	if !ep.EncryptBody || len(ep.EncryptedHeaders) != 1 || ep.EncryptedHeaders[0] != (xml.Name{Space: "urn:x", Local: "Route"}) || !strings.Contains(ep.String(), "EncryptedParts Body {urn:x}Route") {
		t.Errorf("EncryptedParts: %+v %s", ep, ep)
	}
	// Read has the binding's policy only.
	if read.Policy.SignBody || len(read.Policy.SignedHeaders) != 0 || read.Policy.Binding != "AsymmetricBinding" {
		t.Errorf("Read's policy %+v", read.Policy)
	}
}

// Assertions Gatehouse cannot enforce are load errors naming them and
// their line, never a weaker policy.
func TestSecurityPolicyRefusals(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(policyWSDL, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(policyWSDL, old, new, 1)
	}
	for _, tc := range []struct {
		name, wsdl string
		at         string // the error's line is this text's
		want       string
	}{
		{"symmetric binding", strings.ReplaceAll(replace("<sp:AsymmetricBinding><wsp:Policy>", "<sp:SymmetricBinding><wsp:Policy>"),
			"</wsp:Policy></sp:AsymmetricBinding>", "</wsp:Policy></sp:SymmetricBinding>"), "<sp:SymmetricBinding>", "sp:SymmetricBinding cannot be enforced"},
		{"encrypted elements (XPath)", replace("<sp:SignedParts><sp:Body/>", "<sp:EncryptedElements><sp:XPath>//x</sp:XPath></sp:EncryptedElements><sp:SignedParts><sp:Body/>"), "<sp:EncryptedElements>", "use EncryptedParts"},
		{"encrypted parts, empty", replace("<sp:SignedParts><sp:Body/>", "<sp:EncryptedParts/><sp:SignedParts><sp:Body/>"), "<sp:EncryptedParts/>", "list the Body and the headers"},
		{"alternatives", replace("<wsp:ExactlyOne><wsp:All>", "<wsp:ExactlyOne><wsp:All/><wsp:All>"), "<wsp:ExactlyOne>", "2 alternatives"},
		{"remote reference", replace(`<wsp:PolicyReference URI="#LedgerBinding"/>`, `<wsp:PolicyReference URI="https://policies.example/ledger.xml"/>`), "https://policies.example", "never a fetch"},
		{"missing reference", replace(`<wsp:PolicyReference URI="#LedgerBinding"/>`, `<wsp:PolicyReference URI="#Nope"/>`), `"#Nope"`, "no wsp:Policy"},
		{"unknown assertion", replace("<sp:IncludeTimestamp/>", "<sp:IncludeTimestamp/><sp:EncryptSignature/>"), "<sp:EncryptSignature/>", "sp:EncryptSignature cannot be enforced"},
		{"foreign assertion", replace("<sp:Wss11>", `<x:Magic xmlns:x="urn:vendor"/><sp:Wss11>`), "<x:Magic", "{urn:vendor}Magic cannot be enforced"},
		{"all headers", replace(`<sp:SignedParts><sp:Body/><sp:Header Name="To" Namespace="http://www.w3.org/2005/08/addressing"/></sp:SignedParts>`, `<sp:SignedParts/>`), "<sp:SignedParts/>", "every header"},
		{"issued token", strings.ReplaceAll(replace("<sp:SamlToken sp:IncludeToken", "<sp:IssuedToken sp:IncludeToken"), "</sp:SamlToken>", "</sp:IssuedToken>"), "<sp:IssuedToken", "sp:IssuedToken cannot be enforced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := write(t, map[string]string{"ledger.wsdl": tc.wsdl})
			_, err := Load(filepath.Join(dir, "ledger.wsdl"), xml.Name{}, "")
			line := 1 + strings.Count(tc.wsdl[:strings.Index(tc.wsdl, tc.at)], "\n")
			var we *Error
			if !errors.As(err, &we) || !strings.Contains(we.Msg, tc.want) || we.Line != line {
				t.Errorf("got %v, want line %d: …%s…", err, line, tc.want)
			}
		})
	}
}
