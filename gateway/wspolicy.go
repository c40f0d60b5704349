package gateway

import (
	"fmt"
	"slices"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/schemas/wsdl"
	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
	"github.com/gatehouse/gatehouse/soap/xmlenc"
)

const nsDSig = "http://www.w3.org/2000/09/xmldsig#"

// checkAddressingPolicy enforces a WS-Addressing assertion of an
// operation's policy: the request carries wsa:Action, and wsa:MessageID
// when the operation answers (WS-Addressing 1.0 SOAP binding).
func checkAddressingPolicy(op *wsdl.Operation, a soap.Addressing) error {
	if op == nil || op.Policy == nil || !op.Policy.Addressing {
		return nil
	}
	switch {
	case a.Action == "":
		return soap.SenderFault("WS-Addressing required", fmt.Errorf("operation %s's policy requires WS-Addressing: no wsa:Action", op.Name))
	case op.Output != nil && a.MessageID == "":
		return soap.SenderFault("WS-Addressing required", fmt.Errorf("operation %s's policy requires WS-Addressing: no wsa:MessageID", op.Name))
	}
	return nil
}

// checkSecurityPolicy holds a verified Security header to the operation's
// WS-SecurityPolicy (what the WSDL attaches to its request): the
// signature of an asymmetric binding by the message's signer, over the
// Timestamp it includes, the signed parts, the supporting tokens (present,
// covered by the signer's signature when signed, their key signing when
// endorsing) and the layout. The tokens themselves were verified before
// (wssec, samlsts); this checks that the message has the shape the policy
// asks for. A violation is wsse:InvalidSecurity.
func checkSecurityPolicy(op *wsdl.Operation, env *soap.Envelope, v *wssec.Verified, dec *xmlenc.Decrypted) error {
	if op == nil || op.Policy == nil {
		return nil
	}
	p := op.Policy
	fail := func(format string, args ...any) error {
		return soap.SecurityFault(soap.FaultInvalidSecurity, "security error in the message",
			fmt.Errorf("operation %s, policy at %s:%d: %s", op.Name, p.File, p.Line, fmt.Sprintf(format, args...)))
	}
	// EncryptedParts, by identity: what the service gets is what was
	// decrypted.
	if p.EncryptBody {
		if dec == nil || !dec.Body {
			return fail("the Body did not arrive encrypted (EncryptedParts)")
		}
		for _, el := range env.Body.ChildElements() {
			if !slices.Contains(dec.Elements, el) {
				return fail("Body content {%s}%s did not arrive encrypted (EncryptedParts)", el.NamespaceURI(), el.Tag)
			}
		}
	}
	for _, h := range p.EncryptedHeaders {
		for _, b := range env.HeaderBlocks() {
			if b.Tag == h.Local && b.NamespaceURI() == h.Space && (dec == nil || !slices.Contains(dec.Headers, b)) {
				return fail("header {%s}%s did not arrive encrypted (EncryptedParts)", h.Space, h.Local)
			}
		}
	}
	if v == nil || v.Security == nil {
		if p.Binding == "AsymmetricBinding" || p.Timestamp || p.SignBody || len(p.SignedHeaders) > 0 || len(p.Tokens) > 0 {
			return fail("no Security header")
		}
		return nil
	}
	signer := v.Signer
	needSigner := p.Binding == "AsymmetricBinding" || p.SignBody || len(p.SignedHeaders) > 0
	for _, t := range p.Tokens {
		needSigner = needSigner || t.Signed || t.Kind == "X509Token"
	}
	if needSigner && signer == nil {
		return fail("no signature over the Body by a trusted key")
	}
	if p.Timestamp {
		if v.Timestamp == nil {
			return fail("no Timestamp (IncludeTimestamp)")
		}
		if p.Binding == "AsymmetricBinding" && signer.Timestamp == nil {
			return fail("the message signature does not cover the Timestamp")
		}
	}
	for _, h := range p.SignedHeaders {
		for _, b := range env.HeaderBlocks() {
			if b.Tag == h.Local && b.NamespaceURI() == h.Space && !signer.Covers(b) {
				return fail("header {%s}%s is not covered by the message signature", h.Space, h.Local)
			}
		}
	}
	for _, t := range p.Tokens {
		if err := supportingTokenPresent(t, v, fail); err != nil {
			return err
		}
	}
	return checkLayout(p.Layout, v, fail)
}

func supportingTokenPresent(t wsdl.SupportingToken, v *wssec.Verified, fail func(string, ...any) error) error {
	switch t.Kind {
	case "SamlToken":
		if len(v.Assertions) == 0 {
			return fail("no SAML assertion (%s)", t.Kind)
		}
		for _, a := range v.Assertions {
			endorses := false
			for _, s := range v.Signatures {
				endorses = endorses || s.Token == a
			}
			switch {
			case t.Endorsing && !endorses:
				return fail("the SAML assertion's key does not sign the message (endorsing supporting token)")
			case t.Signed && !endorses && !v.Signer.Covers(a):
				return fail("the SAML assertion is not covered by the message signature (signed supporting token)")
			}
		}
	case "UsernameToken":
		if v.UsernameToken == nil {
			return fail("no UsernameToken")
		}
		if t.Signed && !v.Signer.Covers(v.UsernameToken.Element) {
			return fail("the UsernameToken is not covered by the message signature (signed supporting token)")
		}
	case "X509Token":
		if t.Endorsing {
			endorsed := false
			for _, s := range v.Signatures {
				endorsed = endorsed || (s != v.Signer && s.Covers(v.Signer.Element))
			}
			if !endorsed {
				return fail("no second signature endorsing the message signature (endorsing X509Token)")
			}
		}
	}
	return nil
}

// checkLayout checks the order of the Security header's children (WS-SP
// 1.2 section 7.7): LaxTsFirst and LaxTsLast put the Timestamp first or
// last; Strict puts it first and every token before a signature that
// could use it.
func checkLayout(layout string, v *wssec.Verified, fail func(string, ...any) error) error {
	kids := v.Security.ChildElements()
	var ts *etree.Element
	if v.Timestamp != nil {
		ts = v.Timestamp.Element
	}
	switch layout {
	case "", "Lax":
		return nil
	case "LaxTsFirst":
		if ts != nil && kids[0] != ts {
			return fail("Layout LaxTsFirst: the Timestamp is not the first child of the Security header")
		}
	case "LaxTsLast":
		if ts != nil && kids[len(kids)-1] != ts {
			return fail("Layout LaxTsLast: the Timestamp is not the last child of the Security header")
		}
	case "Strict":
		if ts != nil && kids[0] != ts {
			return fail("Layout Strict: the Timestamp is not the first child of the Security header")
		}
		signature := false
		for _, k := range kids {
			if k.Tag == "Signature" && k.NamespaceURI() == nsDSig {
				signature = true
				continue
			}
			if signature && k != ts && (k.Tag == "BinarySecurityToken" || k.Tag == "UsernameToken" || k.Tag == "Assertion") {
				return fail("Layout Strict: token %s follows a signature (declare before use)", k.Tag)
			}
		}
	}
	return nil
}
