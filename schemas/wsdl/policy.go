package wsdl

import (
	"encoding/xml"
	"slices"
	"strings"
)

// Namespaces of WS-Policy and WS-SecurityPolicy.
const (
	NSWSP15 = "http://www.w3.org/ns/ws-policy"
	NSWSP12 = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	NSSP11  = "http://schemas.xmlsoap.org/ws/2005/07/securitypolicy"
	NSSP12  = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"
	NSSP13  = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200802"
	nsWSU   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
)

func isWSP(ns string) bool { return ns == NSWSP15 || ns == NSWSP12 }
func isSP(ns string) bool  { return ns == NSSP11 || ns == NSSP12 || ns == NSSP13 }

// SecurityPolicy is the WS-SecurityPolicy an operation's request must meet:
// the policies attached (WS-PolicyAttachment) to the port, the binding, the
// binding operation and its input, normalized and merged, in the terms
// Gatehouse enforces. An assertion Gatehouse cannot enforce is an error of
// the loader naming it and its line, never dropped.
type SecurityPolicy struct {
	File string // where the first assertion is
	Line int
	// Binding is "TransportBinding" or "AsymmetricBinding" ("" for
	// neither: only supporting tokens or signed parts).
	Binding string
	// ClientCertificate: the transport token requires a client certificate.
	ClientCertificate bool
	// AlgorithmSuite is the suite's name (Basic256Sha256, …); SHA1 is set
	// for the suites that digest and sign with SHA-1, InclusiveC14N when the
	// suite asks for inclusive canonicalization.
	AlgorithmSuite string
	SHA1           bool
	InclusiveC14N  bool
	Layout         string // Strict, Lax, LaxTsFirst, LaxTsLast or ""
	Timestamp      bool   // IncludeTimestamp
	// OnlySignEntireHeadersAndBody is always met: Gatehouse accepts
	// signatures over whole header blocks and the Body only.
	OnlySignEntireHeadersAndBody bool
	SignBody                     bool
	SignedHeaders                []xml.Name
	// EncryptBody and EncryptedHeaders are EncryptedParts: each must
	// arrive XML-encrypted (the element the service gets is the one
	// decrypted).
	EncryptBody      bool
	EncryptedHeaders []xml.Name
	Tokens           []SupportingToken
	// Addressing: WS-Addressing is required (wsam:Addressing or
	// wsaw:UsingAddressing).
	Addressing bool
}

// SupportingToken is a token of a SupportingTokens assertion.
type SupportingToken struct {
	Kind      string // "SamlToken", "UsernameToken" or "X509Token"
	Signed    bool   // the message signature covers it
	Endorsing bool   // its key signs the message (its signature)
	// SAMLVersion is "2.0" or "1.1" for a SamlToken that names one.
	SAMLVersion string
}

// String is the policy in one line, for check-config and gatehouse wsdl.
func (p *SecurityPolicy) String() string {
	if p == nil {
		return "none"
	}
	var parts []string
	if p.Binding != "" {
		b := p.Binding
		if p.ClientCertificate {
			b += " (client certificate)"
		}
		parts = append(parts, b)
	}
	if p.AlgorithmSuite != "" {
		parts = append(parts, p.AlgorithmSuite)
	}
	if p.Layout != "" {
		parts = append(parts, "Layout "+p.Layout)
	}
	if p.Timestamp {
		parts = append(parts, "IncludeTimestamp")
	}
	var signed []string
	if p.SignBody {
		signed = append(signed, "Body")
	}
	for _, h := range p.SignedHeaders {
		signed = append(signed, "{"+h.Space+"}"+h.Local)
	}
	if len(signed) > 0 {
		parts = append(parts, "SignedParts "+strings.Join(signed, " "))
	}
	var encrypted []string
	if p.EncryptBody {
		encrypted = append(encrypted, "Body")
	}
	for _, h := range p.EncryptedHeaders {
		encrypted = append(encrypted, "{"+h.Space+"}"+h.Local)
	}
	if len(encrypted) > 0 {
		parts = append(parts, "EncryptedParts "+strings.Join(encrypted, " "))
	}
	for _, t := range p.Tokens {
		kind := "SupportingTokens"
		switch {
		case t.Signed && t.Endorsing:
			kind = "SignedEndorsingSupportingTokens"
		case t.Signed:
			kind = "SignedSupportingTokens"
		case t.Endorsing:
			kind = "EndorsingSupportingTokens"
		}
		tok := t.Kind
		if t.SAMLVersion != "" {
			tok += " " + t.SAMLVersion
		}
		parts = append(parts, kind+" "+tok)
	}
	if p.Addressing {
		parts = append(parts, "Addressing")
	}
	return strings.Join(parts, ", ")
}

