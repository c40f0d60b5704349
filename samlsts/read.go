package samlsts

import (
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/gatehouse/gatehouse/soap"
)

// assertionFields are what read takes from a verified SAML 2.0 assertion
// besides its conditions and confirmations.
type assertionFields struct {
	id, version, issuer string
	issueInstant        time.Time
	subject             *etree.Element
	authn               bool // an AuthnStatement is present
	authnInstant        time.Time
	authnContext        string
	attributes          map[string][]string
}

// readFields reads the verified assertion a directly from its tree. It is
// the reader crewjam's saml.Assertion and encoding/xml used to be on this
// path, and at least as strict (TestReadFieldsDifferential holds it to
// them):
//   - every time attribute crewjam decodes is decoded by the same function
//     (saml.RelaxedTime, or time.Time for SubjectConfirmationData's
//     NotBefore), and a malformed one refuses the assertion;
//   - where encoding/xml matches an element by local name in any namespace
//     or an attribute by local name with any prefix, a namespace the SAML
//     schema does not allow there refuses the assertion instead of being
//     read;
//   - elements the schema allows once appear at most once.
//
// Text is an element's own character data (CDATA included, comments and
// child elements not), as encoding/xml's ",chardata" reads it.
func readFields(a *etree.Element) (assertionFields, error) {
	var f assertionFields
	if err := plainAttrs(a, "ID", "Version", "IssueInstant"); err != nil {
		return f, err
	}
	f.id, f.version = attr(a, "ID"), attr(a, "Version")
	var err error
	if f.issueInstant, err = relaxedTime(a, "IssueInstant"); err != nil {
		return f, err
	}
	var issuers, conditions int
	for _, c := range a.ChildElements() {
		ns := c.NamespaceURI()
		if ns == nsDSig && c.Tag == "Signature" {
			continue
		}
		if ns != NSAssertion {
			return f, reject("assertion child {%s}%s is not allowed there", ns, c.Tag)
		}
		switch c.Tag {
		case "Issuer":
			if issuers++; issuers > 1 {
				return f, reject("assertion with more than one Issuer")
			}
			f.issuer = strings.TrimSpace(charData(c))
		case "Subject":
			if f.subject != nil {
				return f, reject("assertion with more than one Subject")
			}
			f.subject = c
			if err := readSubject(c); err != nil {
				return f, err
			}
		case "Conditions":
			// readConditions reads them; crewjam decoded these two times too.
			if conditions++; conditions > 1 {
				return f, reject("assertion needs exactly one Conditions element")
			}
			if err := plainAttrs(c, "NotBefore", "NotOnOrAfter"); err != nil {
				return f, err
			}
			if _, err := relaxedTime(c, "NotBefore"); err != nil {
				return f, err
			}
			if _, err := relaxedTime(c, "NotOnOrAfter"); err != nil {
				return f, err
			}
			if err := readProxyRestrictions(c); err != nil {
				return f, err
			}
		case "AuthnStatement":
			instant, ctx, err := readAuthn(c)
			if err != nil {
				return f, err
			}
			if !f.authn {
				f.authn, f.authnInstant, f.authnContext = true, instant, ctx
			}
		case "AttributeStatement":
			if f.attributes == nil {
				f.attributes = map[string][]string{}
			}
			if err := readAttributes(c, f.attributes); err != nil {
				return f, err
			}
		}
	}
	if f.attributes == nil {
		f.attributes = map[string][]string{}
	}
	return f, nil
}

// readSubject checks the time attributes of the subject confirmations in
// subject s (readConfirmations reads their values).
func readSubject(s *etree.Element) error {
	for _, sc := range s.ChildElements() {
		if sc.NamespaceURI() != NSAssertion {
			return reject("Subject child {%s}%s is not allowed there", sc.NamespaceURI(), sc.Tag)
		}
		if sc.Tag != "SubjectConfirmation" {
			continue
		}
		if err := plainAttrs(sc, "Method"); err != nil {
			return err
		}
		datas := 0
		for _, d := range sc.ChildElements() {
			if d.NamespaceURI() != NSAssertion {
				return reject("SubjectConfirmation child {%s}%s is not allowed there", d.NamespaceURI(), d.Tag)
			}
			if d.Tag != "SubjectConfirmationData" {
				continue
			}
			if datas++; datas > 1 {
				return reject("SubjectConfirmation with more than one SubjectConfirmationData")
			}
			if err := plainAttrs(d, "NotBefore", "NotOnOrAfter", "Recipient", "InResponseTo"); err != nil {
				return err
			}
			if v, ok := soap.AttrNS(d, "", "NotBefore"); ok {
				var t time.Time
				if err := t.UnmarshalText([]byte(v)); err != nil {
					return reject("SubjectConfirmationData NotBefore %q: %v", v, err)
				}
			}
			if _, err := relaxedTime(d, "NotOnOrAfter"); err != nil {
				return err
			}
		}
	}
	return nil
}

