package samlsts

import (
	"encoding/xml"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/gatehouse/gatehouse/soap"
)

// referenceFields reads the assertion as this path did before readFields:
// serialized, then decoded by encoding/xml into crewjam's saml.Assertion.
func referenceFields(el *etree.Element) (assertionFields, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	data, err := doc.WriteToBytes()
	if err != nil {
		return assertionFields{}, err
	}
	var sa saml.Assertion
	if err := xml.Unmarshal(data, &sa); err != nil {
		return assertionFields{}, err
	}
	f := assertionFields{id: sa.ID, version: sa.Version, issuer: strings.TrimSpace(sa.Issuer.Value),
		issueInstant: sa.IssueInstant, attributes: map[string][]string{}}
	if sa.Subject != nil {
		f.subject = el // compared as present or not
	}
	if len(sa.AuthnStatements) > 0 {
		f.authn, f.authnInstant = true, sa.AuthnStatements[0].AuthnInstant
		if ref := sa.AuthnStatements[0].AuthnContext.AuthnContextClassRef; ref != nil {
			f.authnContext = strings.TrimSpace(ref.Value)
		}
	}
	for _, st := range sa.AttributeStatements {
		for _, at := range st.Attributes {
			for _, v := range at.Values {
				f.attributes[at.Name] = append(f.attributes[at.Name], strings.TrimSpace(v.Value))
			}
		}
	}
	return f, nil
}

func describeFields(f assertionFields) string {
	return fmt.Sprintf("id=%q version=%q issuer=%q instant=%s subject=%v authn=%v %s %q attrs=%v",
		f.id, f.version, f.issuer, f.issueInstant.UTC().Format(time.RFC3339Nano), f.subject != nil,
		f.authn, f.authnInstant.UTC().Format(time.RFC3339Nano), f.authnContext, f.attributes)
}

// compareRead parses doc and reads it both ways. It reports "" when they
// agree (or the document is not an assertion), else the difference; a
// refusal by readFields of something crewjam reads is reported as
// stricter, with readFields' reason.
func compareRead(doc string) (diff string, stricter error) {
	el, err := soap.ParseFragment([]byte(doc), soap.DefaultLimits())
	if err != nil || el.Tag != "Assertion" || el.NamespaceURI() != NSAssertion {
		return "", nil
	}
	got, gerr := readFields(el)
	want, werr := referenceFields(el)
	switch {
	case gerr != nil && werr != nil:
		return "", nil
	case gerr == nil && werr != nil:
		return fmt.Sprintf("readFields accepts what crewjam refuses (%v): %s", werr, describeFields(got)), nil
	case gerr != nil:
		return "", gerr
	}
	if g, w := describeFields(got), describeFields(want); g != w || !reflect.DeepEqual(got.attributes, want.attributes) {
		return fmt.Sprintf("readFields %s\n   crewjam %s", g, w), nil
	}
	return "", nil
}

const readNS = `xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:o="urn:other"`

// readDoc fills the parts of an assertion; "" keeps a part's default.
func readDoc(rootAttrs, issuer, subject, conditions, statements string) string {
	if rootAttrs == "" {
		rootAttrs = `ID="_a1" Version="2.0" IssueInstant="2026-11-23T10:00:00Z"`
	}
	if issuer == "" {
		issuer = `<saml:Issuer>urn:gatehouse:sts</saml:Issuer>`
	}
	if subject == "" {
		subject = `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID>` +
			`<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="2026-11-23T10:05:00Z" Recipient="https://gw/services/accounts"/></saml:SubjectConfirmation></saml:Subject>`
	}
	if conditions == "" {
		conditions = `<saml:Conditions NotBefore="2026-11-23T09:59:00Z" NotOnOrAfter="2026-11-23T10:05:00Z"><saml:AudienceRestriction><saml:Audience>urn:gatehouse:service:accounts</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
	}
	if statements == "" {
		statements = `<saml:AuthnStatement AuthnInstant="2026-11-23T09:58:00.123Z" SessionIndex="s1"><saml:AuthnContext><saml:AuthnContextClassRef> urn:oasis:names:tc:SAML:2.0:ac:classes:X509 </saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
			`<saml:AttributeStatement><saml:Attribute Name="role" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><saml:AttributeValue xsi:type="xs:string">teller</saml:AttributeValue><saml:AttributeValue> auditor </saml:AttributeValue></saml:Attribute>` +
			`<saml:Attribute Name="branch"><saml:AttributeValue>0<!-- c -->42<![CDATA[<x>]]></saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`
	}
	return `<saml:Assertion ` + readNS + ` ` + rootAttrs + `>` + issuer +
		`<ds:Signature><ds:SignedInfo/><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>` +
		subject + conditions + statements + `</saml:Assertion>`
}

