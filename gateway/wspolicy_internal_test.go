package gateway

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/schemas/wsdl"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
	"github.com/gatehouse/gatehouse/soap/xmlenc"
)

// policyMessage is a parsed SOAP 1.1 message whose Security header holds
// the given children (by local name, in order) and the Verified a
// verifier would make of it: signer is the index of the message signature
// among the children, covering the elements named in covers.
type policyMessage struct {
	env *soap.Envelope
	v   *wssec.Verified
	el  map[string]*etree.Element
}

func newPolicyMessage(t *testing.T, children []string, covers []string, hokSigner bool) policyMessage {
	t.Helper()
	var sec strings.Builder
	for _, c := range children {
		switch c {
		case "Timestamp":
			sec.WriteString(`<wsu:Timestamp wsu:Id="ts"><wsu:Created>2026-12-07T10:00:00Z</wsu:Created></wsu:Timestamp>`)
		case "BinarySecurityToken":
			sec.WriteString(`<wsse:BinarySecurityToken>AA==</wsse:BinarySecurityToken>`)
		case "Assertion":
			sec.WriteString(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1"/>`)
		case "UsernameToken":
			sec.WriteString(`<wsse:UsernameToken><wsse:Username>u</wsse:Username></wsse:UsernameToken>`)
		case "Signature":
			sec.WriteString(`<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>`)
		}
	}
	doc := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` +
		sec.String() + `</wsse:Security><x:Route xmlns:x="urn:x">r</x:Route></soap:Header><soap:Body><x:Op xmlns:x="urn:x"/></soap:Body></soap:Envelope>`
	env, err := soap.Parse([]byte(doc), soap.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	m := policyMessage{env: env, el: map[string]*etree.Element{"Body": env.Body}}
	security := env.HeaderBlocks()[0]
	m.el["Route"] = env.HeaderBlocks()[1]
	for _, k := range security.ChildElements() {
		m.el[k.Tag] = k
	}
	m.v = &wssec.Verified{Envelope: env, Security: security}
	if ts := m.el["Timestamp"]; ts != nil {
		m.v.Timestamp = &wssec.Timestamp{Element: ts}
	}
	if a := m.el["Assertion"]; a != nil {
		m.v.Assertions = []*etree.Element{a}
	}
	if u := m.el["UsernameToken"]; u != nil {
		m.v.UsernameToken = &wssec.UsernameToken{Element: u}
	}
	if s := m.el["Signature"]; s != nil {
		sig := &wssec.Signature{Element: s}
		for _, c := range covers {
			sig.References = append(sig.References, m.el[c])
			if c == "Timestamp" {
				sig.Timestamp = m.v.Timestamp
			}
		}
		if hokSigner {
			sig.Token = m.el["Assertion"]
		}
		m.v.Signer, m.v.Signatures = sig, []*wssec.Signature{sig}
	}
	return m
}

// Each part of an operation's policy is checked against the message's
// verified Security header; each case fails without its check.
func TestCheckSecurityPolicy(t *testing.T) {
	asym := wsdl.SecurityPolicy{Binding: "AsymmetricBinding", Timestamp: true, SignBody: true}
	signedSAML := asym
	signedSAML.Tokens = []wsdl.SupportingToken{{Kind: "SamlToken", Signed: true}}
	endorsingSAML := asym
	endorsingSAML.Tokens = []wsdl.SupportingToken{{Kind: "SamlToken", Endorsing: true}}
	signedUT := asym
	signedUT.Tokens = []wsdl.SupportingToken{{Kind: "UsernameToken", Signed: true}}
	route := asym
	route.SignedHeaders = []xml.Name{{Space: "urn:x", Local: "Route"}}
	strict, tsLast := asym, asym
	strict.Layout, tsLast.Layout = "Strict", "LaxTsLast"
	full := []string{"Timestamp", "BinarySecurityToken", "Assertion", "Signature"}
	encBody := asym
	encBody.EncryptBody = true
	for _, tc := range []struct {
		name     string
		policy   wsdl.SecurityPolicy
		children []string
		covers   []string
		hok      bool
		want     string // "" accepted, else in the refusal
		// decrypted: "" nothing, "body" the Body's content, "moved" the
		// Body was decrypted but its content now is another element.
		decrypted string
	}{
		{"asymmetric, signed", asym, full, []string{"Body", "Timestamp"}, false, "", ""},
		{"asymmetric, no signature", asym, []string{"Timestamp"}, nil, false, "no signature over the Body", ""},
		{"asymmetric, Timestamp unsigned", asym, full, []string{"Body"}, false, "does not cover the Timestamp", ""},
		{"asymmetric, no Timestamp", asym, []string{"BinarySecurityToken", "Signature"}, []string{"Body"}, false, "no Timestamp", ""},
		{"signed SAML, covered", signedSAML, full, []string{"Body", "Timestamp", "Assertion"}, false, "", ""},
		{"signed SAML, holder-of-key signer", signedSAML, full, []string{"Body", "Timestamp"}, true, "", ""},
		{"signed SAML, not covered", signedSAML, full, []string{"Body", "Timestamp"}, false, "not covered by the message signature", ""},
		{"signed SAML, none", signedSAML, []string{"Timestamp", "BinarySecurityToken", "Signature"}, []string{"Body", "Timestamp"}, false, "no SAML assertion", ""},
		{"endorsing SAML, holder-of-key", endorsingSAML, full, []string{"Body", "Timestamp"}, true, "", ""},
		{"endorsing SAML, bearer signed by another key", endorsingSAML, full, []string{"Body", "Timestamp", "Assertion"}, false, "does not sign the message", ""},
		{"signed UsernameToken", signedUT, []string{"Timestamp", "UsernameToken", "BinarySecurityToken", "Signature"}, []string{"Body", "Timestamp", "UsernameToken"}, false, "", ""},
		{"signed UsernameToken, not covered", signedUT, []string{"Timestamp", "UsernameToken", "BinarySecurityToken", "Signature"}, []string{"Body", "Timestamp"}, false, "UsernameToken is not covered", ""},
		{"signed header, covered", route, append(full[:0:0], full...), []string{"Body", "Timestamp", "Route"}, false, "", ""},
		{"signed header, not covered", route, full, []string{"Body", "Timestamp"}, false, "{urn:x}Route is not covered", ""},
		{"Strict", strict, full, []string{"Body", "Timestamp"}, false, "", ""},
		{"Strict, token after the signature", strict, []string{"Timestamp", "Signature", "BinarySecurityToken"}, []string{"Body", "Timestamp"}, false, "follows a signature", ""},
		{"Strict, Timestamp not first", strict, []string{"BinarySecurityToken", "Timestamp", "Signature"}, []string{"Body", "Timestamp"}, false, "not the first child", ""},
		{"LaxTsLast, Timestamp first", tsLast, full, []string{"Body", "Timestamp"}, false, "not the last child", ""},
		{"LaxTsLast", tsLast, []string{"BinarySecurityToken", "Signature", "Timestamp"}, []string{"Body", "Timestamp"}, false, "", ""},
		{"EncryptedParts Body, decrypted", encBody, full, []string{"Body", "Timestamp"}, false, "", "body"},
		{"EncryptedParts Body, in plaintext", encBody, full, []string{"Body", "Timestamp"}, false, "the Body did not arrive encrypted", ""},
		{"EncryptedParts Body, other content than the decrypted", encBody, full, []string{"Body", "Timestamp"}, false, "did not arrive encrypted", "moved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newPolicyMessage(t, tc.children, tc.covers, tc.hok)
			p := tc.policy
			var dec *xmlenc.Decrypted
			switch tc.decrypted {
			case "body":
				dec = &xmlenc.Decrypted{Body: true, Elements: m.env.Body.ChildElements()}
			case "moved":
				dec = &xmlenc.Decrypted{Body: true, Elements: []*etree.Element{etree.NewElement("x")}}
			}
			err := checkSecurityPolicy(&wsdl.Operation{Name: "Op", Policy: &p}, m.env, m.v, dec)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(soap.AsFault(err).Reason(), tc.want)):
				t.Errorf("got %v, want …%s…", err, tc.want)
			case err != nil && soap.AsFault(err).Subcode != soap.FaultInvalidSecurity:
				t.Errorf("fault %v, want wsse:InvalidSecurity", soap.AsFault(err).Subcode)
			}
		})
	}
}