// readProxyRestrictions checks what crewjam decoded of a ProxyRestriction
// in Conditions c: a child named Count must hold an integer.
func readProxyRestrictions(c *etree.Element) error {
	for _, pr := range children(c, NSAssertion, "ProxyRestriction") {
		for _, n := range pr.ChildElements() {
			if n.Tag != "Count" {
				continue
			}
			if s := strings.TrimSpace(charData(n)); s != "" {
				if _, err := strconv.ParseInt(s, 10, strconv.IntSize); err != nil {
					return reject("ProxyRestriction Count %q is not an integer", s)
				}
			}
		}
	}
	return nil
}

// readAuthn reads an AuthnStatement: its instant and class reference.
func readAuthn(st *etree.Element) (time.Time, string, error) {
	if err := plainAttrs(st, "AuthnInstant", "SessionNotOnOrAfter"); err != nil {
		return time.Time{}, "", err
	}
	instant, err := relaxedTime(st, "AuthnInstant")
	if err != nil {
		return time.Time{}, "", err
	}
	if _, err := relaxedTime(st, "SessionNotOnOrAfter"); err != nil {
		return time.Time{}, "", err
	}
	var ctx *etree.Element
	for _, c := range st.ChildElements() {
		if c.NamespaceURI() != NSAssertion {
			return time.Time{}, "", reject("AuthnStatement child {%s}%s is not allowed there", c.NamespaceURI(), c.Tag)
		}
		if c.Tag != "AuthnContext" {
			continue
		}
		if ctx != nil {
			return time.Time{}, "", reject("AuthnStatement with more than one AuthnContext")
		}
		ctx = c
	}
	if ctx == nil {
		return instant, "", nil
	}
	class, refs := "", 0
	for _, c := range ctx.ChildElements() {
		if c.NamespaceURI() != NSAssertion {
			return time.Time{}, "", reject("AuthnContext child {%s}%s is not allowed there", c.NamespaceURI(), c.Tag)
		}
		if c.Tag == "AuthnContextClassRef" {
			if refs++; refs > 1 {
				return time.Time{}, "", reject("AuthnContext with more than one AuthnContextClassRef")
			}
			class = strings.TrimSpace(charData(c))
		}
	}
	return instant, class, nil
}

// readAttributes adds the values of the attributes in statement st to out.
func readAttributes(st *etree.Element, out map[string][]string) error {
	for _, at := range st.ChildElements() {
		if at.NamespaceURI() != NSAssertion {
			return reject("AttributeStatement child {%s}%s is not allowed there", at.NamespaceURI(), at.Tag)
		}
		if at.Tag != "Attribute" {
			continue
		}
		if err := plainAttrs(at, "Name"); err != nil {
			return err
		}
		name := attr(at, "Name")
		for _, v := range at.ChildElements() {
			if v.NamespaceURI() != NSAssertion {
				return reject("Attribute child {%s}%s is not allowed there", v.NamespaceURI(), v.Tag)
			}
			if v.Tag == "AttributeValue" {
				out[name] = append(out[name], strings.TrimSpace(charData(v)))
			}
		}
	}
	return nil
}

// relaxedTime decodes el's attribute name as crewjam's RelaxedTime does;
// absent or empty is the zero time.
func relaxedTime(el *etree.Element, name string) (time.Time, error) {
	v, ok := soap.AttrNS(el, "", name)
	if !ok {
		return time.Time{}, nil
	}
	var t saml.RelaxedTime
	if err := t.UnmarshalText([]byte(v)); err != nil {
		return time.Time{}, reject("%s %s %q: %v", el.Tag, name, v, err)
	}
	return time.Time(t), nil
}

// plainAttrs refuses a qualified attribute (p:Name) with the local name of
// an unqualified one this reader takes from el: encoding/xml would have
// read either, whichever came last.
func plainAttrs(el *etree.Element, names ...string) error {
	for _, a := range el.Attr {
		if a.Space == "" || a.Space == "xmlns" {
			continue
		}
		for _, n := range names {
			if a.Key == n {
				return reject("%s has a qualified attribute %s:%s", el.Tag, a.Space, a.Key)
			}
		}
	}
	return nil
}

// charData is el's own character data, as encoding/xml's ",chardata".
func charData(el *etree.Element) string {
	var b strings.Builder
	for _, t := range el.Child {
		if cd, ok := t.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return b.String()
}
