package samlsts

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

const compositeActor = "spiffe://demo.gatehouse.internal/composite/open-account"

var ctx = context.Background()

func testSTS(k *keys) *STS {
	dir := NewDirectory([]DirectoryEntry{
		{Identity: Identity{NameID: aliceNameID, Format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
			Roles: []string{"teller"}, Attributes: map[string][]string{"racfUserId": {"ALICE01"}}}, Username: "alice"},
		{Identity: Identity{NameID: consumerID, Roles: []string{"app"}}, Workload: consumerID},
		{Identity: Identity{NameID: compositeActor}, Workload: compositeActor},
	})
	tokens := verifier(k)
	tokens.Audience = ""
	return &STS{
		Issuer: issuer(k.stsRSA), Directory: dir, Tokens: tokens,
		KnownAudience: func(a string) bool { return a == audience || a == otherAud },
		// The composite may act at otherAud with tokens issued for audience.
		MayDelegate: func(actor, aud, token string) bool {
			return actor == compositeActor && aud == otherAud && token == audience
		},
		Lifetime: 5 * time.Minute, MaxLifetime: time.Hour,
		AllowUsernameToken: true, AllowCertificate: true,
	}
}

// rst builds a RequestSecurityToken; extra is inserted verbatim.
func rst(t *testing.T, reqType, appliesTo, extra string) *etree.Element {
	t.Helper()
	x := `<wst:RequestSecurityToken xmlns:wst="` + NSTrust + `" xmlns:wsp="` + NSPolicy + `" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wst14="` + NSTrust14 + `">` +
		`<wst:RequestType>` + reqType + `</wst:RequestType>`
	if appliesTo != "" {
		x += `<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>` + appliesTo + `</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`
	}
	x += extra + `</wst:RequestSecurityToken>`
	doc := etree.NewDocument()
	if err := doc.ReadFromString(x); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

// issuedAssertion takes the assertion out of an RSTRC.
func issuedAssertion(t *testing.T, resp *etree.Element) string {
	t.Helper()
	r := child(resp, NSTrust, "RequestSecurityTokenResponse")
	if resp.Tag == "RequestSecurityTokenResponse" { // Renew answers with the RSTR alone
		r = resp
	}
	a := child(child(r, NSTrust, "RequestedSecurityToken"), NSAssertion, "Assertion")
	if a == nil {
		t.Fatalf("no assertion in response %s", serialize(t, resp))
	}
	return serialize(t, a)
}

func verifyFor(t *testing.T, k *keys, aud, assertion string, tlsCert *x509.Certificate) (*Principal, error) {
	t.Helper()
	v := verifier(k)
	v.Audience = aud
	m := message(t, assertion, nil, false)
	m.Caller, m.CallerCert = consumerID, tlsCert
	p, _, err := v.Verify(m)
	return p, err
}

func TestSTSIssue(t *testing.T) {
	k := testKeys(t, now)
	s := testSTS(k)
	t.Run("username token requester", func(t *testing.T) {
		resp, out, err := s.Handle(ctx, rst(t, RequestIssue, audience, ""), Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert})
		if err != nil {
			t.Fatal(err)
		}
		p, err := verifyFor(t, k, audience, issuedAssertion(t, resp), k.client.cert)
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != aliceNameID || p.Roles[0] != "teller" || p.AuthnContext != AuthnPasswordProtectedTransport || out.Subject != aliceNameID {
			t.Errorf("principal %+v outcome %+v", p, out)
		}
		if _, err := verifyFor(t, k, otherAud, issuedAssertion(t, resp), k.client.cert); err == nil {
			t.Error("token for one audience accepted for another")
		}
	})
	t.Run("SAML 1.1 token", func(t *testing.T) {
		resp, out, err := s.Handle(ctx, rst(t, RequestIssue, audience, `<wst:TokenType>`+TokenSAML11+`</wst:TokenType>`), Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert})
		if err != nil {
			t.Fatal(err)
		}
		r := child(resp, NSTrust, "RequestSecurityTokenResponse")
		a := child(child(r, NSTrust, "RequestedSecurityToken"), NSAssertion1, "Assertion")
		if a == nil || text(child(r, NSTrust, "TokenType")) != TokenSAML11 || out.AssertionID == "" {
			t.Fatalf("response %s", serialize(t, resp))
		}
		p, err := verifyFor(t, k, audience, serialize(t, a), k.client.cert)
		if err != nil || p.Subject != aliceNameID {
			t.Fatalf("%v %+v", err, p)
		}
	})
	t.Run("certificate requester", func(t *testing.T) {
		resp, _, err := s.Handle(ctx, rst(t, RequestIssue, audience, ""), Requester{Workload: consumerID, Certificate: k.client.cert})
		if err != nil {
			t.Fatal(err)
		}
		p, err := verifyFor(t, k, audience, issuedAssertion(t, resp), k.client.cert)
		if err != nil || p.Subject != consumerID || p.AuthnContext != AuthnTLSClient {
			t.Fatalf("%v %+v", err, p)
		}
	})
	t.Run("holder of key bound to the TLS certificate", func(t *testing.T) {
		resp, _, err := s.Handle(ctx, rst(t, RequestIssue, audience, `<wst:KeyType>`+KeyTypePublic+`</wst:KeyType>`), Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert})
		if err != nil {
			t.Fatal(err)
		}
		a := issuedAssertion(t, resp)
		p, err := verifyFor(t, k, audience, a, k.client.cert)
		if err != nil || p.Confirmation != CMHolderOfKey {
			t.Fatalf("%v %+v", err, p)
		}
		if _, err := verifyFor(t, k, audience, a, k.edge.cert); err == nil {
			t.Error("holder-of-key token accepted from another key")
		}
	})
	t.Run("UseKey without proof of possession", func(t *testing.T) {
		use := `<wst:KeyType>` + KeyTypePublic + `</wst:KeyType><wst:UseKey><ds:KeyInfo xmlns:ds="` + nsDSig + `"><ds:X509Data><ds:X509Certificate>` +
			base64.StdEncoding.EncodeToString(k.edge.cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></wst:UseKey>`
		_, _, err := s.Handle(ctx, rst(t, RequestIssue, audience, use), Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert})
		if err == nil || faultCode(t, err) != "FailedAuthentication" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSTSDelegation(t *testing.T) {
	k := testKeys(t, now)
	s := testSTS(k)
	first, _, err := s.Handle(ctx, rst(t, RequestIssue, audience, ""), Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert})
	if err != nil {
		t.Fatal(err)
	}
	inner := issuedAssertion(t, first)
	actAs := func(a string) string { return `<wst14:ActAs>` + a + `</wst14:ActAs>` }

	resp, out, err := s.Handle(ctx, rst(t, RequestIssue, otherAud, actAs(inner)), Requester{Workload: compositeActor})
	if err != nil {
		t.Fatal(err)
	}
	p, err := verifyFor(t, k, otherAud, issuedAssertion(t, resp), k.client.cert)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != aliceNameID || len(p.Chain) != 1 || p.Chain[0] != compositeActor || len(out.Chain) != 1 {
		t.Errorf("delegated principal %+v", p)
	}

	// restricted is alice's token from the STS with these AudienceRestrictions.
	restricted := func(restrictions ...[]string) string {
		return issuedEdited(t, s.Issuer, bearerRequest(), withAudienceRestrictions(restrictions...))
	}
	for _, tc := range []struct {
		name, token string
		ok          bool
		wantErr     string
	}{
		{"token for the actor's service among others", restricted([]string{otherAud, audience}), true, ""},
		{"token for the actor's service in every restriction", restricted([]string{audience}, []string{otherAud, audience}), true, ""},
		{"token issued for the target audience", restricted([]string{otherAud}), false,
			`may not act for others at "` + otherAud + `" with a token issued for ["` + otherAud + `"]`},
		{"token issued for another service", restricted([]string{"urn:gatehouse:service:orders"}), false, "with a token issued for"},
		{"restrictions that no audience meets", restricted([]string{audience}, []string{otherAud}), false, "with a token issued for no audience"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _, err := s.Handle(ctx, rst(t, RequestIssue, otherAud, actAs(tc.token)), Requester{Workload: compositeActor})
			if !tc.ok {
				if err == nil || faultCode(t, err) != "InvalidRequest" || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want InvalidRequest with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p, err := verifyFor(t, k, otherAud, issuedAssertion(t, resp), k.client.cert); err != nil || p.Subject != aliceNameID {
				t.Fatalf("%v %+v", err, p)
			}
		})
	}

	for _, tc := range []struct {
		name, audience, token string
		who                   Requester
		want                  string
	}{
		{"actor not allowed for that audience", audience, actAs(inner), Requester{Workload: compositeActor}, "InvalidRequest"},
		{"requester may not delegate", otherAud, actAs(inner), Requester{Workload: consumerID, Certificate: k.client.cert}, "InvalidRequest"},
		{"forged inner assertion", otherAud, actAs(issued(t, issuer(k.rogue), bearerRequest())), Requester{Workload: compositeActor}, "InvalidRequest"},
		{"expired inner assertion", otherAud, actAs(issuedAt(t, k, now.Add(-2*time.Hour))), Requester{Workload: compositeActor}, "InvalidRequest"},
		{"tampered inner assertion", otherAud, actAs(strings.Replace(inner, aliceNameID, "admin@example.com", 1)), Requester{Workload: compositeActor}, "InvalidRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.Handle(ctx, rst(t, RequestIssue, tc.audience, tc.token), tc.who)
			if err == nil || faultCode(t, err) != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestSTSRefusals(t *testing.T) {
	k := testKeys(t, now)
	s := testSTS(k)
	alice := Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert}
	for _, tc := range []struct {
		name string
		rst  *etree.Element
		who  Requester
		want string
	}{
		{"unknown AppliesTo", rst(t, RequestIssue, "urn:elsewhere", ""), alice, "InvalidScope"},
		{"no AppliesTo", rst(t, RequestIssue, "", ""), alice, "InvalidScope"},
		{"unknown user", rst(t, RequestIssue, audience, ""), Requester{Username: "mallory"}, "FailedAuthentication"},
		{"unknown workload", rst(t, RequestIssue, audience, ""), Requester{Workload: "spiffe://x/y"}, "FailedAuthentication"},
		{"symmetric key", rst(t, RequestIssue, audience, `<wst:KeyType>`+NSTrust+`/SymmetricKey</wst:KeyType>`), alice, "BadRequest"},
		{"unknown token type", rst(t, RequestIssue, audience, `<wst:TokenType>urn:x-token</wst:TokenType>`), alice, "BadRequest"},
		{"cancel", rst(t, RequestCancel, "", ""), alice, "InvalidRequest"},
		{"garbage request type", rst(t, "urn:x", audience, ""), alice, "InvalidRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.Handle(ctx, tc.rst, tc.who)
			if err == nil || faultCode(t, err) != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestSTSValidateAndRenew(t *testing.T) {
	k := testKeys(t, now)
	s := testSTS(k)
	alice := Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert}
	resp, _, err := s.Handle(ctx, rst(t, RequestIssue, audience, ""), alice)
	if err != nil {
		t.Fatal(err)
	}
	a := issuedAssertion(t, resp)
	status := func(token string) string {
		r, _, err := s.Handle(ctx, rst(t, RequestValidate, "", `<wst:ValidateTarget>`+token+`</wst:ValidateTarget>`), alice)
		if err != nil {
			t.Fatal(err)
		}
		return text(child(child(r, NSTrust, "Status"), NSTrust, "Code"))
	}
	if got := status(a); got != StatusValid {
		t.Errorf("valid token: %s", got)
	}
	if got := status(strings.Replace(a, "ALICE01", "ADMIN01", 1)); got != StatusInvalid {
		t.Errorf("tampered token: %s", got)
	}

	old := issuedAt(t, k, now.Add(-10*time.Minute)) // expired 5 minutes ago
	r, out, err := s.Handle(ctx, rst(t, RequestRenew, "", `<wst:RenewTarget>`+old+`</wst:RenewTarget>`), alice)
	if err != nil {
		t.Fatal(err)
	}
	p, err := verifyFor(t, k, audience, issuedAssertion(t, r), k.client.cert)
	if err != nil || p.Subject != aliceNameID || out.Audience != audience {
		t.Fatalf("renewed: %v %+v %+v", err, p, out)
	}
	_, _, err = s.Handle(ctx, rst(t, RequestRenew, "", `<wst:RenewTarget>`+old+`</wst:RenewTarget>`), Requester{Workload: consumerID, Certificate: k.client.cert})
	if err == nil || faultCode(t, err) != "UnableToRenew" {
		t.Errorf("renewal by someone else: %v", err)
	}
}

func TestMetadata(t *testing.T) {
	k := testKeys(t, now)
	md, err := Metadata(stsEntity, []*x509.Certificate{k.stsRSA.cert, k.stsEC.cert}, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s := string(md)
	if !strings.Contains(s, `entityID="`+stsEntity+`"`) || strings.Count(s, "</X509Certificate>") != 2 || !strings.Contains(s, `validUntil="2026-11-24T10:00:00`) ||
		!strings.Contains(s, base64.StdEncoding.EncodeToString(k.stsEC.cert.Raw)) {
		t.Errorf("metadata:\n%s", s)
	}
}