// passertion is a policy assertion and the document it is in.
type passertion struct {
	doc  *document
	node *node
}

// attachedPolicy merges the policies attached to the subjects (nil ones
// are skipped), nil when there are none.
func (l *loader) attachedPolicy(subjects ...def) (*SecurityPolicy, error) {
	var as []passertion
	for _, s := range subjects {
		if s.node == nil {
			continue
		}
		for _, k := range s.node.kids {
			if !isWSP(k.name.Space) {
				continue
			}
			switch k.name.Local {
			case "Policy":
				sub, err := l.normalize(s.doc, k, 0)
				if err != nil {
					return nil, err
				}
				as = append(as, sub...)
			case "PolicyReference":
				sub, err := l.reference(s.doc, k, k.get("URI"), 0)
				if err != nil {
					return nil, err
				}
				as = append(as, sub...)
			}
		}
		for _, ns := range []string{NSWSP15, NSWSP12} {
			if uris, ok := s.node.getNS(ns, "PolicyURIs"); ok {
				for _, u := range strings.Fields(uris) {
					sub, err := l.reference(s.doc, s.node, u, 0)
					if err != nil {
						return nil, err
					}
					as = append(as, sub...)
				}
			}
		}
	}
	if len(as) == 0 {
		return nil, nil
	}
	p := &SecurityPolicy{File: as[0].doc.path, Line: as[0].node.line}
	for _, a := range as {
		if err := p.add(l, a); err != nil {
			return nil, err
		}
	}
	return p, nil
}

const maxPolicyDepth = 16

// reference resolves a policy reference ("#id", in the referring document
// or, failing that, in another document of the WSDL) to its assertions.
func (l *loader) reference(d *document, at *node, uri string, depth int) ([]passertion, error) {
	id, ok := strings.CutPrefix(strings.TrimSpace(uri), "#")
	if !ok || id == "" {
		return nil, d.errorf(at, "policy reference %q: only references to a policy in the WSDL (#id) are supported, never a fetch", uri)
	}
	if depth > maxPolicyDepth {
		return nil, d.errorf(at, "policy reference %q: references nested deeper than %d (a loop?)", uri, maxPolicyDepth)
	}
	docs := append([]*document{d}, l.docs...)
	for _, doc := range docs {
		if p := findPolicy(doc.root, id); p != nil {
			return l.normalize(doc, p, depth+1)
		}
	}
	return nil, d.errorf(at, "policy reference %q: no wsp:Policy with that wsu:Id", uri)
}

func findPolicy(n *node, id string) *node {
	if isWSP(n.name.Space) && n.name.Local == "Policy" {
		if v, ok := n.getNS(nsWSU, "Id"); (ok && v == id) || n.get("Id") == id || n.get("Name") == "#"+id {
			return n
		}
		if v, ok := n.getNS("http://www.w3.org/XML/1998/namespace", "id"); ok && v == id {
			return n
		}
	}
	for _, k := range n.kids {
		if p := findPolicy(k, id); p != nil {
			return p
		}
	}
	return nil
}

