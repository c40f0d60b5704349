package samlsts

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	dsig "github.com/russellhaering/goxmldsig"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
	"github.com/gatehouse/gatehouse/soap/wssec"
)

func issued(t testing.TB, is *Issuer, r IssueRequest) string {
	t.Helper()
	el, err := is.Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	return serialize(t, el)
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	k := testKeys(t, now)
	for name, kp := range map[string]keyPair{"rsa": k.stsRSA, "ecdsa": k.stsEC} {
		t.Run(name, func(t *testing.T) {
			m := message(t, issued(t, issuer(kp), bearerRequest()), nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			p, key, err := verifier(k).Verify(m)
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != aliceNameID || p.Issuer != stsEntity || p.Confirmation != CMBearer ||
				len(p.Roles) != 1 || p.Roles[0] != "teller" || p.Attributes["racfUserId"][0] != "ALICE01" ||
				p.AuthnContext != AuthnPasswordProtectedTransport {
				t.Errorf("principal %+v", p)
			}
			if key == nil || key.Kind != "assertion" || key.TTL < 5*time.Minute {
				t.Errorf("bearer replay key %+v", key)
			}
		})
	}
}

// An assertion issued again from a verified principal (a hop assertion, a
// renewal) has the roles once: the principal holds them both as Roles and
// as the role attribute.
func TestReissueFromPrincipalKeepsRolesOnce(t *testing.T) {
	k := testKeys(t, now)
	verify := func(assertion string) *Principal {
		m := message(t, assertion, nil, false)
		m.Caller, m.CallerCert = consumerID, k.client.cert
		p, _, err := verifier(k).Verify(m)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := verify(issued(t, issuer(k.stsRSA), bearerRequest()))
	r := bearerRequest()
	r.Roles, r.Attributes = p.Roles, p.Attributes
	again := issued(t, issuer(k.stsRSA), r)
	if n := strings.Count(again, `Name="`+RoleAttribute+`"`); n != 1 {
		t.Errorf("%d role attributes in the re-issued assertion", n)
	}
	if p2 := verify(again); len(p2.Roles) != 1 || p2.Roles[0] != "teller" || p2.Attributes["racfUserId"][0] != "ALICE01" {
		t.Errorf("re-issued principal roles %v attributes %v", p2.Roles, p2.Attributes)
	}
}

// TestAssertionAttacks: each variant of a correctly issued bearer assertion
// must be refused.
func TestAssertionAttacks(t *testing.T) {
	k := testKeys(t, now)
	good := issued(t, issuer(k.stsRSA), bearerRequest())
	id := attrOf(t, good, "ID")
	// evil is an unsigned assertion for another subject.
	evil := func(id string) string {
		return `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id + `" Version="2.0" IssueInstant="2026-11-23T10:00:00Z"><saml:Issuer>` + stsEntity +
			`</saml:Issuer><saml:Subject><saml:NameID>admin@example.com</saml:NameID><saml:SubjectConfirmation Method="` + CMBearer +
			`"/></saml:Subject><saml:Conditions NotBefore="2026-11-23T09:00:00Z" NotOnOrAfter="2026-11-23T11:00:00Z"><saml:AudienceRestriction><saml:Audience>` +
			audience + `</saml:Audience></saml:AudienceRestriction></saml:Conditions>INNER</saml:Assertion>`
	}
	signature := good[strings.Index(good, "<ds:Signature") : strings.Index(good, "</ds:Signature>")+len("</ds:Signature>")]
	tests := []struct {
		name, assertion, want string
		parseFails            bool
	}{
		{"XSW1 evil assertion beside the signed one", good + strings.Replace(evil("_evil"), "INNER", "", 1), "InvalidSecurityToken", false},
		{"XSW2 evil assertion before the signed one", strings.Replace(evil("_evil"), "INNER", "", 1) + good, "InvalidSecurityToken", false},
		{"XSW3 evil assertion with the signed ID", strings.Replace(evil(id), "INNER", "", 1) + good, "", true},
		{"XSW4 evil assertion wrapping the signed one", strings.Replace(evil("_evil"), "INNER", good, 1), "InvalidSecurityToken", false},
		{"XSW5 signed assertion in the evil one's Advice", strings.Replace(evil("_evil"), "INNER", `<saml:Advice>`+good+`</saml:Advice>`, 1), "InvalidSecurityToken", false},
		{"XSW6 signed assertion in an Extensions-like element", strings.Replace(evil("_evil"), "INNER", `<x:Extensions xmlns:x="urn:x">`+good+`</x:Extensions>`, 1), "InvalidSecurityToken", false},
		{"XSW7 signature moved into the evil assertion", strings.Replace(evil("_evil"), "INNER", signature, 1), "InvalidSecurityToken", false},
		{"XSW8 signed assertion in the evil signature's Object", strings.Replace(evil("_evil"), "INNER", strings.Replace(signature, "</ds:Signature>", `<ds:Object>`+good+`</ds:Object></ds:Signature>`, 1), 1), "InvalidSecurityToken", false},
		{"unsigned assertion", strings.Replace(evil("_evil"), "INNER", "", 1), "InvalidSecurityToken", false},
		{"signature stripped", strings.Replace(good, signature, "", 1), "InvalidSecurityToken", false},
		{"assertion modified after signing", strings.Replace(good, "ALICE01", "ADMIN01", 1), "InvalidSecurityToken", false},
		{"subject changed after signing", strings.Replace(good, aliceNameID, "admin@example.com", 1), "InvalidSecurityToken", false},
		{"signed by an untrusted key embedded in KeyInfo", issued(t, issuer(k.rogue), bearerRequest()), "InvalidSecurityToken", false},
		{"untrusted issuer", issued(t, &Issuer{EntityID: "urn:evil", Key: k.stsRSA.key, Cert: k.stsRSA.cert, Clock: clock}, bearerRequest()), "InvalidSecurityToken", false},
		{"wrong audience", issuedWith(t, k, func(r *IssueRequest) { r.Audience = otherAud }), "InvalidSecurityToken", false},
		{"not yet valid", issuedAt(t, k, now.Add(10*time.Minute)), "InvalidSecurityToken", false},
		{"expired", issuedAt(t, k, now.Add(-time.Hour)), "MessageExpired", false},
		{"unsigned SAML 1.1 assertion", `<saml1:Assertion xmlns:saml1="urn:oasis:names:tc:SAML:1.0:assertion" AssertionID="_a" Issuer="` + stsEntity + `" MajorVersion="1" MinorVersion="1"/>`, "InvalidSecurityToken", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.parseFails {
				raw := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` + tt.assertion + `</wsse:Security></soap:Header><soap:Body/></soap:Envelope>`
				if _, err := soap.Parse([]byte(raw), soap.DefaultLimits()); err == nil {
					t.Fatal("parser accepted two elements with one ID")
				}
				return
			}
			m := message(t, tt.assertion, nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			p, _, err := verifier(k).Verify(m)
			if err == nil {
				t.Fatalf("accepted, principal %+v", p)
			}
			if got := faultCode(t, err); got != tt.want {
				t.Errorf("fault %s (%v), want %s", got, err, tt.want)
			}
		})
	}
}

func attrOf(t *testing.T, xml, name string) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil {
		t.Fatal(err)
	}
	return attr(doc.Root(), name)
}

func issuedWith(t *testing.T, k *keys, edit func(*IssueRequest)) string {
	r := bearerRequest()
	edit(&r)
	return issued(t, issuer(k.stsRSA), r)
}

func issuedAt(t *testing.T, k *keys, at time.Time) string {
	is := issuer(k.stsRSA)
	is.Clock = func() time.Time { return at }
	return issued(t, is, bearerRequest())
}

// TestCommentInNameID: a comment inside the signed NameID does not change
// the signature (C14N drops comments) and must not truncate the subject.
func TestCommentInNameID(t *testing.T) {
	k := testKeys(t, now)
	r := bearerRequest()
	r.Subject = "admin@example.com.evil.com"
	a := issued(t, issuer(k.stsRSA), r)
	a = mustReplace(t, a, "admin@example.com.evil.com", "admin@example.com<!---->.evil.com")
	m := message(t, a, nil, false)
	m.Caller, m.CallerCert = consumerID, k.client.cert
	p, _, err := verifier(k).Verify(m)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "admin@example.com.evil.com" {
		t.Errorf("subject %q: the comment truncated the NameID", p.Subject)
	}
}

// TestAudienceRestrictionsAreANDed: audiences in one restriction are an OR,
// several restrictions an AND (SAML 2.0 Core 2.5.1.4).
func TestAudienceRestrictionsAreANDed(t *testing.T) {
	k := testKeys(t, now)
	build := func(restrictions ...[]string) string {
		return issuedEdited(t, issuer(k.stsRSA), bearerRequest(), withAudienceRestrictions(restrictions...))
	}
	for _, tc := range []struct {
		name  string
		a     string
		valid bool
	}{
		{"one restriction, ours among several", build([]string{otherAud, audience}), true},
		{"two restrictions both naming us", build([]string{audience}, []string{otherAud, audience}), true},
		{"second restriction excludes us", build([]string{audience}, []string{otherAud}), false},
		{"no restriction", build(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := message(t, tc.a, nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			_, _, err := verifier(k).Verify(m)
			if (err == nil) != tc.valid {
				t.Errorf("err = %v, want valid=%v", err, tc.valid)
			}
		})
	}
}

func TestSubjectConfirmation(t *testing.T) {
	k := testKeys(t, now)
	hok := bearerRequest()
	hok.Method, hok.HolderKey = CMHolderOfKey, k.client.cert
	hokA := issued(t, issuer(k.stsRSA), hok)
	sv := bearerRequest()
	sv.Method = CMBearer // re-labelled below: the STS does not issue sender-vouches itself
	svEl, _ := issuer(k.stsRSA).build(sv)
	child(child(svEl, NSAssertion, "Subject"), NSAssertion, "SubjectConfirmation").CreateAttr("Method", CMSenderVouch)
	svSigned, err := issuer(k.stsRSA).sign(svEl)
	if err != nil {
		t.Fatal(err)
	}
	svA := serialize(t, svSigned)

	tests := []struct {
		name      string
		m         func() Message
		attesting []string
		ok        bool
	}{
		{"bearer without mTLS", func() Message { return message(t, issued(t, issuer(k.stsRSA), bearerRequest()), nil, false) }, nil, false},
		{"holder-of-key, message signed with the confirmed key", func() Message { return message(t, hokA, &k.client, false) }, nil, true},
		{"holder-of-key, message signed with another key", func() Message { return message(t, hokA, &k.edge, false) }, nil, false},
		{"holder-of-key, TLS client key is the confirmed key", func() Message {
			m := message(t, hokA, nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			return m
		}, nil, true},
		{"holder-of-key, unsigned, other TLS key", func() Message {
			m := message(t, hokA, nil, false)
			m.Caller, m.CallerCert = edgeID, k.edge.cert
			return m
		}, nil, false},
		{"sender-vouches from an attesting TLS caller", func() Message {
			m := message(t, svA, nil, false)
			m.Caller, m.CallerCert = edgeID, k.edge.cert
			return m
		}, []string{edgeID}, true},
		{"sender-vouches from an untrusted sender", func() Message {
			m := message(t, svA, nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			return m
		}, []string{edgeID}, false},
		{"sender-vouches signed by the attesting entity", func() Message { return message(t, svA, &k.edge, true) }, []string{edgeID}, true},
		{"sender-vouches signed by it, assertion not covered", func() Message { return message(t, svA, &k.edge, false) }, []string{edgeID}, false},
		// An attesting entity named by its certificate DN matches as a DN
		// (RFC 4514, any spelling), not as Go's rendering of it.
		{"sender-vouches signed by the attesting entity named by its DN", func() Message { return message(t, svA, &k.edge, true) }, []string{"cn = EDGE"}, true},
		{"sender-vouches signed by it, another DN is configured", func() Message { return message(t, svA, &k.edge, true) }, []string{"CN=edge,O=x"}, false},
		{"sender-vouches from a TLS caller named by its DN", func() Message {
			m := message(t, svA, nil, false)
			m.Caller, m.CallerCert = "CN=edge", k.edge.cert
			return m
		}, []string{"2.5.4.3=Edge"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verifier(k)
			v.AttestingEntities = tt.attesting
			p, key, err := v.Verify(tt.m())
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err == nil && p.Confirmation != CMBearer && key != nil {
				t.Errorf("%s assertion got a one-time replay key", p.Confirmation)
			}
		})
	}
}

func TestDelegationChain(t *testing.T) {
	k := testKeys(t, now)
	r := bearerRequest()
	r.Chain = []string{"spiffe://demo.gatehouse.internal/composite/open-account"}
	m := message(t, issued(t, issuer(k.stsEC), r), nil, false)
	m.Caller, m.CallerCert = consumerID, k.client.cert
	p, _, err := verifier(k).Verify(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Chain) != 1 || p.Chain[0] != r.Chain[0] || p.Subject != aliceNameID {
		t.Errorf("principal %+v", p)
	}
}

// TestSAML11: SAML 1.1 assertions from legacy consumers verify with the same
// rules: signature, audience, times, confirmation; tampering is refused.
func TestSAML11(t *testing.T) {
	k := testKeys(t, now)
	for name, kp := range map[string]keyPair{"rsa": k.stsRSA, "ecdsa": k.stsEC} {
		t.Run(name, func(t *testing.T) {
			el, err := issuer(kp).Issue11(bearerRequest())
			if err != nil {
				t.Fatal(err)
			}
			a := serialize(t, el)
			m := message(t, a, nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			p, key, err := verifier(k).Verify(m)
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != aliceNameID || p.Roles[0] != "teller" || p.Attributes["racfUserId"][0] != "ALICE01" || p.Confirmation != CMBearer || key == nil {
				t.Errorf("principal %+v", p)
			}
			for _, bad := range []string{
				strings.Replace(a, "ALICE01", "ADMIN01", 1),
				strings.Replace(a, audience, otherAud, 1),
			} {
				m := message(t, bad, nil, false)
				m.Caller, m.CallerCert = consumerID, k.client.cert
				if _, _, err := verifier(k).Verify(m); err == nil {
					t.Error("tampered SAML 1.1 assertion accepted")
				}
			}
			v := verifier(k)
			v.Audience = otherAud
			m = message(t, a, nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			if _, _, err := v.Verify(m); err == nil {
				t.Error("SAML 1.1 assertion accepted for another audience")
			}
		})
	}
	r := bearerRequest()
	r.Chain = []string{"spiffe://x/y"}
	if _, err := issuer(k.stsRSA).Issue11(r); err == nil {
		t.Error("SAML 1.1 issued with a delegation chain it cannot express")
	}
}

// issuedEdited issues r with edit applied to the assertion before signing.
func issuedEdited(t *testing.T, is *Issuer, r IssueRequest, edit func(a *etree.Element)) string {
	t.Helper()
	el, err := is.build(r)
	if err != nil {
		t.Fatal(err)
	}
	edit(el)
	signed, err := is.sign(el)
	if err != nil {
		t.Fatal(err)
	}
	return serialize(t, signed)
}

// withAudienceRestrictions replaces an assertion's AudienceRestrictions
// with one for each list of audiences.
func withAudienceRestrictions(restrictions ...[]string) func(a *etree.Element) {
	return func(a *etree.Element) {
		conds := child(a, NSAssertion, "Conditions")
		for _, ar := range children(conds, NSAssertion, "AudienceRestriction") {
			conds.RemoveChild(ar)
		}
		for _, auds := range restrictions {
			ar := conds.CreateElement("saml:AudienceRestriction")
			for _, au := range auds {
				ar.CreateElement("saml:Audience").SetText(au)
			}
		}
	}
}

// wantRefused fails unless err is an InvalidSecurityToken fault whose
// reason contains reason.
func wantRefused(t *testing.T, err error, reason string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), reason) || faultCode(t, err) != "InvalidSecurityToken" {
		t.Fatalf("err = %v, want InvalidSecurityToken with %q", err, reason)
	}
}

// confirmationData sets attributes (name, value pairs) on the
// SubjectConfirmationData of the n-th SubjectConfirmation, adding the
// element when there is none.
func confirmationData(a *etree.Element, n int, attrs ...string) {
	sc := children(child(a, NSAssertion, "Subject"), NSAssertion, "SubjectConfirmation")[n]
	data := child(sc, NSAssertion, "SubjectConfirmationData")
	if data == nil {
		data = sc.CreateElement("saml:SubjectConfirmationData")
	}
	for i := 0; i < len(attrs); i += 2 {
		data.CreateAttr(attrs[i], attrs[i+1])
	}
}

// TestConfirmationData: Recipient names this endpoint, InResponseTo is
// refused (every assertion is unsolicited), a bearer confirmation without
// Recipient is refused when the service requires one; each rule applies
// to one confirmation, not to the assertion.
func TestConfirmationData(t *testing.T) {
	k := testKeys(t, now)
	const here, elsewhere = "https://gatehouse.example:8443/accounts", "https://gatehouse.example:8443/payments"
	hok := bearerRequest()
	hok.Method, hok.HolderKey = CMHolderOfKey, k.client.cert
	withData := func(r IssueRequest, attrs ...string) string {
		return issuedEdited(t, issuer(k.stsRSA), r, func(a *etree.Element) { confirmationData(a, 0, attrs...) })
	}
	// A bearer confirmation for elsewhere, then a holder-of-key one for here.
	twoConfirmations := issuedEdited(t, issuer(k.stsRSA), hok, func(a *etree.Element) {
		subj := child(a, NSAssertion, "Subject")
		hokSC := child(subj, NSAssertion, "SubjectConfirmation")
		subj.RemoveChild(hokSC)
		subj.CreateElement("saml:SubjectConfirmation").CreateAttr("Method", CMBearer)
		subj.AddChild(hokSC)
		confirmationData(a, 0, "Recipient", elsewhere)
		confirmationData(a, 1, "Recipient", here)
	})
	requireRecipient := func(v *Verifier) { v.RequireRecipient = true }
	noRecipients := func(v *Verifier) { v.Recipients = nil }
	for _, tc := range []struct {
		name      string
		assertion string
		tweak     func(*Verifier)
		want      string // the satisfied confirmation, or
		wantErr   string // part of the reason
	}{
		{"bearer, Recipient is this endpoint", withData(bearerRequest(), "Recipient", here), nil, CMBearer, ""},
		{"bearer, Recipient with white space", withData(bearerRequest(), "Recipient", " "+here+"\n"), nil, CMBearer, ""},
		{"bearer, Recipient another endpoint", withData(bearerRequest(), "Recipient", elsewhere), nil, "",
			`bearer: SubjectConfirmationData Recipient "` + elsewhere + `" is not this endpoint (recipients: ` + here + `)`},
		{"bearer, Recipient differs in case", withData(bearerRequest(), "Recipient", strings.ToUpper(here)), nil, "", "is not this endpoint"},
		{"bearer, Recipient a prefix of this endpoint", withData(bearerRequest(), "Recipient", "https://gatehouse.example:8443/"), nil, "", "is not this endpoint"},
		{"bearer, Recipient and no recipient configured", withData(bearerRequest(), "Recipient", here), noRecipients, "", "(no recipient is configured)"},
		{"bearer, no Recipient", issued(t, issuer(k.stsRSA), bearerRequest()), nil, CMBearer, ""},
		{"bearer, no Recipient, required", issued(t, issuer(k.stsRSA), bearerRequest()), requireRecipient, "", "bearer confirmation without Recipient"},
		{"bearer, empty Recipient, required", withData(bearerRequest(), "Recipient", " "), requireRecipient, "", "bearer confirmation without Recipient"},
		{"bearer, Recipient, required", withData(bearerRequest(), "Recipient", here), requireRecipient, CMBearer, ""},
		{"holder-of-key, Recipient another endpoint", withData(hok, "Recipient", elsewhere), nil, "", "is not this endpoint"},
		{"holder-of-key, no Recipient, required for bearer only", issued(t, issuer(k.stsRSA), hok), requireRecipient, CMHolderOfKey, ""},
		{"bearer, InResponseTo", withData(bearerRequest(), "InResponseTo", "_req1"), nil, "", `InResponseTo "_req1": an unsolicited assertion is expected`},
		{"holder-of-key, InResponseTo", withData(hok, "InResponseTo", "_req1", "Recipient", here), nil, "", "InResponseTo"},
		{"bearer for elsewhere, holder-of-key for here", twoConfirmations, nil, CMHolderOfKey, ""},
		{"bearer for elsewhere, holder-of-key for here, holder-of-key not accepted", twoConfirmations,
			func(v *Verifier) { v.Methods = []string{CMBearer} }, "", "holder-of-key: not accepted by this service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verifier(k)
			v.Recipients = []string{here}
			if tc.tweak != nil {
				tc.tweak(v)
			}
			m := message(t, tc.assertion, nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			p, _, err := v.Verify(m)
			if tc.wantErr != "" {
				wantRefused(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Confirmation != tc.want {
				t.Errorf("confirmation %s, want %s", p.Confirmation, tc.want)
			}
		})
	}
}

// TestOneTimeUse: an assertion with OneTimeUse (SAML 1.1:
// DoNotCacheCondition) is single use whatever the confirmation method; a
// bearer assertion always is; others are not.
func TestOneTimeUse(t *testing.T) {
	k := testKeys(t, now)
	oneTime := func(a *etree.Element) { child(a, NSAssertion, "Conditions").CreateElement("saml:OneTimeUse") }
	hok := bearerRequest()
	hok.Method, hok.HolderKey = CMHolderOfKey, k.client.cert
	sv := func(a *etree.Element) {
		child(child(a, NSAssertion, "Subject"), NSAssertion, "SubjectConfirmation").CreateAttr("Method", CMSenderVouch)
	}
	// Issued so that it expires 100ms after now - skew: the TTL is then
	// below a second and raised to one.
	late := issuer(k.stsRSA)
	late.Clock = func() time.Time { return now.Add(-7*time.Minute + 100*time.Millisecond) }
	saml11 := func(r IssueRequest, doNotCache bool) string {
		el, err := issuer(k.stsRSA).Issue11(r)
		if err != nil {
			t.Fatal(err)
		}
		if doNotCache {
			// Re-sign with the condition in place.
			el.RemoveChild(child(el, nsDSig, "Signature"))
			child(el, NSAssertion1, "Conditions").CreateElement("saml1:DoNotCacheCondition")
			if err := wssec.SignEnveloped(el, "AssertionID", len(el.Child), k.stsRSA.key, k.stsRSA.cert, ""); err != nil {
				t.Fatal(err)
			}
		}
		return serialize(t, el)
	}
	full := 5*time.Minute + 2*time.Minute
	for _, tc := range []struct {
		name      string
		assertion string
		method    string
		signer    *keyPair // signs the message (holder-of-key, sender-vouches)
		ttl       time.Duration
	}{
		{"bearer", issued(t, issuer(k.stsRSA), bearerRequest()), CMBearer, nil, full},
		{"bearer with OneTimeUse", issuedEdited(t, issuer(k.stsRSA), bearerRequest(), oneTime), CMBearer, nil, full},
		{"holder-of-key", issued(t, issuer(k.stsRSA), hok), CMHolderOfKey, nil, 0},
		{"holder-of-key with OneTimeUse", issuedEdited(t, issuer(k.stsRSA), hok, oneTime), CMHolderOfKey, nil, full},
		{"holder-of-key with OneTimeUse, message signed", issuedEdited(t, issuer(k.stsRSA), hok, oneTime), CMHolderOfKey, &k.client, full},
		{"holder-of-key with OneTimeUse, about to expire", issuedEdited(t, late, hok, oneTime), CMHolderOfKey, nil, time.Second},
		{"sender-vouches", issuedEdited(t, issuer(k.stsRSA), bearerRequest(), sv), CMSenderVouch, &k.edge, 0},
		{"sender-vouches with OneTimeUse", issuedEdited(t, issuer(k.stsRSA), bearerRequest(), func(a *etree.Element) { sv(a); oneTime(a) }), CMSenderVouch, &k.edge, full},
		{"SAML 1.1 holder-of-key", saml11(hok, false), CMHolderOfKey, nil, 0},
		{"SAML 1.1 holder-of-key with DoNotCacheCondition", saml11(hok, true), CMHolderOfKey, nil, full},
		{"SAML 1.1 bearer", saml11(bearerRequest(), false), CMBearer, nil, full},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := verifier(k)
			v.AttestingEntities = []string{edgeID}
			v.Methods = []string{tc.method}
			m := message(t, tc.assertion, tc.signer, tc.signer != nil)
			if tc.signer == nil {
				m.Caller, m.CallerCert = consumerID, k.client.cert
			}
			p, key, err := v.Verify(m)
			if err != nil {
				t.Fatal(err)
			}
			if p.Confirmation != tc.method {
				t.Fatalf("confirmation %s, want %s", p.Confirmation, tc.method)
			}
			if tc.ttl == 0 {
				if key != nil {
					t.Errorf("replay key %+v; want none", key)
				}
				return
			}
			if key == nil || key.Kind != "assertion" || string(key.Value) != stsEntity+"\x00"+p.AssertionID || key.TTL != tc.ttl {
				t.Errorf("replay key %+v; want assertion %q for %s", key, stsEntity+"\x00"+p.AssertionID, tc.ttl)
			}
		})
	}
}

// TestVerifyLeavesElementUnchanged: Verify checks a copy of the assertion;
// the element in the message (which may be forwarded, logged or verified
// again) keeps its KeyInfo and SignatureValue.
func TestVerifyLeavesElementUnchanged(t *testing.T) {
	k := testKeys(t, now)
	hok := bearerRequest()
	hok.Method, hok.HolderKey = CMHolderOfKey, k.client.cert
	for _, tc := range []struct {
		name string
		kp   keyPair
		r    IssueRequest
		v11  bool
	}{
		{"rsa", k.stsRSA, bearerRequest(), false},
		{"ecdsa", k.stsEC, bearerRequest(), false},
		{"rsa holder-of-key", k.stsRSA, hok, false},
		{"rsa SAML 1.1", k.stsRSA, bearerRequest(), true},
		{"ecdsa SAML 1.1", k.stsEC, bearerRequest(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issue := issuer(tc.kp).Issue
			if tc.v11 {
				issue = issuer(tc.kp).Issue11
			}
			el, err := issue(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			m := message(t, serialize(t, el), nil, false)
			m.Caller, m.CallerCert = consumerID, k.client.cert
			in := m.Security.Assertions[0]
			before := serialize(t, in)
			if _, _, err := verifier(k).Verify(m); err != nil {
				t.Fatal(err)
			}
			if after := serialize(t, in); after != before {
				t.Errorf("Verify changed the element handed in:\nbefore %s\nafter  %s", before, after)
			}
			if _, _, err := verifier(k).Verify(m); err != nil {
				t.Errorf("the same element verified again: %v", err)
			}
		})
	}
}

// An assertion signed with inclusive C14N (allowed for assertions) is not
// in VerifyEnveloped's form: goxmldsig verifies it, and still refuses it
// when tampered with.
func TestInclusiveC14NAssertion(t *testing.T) {
	k := testKeys(t, now)
	is := issuer(k.stsRSA)
	el, err := is.build(bearerRequest())
	if err != nil {
		t.Fatal(err)
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{k.stsRSA.cert.Raw}, PrivateKey: k.stsRSA.key}))
	ctx.Canonicalizer = dsig.MakeC14N10RecCanonicalizer()
	ctx.IdAttribute = "ID"
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		t.Fatal(err)
	}
	a := serialize(t, signed)
	m := message(t, a, nil, false)
	ae := m.Security.Assertions[0]
	if _, err := wssec.VerifyEnveloped(ae, child(ae, nsDSig, "Signature"), k.stsRSA.cert, "ID", false); !errors.Is(err, wssec.ErrEnvelopedForm) {
		t.Fatalf("VerifyEnveloped: %v, want ErrEnvelopedForm", err)
	}
	got, err := verifier(k).VerifyAssertion(ae)
	if err != nil {
		t.Fatalf("inclusive C14N assertion refused: %v", err)
	}
	if got.Principal.Subject != aliceNameID {
		t.Errorf("subject %q", got.Principal.Subject)
	}
	tampered := mustReplace(t, a, "ALICE01", "ROOT01")
	_, err = verifier(k).VerifyAssertion(message(t, tampered, nil, false).Security.Assertions[0])
	wantRefused(t, err, "assertion signature")
}