// readCorpus: assertions both readers must read alike (or both refuse).
var readCorpus = []string{
	readDoc("", "", "", "", ""),
	readDoc(`ID="_a1" Version="2.0" IssueInstant="2026-11-23T10:00:00.987654321+02:00"`, "", "", "", ""),
	readDoc(`ID="_a1" Version="2.0" IssueInstant="2026-11-23T10:00:00.9876"`, "", "", "", ""),
	readDoc(`ID="_a1" Version="2.0" IssueInstant="yesterday"`, "", "", "", ""),
	readDoc(`ID="_a1" Version="2.0" IssueInstant=""`, "", "", "", ""),
	readDoc(`ID="_a1" Version="2.0"`, "", "", "", ""),
	readDoc(`ID="_a1" Version="1.1" IssueInstant="2026-11-23T10:00:00Z"`, "", "", "", ""),
	readDoc("", `<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">  urn:gatehouse:sts<!-- x -->
</saml:Issuer>`, "", "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID></saml:Subject>`, "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID><saml:SubjectConfirmation Method="m"><saml:SubjectConfirmationData NotBefore="2026-11-23T09:00:00Z" NotOnOrAfter="2026-11-23T11:00:00Z"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>`, "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID><saml:SubjectConfirmation Method="m"><saml:SubjectConfirmationData NotBefore="soon"/></saml:SubjectConfirmation></saml:Subject>`, "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID><saml:SubjectConfirmation Method="m"><saml:SubjectConfirmationData NotBefore=""/></saml:SubjectConfirmation></saml:Subject>`, "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID><saml:SubjectConfirmation Method="m"><saml:SubjectConfirmationData NotOnOrAfter="later"/></saml:SubjectConfirmation></saml:Subject>`, "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID><saml:SubjectConfirmation Method="m"><saml:SubjectConfirmationData NotOnOrAfter="2026-11-23T11:00:00"/></saml:SubjectConfirmation></saml:Subject>`, "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID><saml:SubjectConfirmation Method="m"><saml:SubjectConfirmationData NotBefore="2026-11-23T09:00:00.5+25:00"/></saml:SubjectConfirmation></saml:Subject>`, "", ""),
	readDoc("", "", "", `<saml:Conditions NotBefore="then" NotOnOrAfter="2026-11-23T10:05:00Z"/>`, ""),
	readDoc("", "", "", `<saml:Conditions NotOnOrAfter="2026-11-23T10:05:00Z"><saml:ProxyRestriction Count="2"><saml:Audience>a</saml:Audience></saml:ProxyRestriction><saml:OneTimeUse/></saml:Conditions>`, ""),
	readDoc("", "", "", `<saml:Conditions NotOnOrAfter="2026-11-23T10:05:00Z"><saml:ProxyRestriction><Count>two</Count></saml:ProxyRestriction></saml:Conditions>`, ""),
	readDoc("", "", "", `<saml:Conditions NotOnOrAfter="2026-11-23T10:05:00Z"><saml:ProxyRestriction><Count> 3 </Count></saml:ProxyRestriction></saml:Conditions>`, ""),
	readDoc("", "", "", "", `<saml:AuthnStatement AuthnInstant="2026-11-23T09:58:00Z"><saml:AuthnContext/></saml:AuthnStatement><saml:AuthnStatement AuthnInstant="2026-11-23T09:00:00Z"><saml:AuthnContext><saml:AuthnContextClassRef>second</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`),
	readDoc("", "", "", "", `<saml:AuthnStatement AuthnInstant="early"/>`),
	readDoc("", "", "", "", `<saml:AuthnStatement AuthnInstant="2026-11-23T09:58:00Z" SessionNotOnOrAfter="never"/>`),
	readDoc("", "", "", "", `<saml:AuthnStatement AuthnInstant="2026-11-23T09:58:00Z"/><saml:AuthnStatement AuthnInstant="bad"/>`),
	readDoc("", "", "", "", `<saml:AuthnStatement><saml:SubjectLocality Address="10.0.0.1"/><saml:AuthnContext><saml:AuthnContextDeclRef>r</saml:AuthnContextDeclRef></saml:AuthnContext></saml:AuthnStatement>`),
	readDoc("", "", "", "", `<saml:AttributeStatement/><saml:AttributeStatement><saml:Attribute Name="role"><saml:AttributeValue>a</saml:AttributeValue></saml:Attribute><saml:Attribute Name="role"><saml:AttributeValue>b</saml:AttributeValue><saml:AttributeValue/></saml:Attribute></saml:AttributeStatement>`),
	readDoc("", "", "", "", `<saml:AttributeStatement><saml:Attribute Name="who"><saml:AttributeValue><saml:NameID>n</saml:NameID></saml:AttributeValue><saml:AttributeValue>x<o:y>inner</o:y>z</saml:AttributeValue></saml:Attribute><saml:Attribute><saml:AttributeValue>anon</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`),
	readDoc("", "", "", "", `<saml:AttributeStatement><saml:Attribute Name="e"><saml:AttributeValue>a&amp;b &lt;&#x41;&#xD;</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`),
	readDoc("", "", "", "", `<saml:Advice><saml:AuthnStatement AuthnInstant="bad"/></saml:Advice><saml:Statement xsi:type="o:T"/><saml:AuthzDecisionStatement Resource="r" Decision="Permit"/>`),
}

// readStricter: assertions crewjam reads and readFields refuses, each for
// a reason the SAML schema gives (see readFields).
var readStricter = []string{
	readDoc("", `<saml:Issuer>urn:gatehouse:sts</saml:Issuer><saml:Issuer>urn:evil</saml:Issuer>`, "", "", ""),
	readDoc(`ID="_a1" Version="2.0" IssueInstant="2026-11-23T10:00:00Z" o:IssueInstant="2026-11-23T10:00:00Z"`, "", "", "", ""),
	readDoc(`ID="_a1" Version="2.0" IssueInstant="2026-11-23T10:00:00Z" o:ID="_other"`, "", "", "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID></saml:Subject><saml:Subject><saml:NameID>eve</saml:NameID></saml:Subject>`, "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID><o:SubjectConfirmation Method="m"/></saml:Subject>`, "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID><saml:SubjectConfirmation Method="m"><saml:SubjectConfirmationData/><saml:SubjectConfirmationData/></saml:SubjectConfirmation></saml:Subject>`, "", ""),
	readDoc("", "", `<saml:Subject><saml:NameID>bob</saml:NameID><saml:SubjectConfirmation Method="m"><saml:SubjectConfirmationData Recipient="a" o:Recipient="b"/></saml:SubjectConfirmation></saml:Subject>`, "", ""),
	readDoc("", "", "", `<saml:Conditions NotOnOrAfter="2026-11-23T10:05:00Z"/><saml:Conditions NotOnOrAfter="2026-11-24T10:05:00Z"/>`, ""),
	readDoc("", "", "", "", `<o:AuthnStatement AuthnInstant="2026-11-23T09:58:00Z"/>`),
	readDoc("", "", "", "", `<saml:AuthnStatement><saml:AuthnContext/><saml:AuthnContext/></saml:AuthnStatement>`),
	readDoc("", "", "", "", `<saml:AuthnStatement><saml:AuthnContext><saml:AuthnContextClassRef>a</saml:AuthnContextClassRef><saml:AuthnContextClassRef>b</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`),
	readDoc("", "", "", "", `<saml:AttributeStatement><o:Attribute Name="role"><saml:AttributeValue>admin</saml:AttributeValue></o:Attribute></saml:AttributeStatement>`),
	readDoc("", "", "", "", `<saml:AttributeStatement><saml:Attribute Name="role"><o:AttributeValue>admin</o:AttributeValue></saml:Attribute></saml:AttributeStatement>`),
	readDoc("", "", "", "", `<saml:AttributeStatement><saml:Attribute Name="role" o:Name="admin"><saml:AttributeValue>x</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`),
	readDoc("", "", "", "", `<o:Extra/>`),
	readDoc("", `<o:Issuer>urn:evil</o:Issuer>`, "", "", ""),
}

func TestReadFieldsDifferential(t *testing.T) {
	accepted := 0
	for _, doc := range readCorpus {
		diff, stricter := compareRead(doc)
		if diff != "" {
			t.Errorf("%s\n%s", doc, diff)
		}
		if stricter != nil {
			t.Errorf("%s\nrefused by readFields only: %v", doc, stricter)
		}
		el, _ := soap.ParseFragment([]byte(doc), soap.DefaultLimits())
		if _, err := readFields(el); err == nil {
			accepted++
		}
	}
	if accepted < len(readCorpus)/2 {
		t.Errorf("only %d of %d corpus assertions read", accepted, len(readCorpus))
	}
	for _, doc := range readStricter {
		diff, stricter := compareRead(doc)
		if diff != "" || stricter == nil {
			t.Errorf("%s\nnot refused by readFields alone (%s)", doc, diff)
		}
	}
}

// FuzzReadFields holds readFields to crewjam's reader: whatever it reads,
// crewjam reads the same; what crewjam refuses, it refuses.
func FuzzReadFields(f *testing.F) {
	for _, doc := range append(append([]string{}, readCorpus...), readStricter...) {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if diff, _ := compareRead(string(data)); diff != "" {
			t.Fatalf("%q\n%s", data, diff)
		}
	})
}