// normalize flattens a wsp:Policy (or wsp:All) into its assertions. An
// ExactlyOne must hold one alternative: Gatehouse enforces one policy, not
// a choice among several. Optional and ignorable assertions are not
// required, so they are left out.
func (l *loader) normalize(d *document, n *node, depth int) ([]passertion, error) {
	if depth > maxPolicyDepth {
		return nil, d.errorf(n, "policy nested deeper than %d", maxPolicyDepth)
	}
	var out []passertion
	for _, k := range n.kids {
		if isWSP(k.name.Space) {
			switch k.name.Local {
			case "Policy", "All":
				sub, err := l.normalize(d, k, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, sub...)
			case "ExactlyOne":
				if len(k.kids) != 1 {
					return nil, d.errorf(k, "wsp:ExactlyOne with %d alternatives: Gatehouse enforces one policy alternative; keep one", len(k.kids))
				}
				alt := k.kids[0]
				if isWSP(alt.name.Space) && (alt.name.Local == "All" || alt.name.Local == "Policy") {
					sub, err := l.normalize(d, alt, depth+1)
					if err != nil {
						return nil, err
					}
					out = append(out, sub...)
				} else {
					out = append(out, passertion{d, alt})
				}
			case "PolicyReference":
				sub, err := l.reference(d, k, k.get("URI"), depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, sub...)
			default:
				return nil, d.errorf(k, "unknown WS-Policy element wsp:%s", k.name.Local)
			}
			continue
		}
		if optional(k) {
			continue
		}
		out = append(out, passertion{d, k})
	}
	return out, nil
}

func optional(n *node) bool {
	for _, ns := range []string{NSWSP15, NSWSP12} {
		for _, attr := range []string{"Optional", "Ignorable"} {
			if v, ok := n.getNS(ns, attr); ok && (strings.TrimSpace(v) == "true" || strings.TrimSpace(v) == "1") {
				return true
			}
		}
	}
	return false
}

// nested returns the assertions of an assertion's nested wsp:Policy.
func (l *loader) nested(a passertion) ([]passertion, error) {
	var out []passertion
	for _, k := range a.node.kids {
		if isWSP(k.name.Space) && k.name.Local == "Policy" {
			sub, err := l.normalize(a.doc, k, 1)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

// cannot is the error for an assertion Gatehouse does not enforce.
func cannot(a passertion, why string) error {
	return a.doc.errorf(a.node, "policy assertion %s cannot be enforced: %s", assertionName(a.node), why)
}

func assertionName(n *node) string {
	if isSP(n.name.Space) {
		return "sp:" + n.name.Local
	}
	return "{" + n.name.Space + "}" + n.name.Local
}

// add reads one top-level assertion into p.
func (p *SecurityPolicy) add(l *loader, a passertion) error {
	n := a.node
	if (n.name.Space == NSWSAM && n.name.Local == "Addressing") || (n.name.Space == NSWSAW && n.name.Local == "UsingAddressing") {
		p.Addressing = true
		return nil
	}
	if !isSP(n.name.Space) {
		return cannot(a, "not a WS-SecurityPolicy or WS-Addressing assertion Gatehouse knows")
	}
	switch n.name.Local {
	case "TransportBinding", "AsymmetricBinding":
		if p.Binding != "" && p.Binding != n.name.Local {
			return cannot(a, "a second security binding besides "+p.Binding)
		}
		p.Binding = n.name.Local
		props, err := l.nested(a)
		if err != nil {
			return err
		}
		for _, q := range props {
			if err := p.bindingProperty(l, n.name.Local, q); err != nil {
				return err
			}
		}
		return nil
	case "SymmetricBinding":
		return cannot(a, "symmetric keys (derived or secure-conversation keys) are not supported; use AsymmetricBinding or TransportBinding")
	case "SignedParts":
		return p.signedParts(a)
	case "SupportingTokens", "SignedSupportingTokens", "EndorsingSupportingTokens", "SignedEndorsingSupportingTokens":
		signed := strings.HasPrefix(n.name.Local, "Signed")
		endorsing := strings.Contains(n.name.Local, "Endorsing")
		toks, err := l.nested(a)
		if err != nil {
			return err
		}
		for _, t := range toks {
			tok, err := supportingToken(l, t)
			if err != nil {
				return err
			}
			tok.Signed, tok.Endorsing = signed, endorsing
			p.Tokens = append(p.Tokens, tok)
		}
		return nil
	case "Wss10", "Wss11", "Trust10", "Trust13":
		return nil // capabilities of the message's security processing: Gatehouse has them
	case "EncryptedParts":
		return p.encryptedParts(a)
	case "EncryptedElements", "ContentEncryptedElements":
		return cannot(a, "XPath encrypted elements are not supported; use EncryptedParts")
	case "SignedElements":
		return cannot(a, "XPath signed elements are not supported; use SignedParts")
	}
	return cannot(a, "not supported")
}

func (p *SecurityPolicy) bindingProperty(l *loader, binding string, q passertion) error {
	n := q.node
	if !isSP(n.name.Space) {
		return cannot(q, "unknown in "+binding)
	}
	switch n.name.Local {
	case "AlgorithmSuite":
		return p.algorithmSuite(l, q)
	case "Layout":
		ls, err := l.nested(q)
		if err != nil {
			return err
		}
		if len(ls) != 1 || !isSP(ls[0].node.name.Space) || !slices.Contains([]string{"Strict", "Lax", "LaxTsFirst", "LaxTsLast"}, ls[0].node.name.Local) {
			return cannot(q, "a Layout names one of Strict, Lax, LaxTsFirst, LaxTsLast")
		}
		p.Layout = ls[0].node.name.Local
		return nil
	case "IncludeTimestamp":
		p.Timestamp = true
		return nil
	case "OnlySignEntireHeadersAndBody":
		p.OnlySignEntireHeadersAndBody = true
		return nil
	case "TransportToken":
		if binding != "TransportBinding" {
			return cannot(q, "a TransportToken belongs in a TransportBinding")
		}
		toks, err := l.nested(q)
		if err != nil {
			return err
		}
		for _, t := range toks {
			if !isSP(t.node.name.Space) || t.node.name.Local != "HttpsToken" {
				return cannot(t, "the transport token must be an HttpsToken")
			}
			if v := t.node.get("RequireClientCertificate"); v == "true" || v == "1" {
				p.ClientCertificate = true // SP 1.1
			}
			props, err := l.nested(t)
			if err != nil {
				return err
			}
			for _, hp := range props {
				switch hp.node.name.Local {
				case "RequireClientCertificate":
					p.ClientCertificate = true
				default:
					return cannot(hp, "HTTP authentication is not supported (mutual TLS is)")
				}
			}
		}
		return nil
	case "InitiatorToken", "InitiatorSignatureToken", "RecipientToken", "RecipientSignatureToken", "RecipientEncryptionToken":
		if binding != "AsymmetricBinding" {
			return cannot(q, "belongs in an AsymmetricBinding")
		}
		toks, err := l.nested(q)
		if err != nil {
			return err
		}
		if len(toks) != 1 || !isSP(toks[0].node.name.Space) || toks[0].node.name.Local != "X509Token" {
			return cannot(q, "the token must be one X509Token")
		}
		return x509Token(l, toks[0])
	case "ProtectTokens", "EncryptSignature", "EncryptBeforeSigning":
		return cannot(q, "XML Encryption and token protection are not supported yet")
	}
	return cannot(q, "not supported in "+binding)
}

func (p *SecurityPolicy) algorithmSuite(l *loader, q passertion) error {
	props, err := l.nested(q)
	if err != nil {
		return err
	}
	suites := map[string]bool{ // name → SHA-1
		"Basic256Sha256": false, "Basic192Sha256": false, "Basic128Sha256": false, "TripleDesSha256": false,
		"Basic256Sha256Rsa15": false, "Basic192Sha256Rsa15": false, "Basic128Sha256Rsa15": false, "TripleDesSha256Rsa15": false,
		"Basic256": true, "Basic192": true, "Basic128": true, "TripleDes": true,
		"Basic256Rsa15": true, "Basic192Rsa15": true, "Basic128Rsa15": true, "TripleDesRsa15": true,
	}
	for _, s := range props {
		name := s.node.name.Local
		if sha1, ok := suites[name]; ok && isSP(s.node.name.Space) {
			if p.AlgorithmSuite != "" && p.AlgorithmSuite != name {
				return cannot(s, "a second algorithm suite besides "+p.AlgorithmSuite)
			}
			p.AlgorithmSuite, p.SHA1 = name, sha1
			continue
		}
		switch name {
		case "InclusiveC14N":
			p.InclusiveC14N = true
		default:
			return cannot(s, "not a supported algorithm suite property")
		}
	}
	if p.AlgorithmSuite == "" {
		return cannot(q, "names no algorithm suite")
	}
	return nil
}

func (p *SecurityPolicy) signedParts(a passertion) error {
	body, headers, err := policyParts(a, "SignedParts", "signed", "every header")
	if err != nil {
		return err
	}
	p.SignBody = p.SignBody || body
	for _, h := range headers {
		if !slices.Contains(p.SignedHeaders, h) {
			p.SignedHeaders = append(p.SignedHeaders, h)
		}
	}
	return nil
}

func (p *SecurityPolicy) encryptedParts(a passertion) error {
	body, headers, err := policyParts(a, "EncryptedParts", "encrypted", "")
	if err != nil {
		return err
	}
	p.EncryptBody = p.EncryptBody || body
	for _, h := range headers {
		if !slices.Contains(p.EncryptedHeaders, h) {
			p.EncryptedHeaders = append(p.EncryptedHeaders, h)
		}
	}
	return nil
}

// policyParts reads the Body and Header children of a SignedParts or
// EncryptedParts assertion (what, how: "signed", "encrypted"). Without
// children it is refused: empty means "every header" for SignedParts
// (emptyMeans), which Gatehouse cannot hold a message to by identity.
func policyParts(a passertion, what, how, emptyMeans string) (body bool, headers []xml.Name, err error) {
	if len(a.node.kids) == 0 {
		if emptyMeans != "" {
			return false, nil, cannot(a, what+" without children means "+emptyMeans+": list the Body and the headers")
		}
		return false, nil, cannot(a, what+" without children: list the Body and the headers that must be "+how)
	}
	for _, k := range a.node.kids {
		if !isSP(k.name.Space) {
			return false, nil, cannot(passertion{a.doc, k}, "unknown in "+what)
		}
		switch k.name.Local {
		case "Body":
			body = true
		case "Header":
			name, ns := strings.TrimSpace(k.get("Name")), strings.TrimSpace(k.get("Namespace"))
			if name == "" || ns == "" {
				return false, nil, cannot(passertion{a.doc, k}, "a "+how+" Header needs Name and Namespace (every header of a namespace is not supported)")
			}
			headers = append(headers, xml.Name{Space: ns, Local: name})
		default:
			return false, nil, cannot(passertion{a.doc, k}, "not supported in "+what)
		}
	}
	return body, headers, nil
}

func x509Token(l *loader, t passertion) error {
	props, err := l.nested(t)
	if err != nil {
		return err
	}
	for _, q := range props {
		switch q.node.name.Local {
		case "WssX509V3Token10", "WssX509V3Token11", "RequireThumbprintReference", "RequireIssuerSerialReference",
			"RequireKeyIdentifierReference", "RequireEmbeddedTokenReference":
			// Gatehouse accepts an X.509 v3 certificate by each of these
			// references; the certificate is verified against the trust
			// store whichever names it.
		default:
			return cannot(q, "not a supported X509Token property")
		}
	}
	return nil
}

func supportingToken(l *loader, t passertion) (SupportingToken, error) {
	if !isSP(t.node.name.Space) {
		return SupportingToken{}, cannot(t, "not a supported supporting token")
	}
	tok := SupportingToken{Kind: t.node.name.Local}
	props, err := l.nested(t)
	if err != nil {
		return tok, err
	}
	switch tok.Kind {
	case "SamlToken":
		for _, q := range props {
			switch q.node.name.Local {
			case "WssSamlV20Token11":
				tok.SAMLVersion = "2.0"
			case "WssSamlV11Token10", "WssSamlV11Token11":
				tok.SAMLVersion = "1.1"
			case "RequireKeyIdentifierReference":
			default:
				return tok, cannot(q, "not a supported SamlToken property")
			}
		}
	case "UsernameToken":
		for _, q := range props {
			switch q.node.name.Local {
			case "WssUsernameToken10", "WssUsernameToken11":
			default:
				return tok, cannot(q, "not a supported UsernameToken property")
			}
		}
	case "X509Token":
		if err := x509Token(l, t); err != nil {
			return tok, err
		}
	default:
		return tok, cannot(t, "not a supported supporting token (SamlToken, UsernameToken and X509Token are)")
	}
	return tok, nil
}
