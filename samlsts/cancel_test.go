package samlsts

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/soap"
)

// mapTokens is a TokenStore in a map (the gateway's shared store has its
// own conformance suite).
type mapTokens struct {
	mu   sync.Mutex
	m    map[string]IssuedToken
	fail error
}

func (s *mapTokens) Record(_ context.Context, t IssuedToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if s.m == nil {
		s.m = map[string]IssuedToken{}
	}
	s.m[t.Issuer+"\x00"+t.ID] = t
	return nil
}

func (s *mapTokens) Lookup(_ context.Context, issuer, id string) (IssuedToken, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return IssuedToken{}, false, s.fail
	}
	t, ok := s.m[issuer+"\x00"+id]
	return t, ok, nil
}

func (s *mapTokens) Cancel(_ context.Context, issuer, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[issuer+"\x00"+id]
	if ok {
		t.Cancelled = true
		s.m[issuer+"\x00"+id] = t
	}
	return ok, nil
}

func cancelRST(t *testing.T, target string) string {
	t.Helper()
	return `<wst:CancelTarget>` + target + `</wst:CancelTarget>`
}

func samlIDRef(id string) string {
	return `<wsse:SecurityTokenReference xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
		`<wsse:KeyIdentifier ValueType="` + valueTypeSAMLID + `">` + id + `</wsse:KeyIdentifier></wsse:SecurityTokenReference>`
}

// TestSTSCancel: who may cancel, what a cancellation refuses (Validate,
// Renew, ActAs), and that issuing fails closed when the record cannot be
// written.
func TestSTSCancel(t *testing.T) {
	k := testKeys(t, now)
	s := testSTS(k)
	st := &mapTokens{}
	s.Store, s.Retention = st, time.Hour
	alice := Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert}
	issueOne := func() (string, string) {
		resp, out, err := s.Handle(ctx, rst(t, RequestIssue, audience, ""), alice)
		if err != nil {
			t.Fatal(err)
		}
		rec, ok, _ := st.Lookup(ctx, stsEntity, out.AssertionID)
		if !ok || rec.Owner != "user:alice" || rec.Workload != consumerID || rec.Subject != aliceNameID ||
			!rec.Expires.Equal(now.Add(5*time.Minute)) || !rec.KeepUntil.Equal(now.Add(65*time.Minute)) {
			t.Fatalf("record %+v, %v", rec, ok)
		}
		return issuedAssertion(t, resp), out.AssertionID
	}

	a, id := issueOne()
	// Another workload that did not obtain it may not cancel it.
	_, _, err := s.Handle(ctx, rst(t, RequestCancel, "", cancelRST(t, samlIDRef(id))), Requester{Workload: compositeActor})
	if err == nil || faultCode(t, err) != "InvalidRequest" || !strings.Contains(err.Error(), "neither obtained") {
		t.Fatalf("cancel by another workload: %v", err)
	}
	if rec, _, _ := st.Lookup(ctx, stsEntity, id); rec.Cancelled {
		t.Fatal("refused cancel cancelled the token")
	}
	// The same workload may (here without the user's UsernameToken).
	resp, out, err := s.Handle(ctx, rst(t, RequestCancel, "", cancelRST(t, samlIDRef(id))), Requester{Workload: consumerID})
	if err != nil || child(resp, NSTrust, "RequestedTokenCancelled") == nil || out.AssertionID != id || out.Subject != aliceNameID {
		t.Fatalf("cancel by the same workload: %v %+v", err, out)
	}
	validate := func(tok string) string {
		r, _, err := s.Handle(ctx, rst(t, RequestValidate, "", `<wst:ValidateTarget>`+tok+`</wst:ValidateTarget>`), alice)
		if err != nil {
			t.Fatal(err)
		}
		return text(child(child(r, NSTrust, "Status"), NSTrust, "Reason"))
	}
	if got := validate(a); got != "the token was cancelled" {
		t.Errorf("Validate of a cancelled token: %q", got)
	}
	if _, _, err := s.Handle(ctx, rst(t, RequestRenew, "", `<wst:RenewTarget>`+a+`</wst:RenewTarget>`), alice); err == nil || faultCode(t, err) != "UnableToRenew" {
		t.Errorf("Renew of a cancelled token: %v", err)
	}

	// The user who obtained a token may cancel it from anywhere, with the
	// assertion itself as CancelTarget.
	b, idB := issueOne()
	if _, _, err := s.Handle(ctx, rst(t, RequestCancel, "", cancelRST(t, b)), Requester{Username: "alice"}); err != nil {
		t.Fatalf("cancel by the owner: %v", err)
	}
	// A cancelled token is no ActAs token.
	if _, _, err := s.Handle(ctx, rst(t, RequestIssue, otherAud, `<wst14:ActAs>`+b+`</wst14:ActAs>`), Requester{Workload: compositeActor}); err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("ActAs with a cancelled token (%s): %v", idB, err)
	}
	// A tampered assertion or an unknown ID cannot be cancelled.
	if _, _, err := s.Handle(ctx, rst(t, RequestCancel, "", cancelRST(t, strings.Replace(b, "ALICE01", "ADMIN01", 1))), Requester{Username: "alice"}); err == nil {
		t.Error("cancel of a tampered assertion succeeded")
	}
	if _, _, err := s.Handle(ctx, rst(t, RequestCancel, "", cancelRST(t, samlIDRef("_unknown"))), Requester{Username: "alice"}); err == nil || !strings.Contains(err.Error(), "no record") {
		t.Errorf("cancel of an unknown id: %v", err)
	}

	// Issuing fails closed when the record cannot be written: such a token
	// could not be cancelled.
	st.fail = errors.New("store down")
	if _, _, err := s.Handle(ctx, rst(t, RequestIssue, audience, ""), alice); err == nil || !strings.Contains(err.Error(), "record issued token") {
		t.Errorf("issue with the store down: %v", err)
	}
	if got := validateErr(t, s, a, alice); got == nil {
		t.Error("Validate with the store down answered")
	}
}

func validateErr(t *testing.T, s *STS, tok string, who Requester) error {
	t.Helper()
	_, _, err := s.Handle(ctx, rst(t, RequestValidate, "", `<wst:ValidateTarget>`+tok+`</wst:ValidateTarget>`), who)
	return err
}

// TestSTSRequestShapes: what WSS4J/CXF-style requests may hold and what is
// refused, at the STS itself.
func TestSTSRequestShapes(t *testing.T) {
	k := testKeys(t, now)
	s := testSTS(k)
	s.MayVouch = func(actor, aud string) bool { return actor == compositeActor && aud == otherAud }
	alice := Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert}
	const ic = `xmlns:ic="` + ClaimsDialectIdentity + `"`
	for _, tc := range []struct {
		name, aud, extra string
		who              Requester
		wantErr          string
	}{
		{"ignored hints", audience, `<wst:KeySize>256</wst:KeySize><wst:SignatureAlgorithm>x</wst:SignatureAlgorithm><wst:Issuer/>`, alice, ""},
		{"Renewing OK", audience, `<wst:Renewing OK="true"/>`, alice, ""},
		{"Renewing Allow=false", audience, `<wst:Renewing Allow="false"/>`, alice, "always renewable"},
		{"foreign element", audience, `<x:Extra xmlns:x="urn:x"/>`, alice, "{urn:x}Extra is not supported"},
		{"AuthenticationType", audience, `<wst:AuthenticationType>urn:x</wst:AuthenticationType>`, alice, "AuthenticationType is not supported"},
		{"optional claim", audience, `<wst:Claims Dialect="` + ClaimsDialectIdentity + `" ` + ic + `><ic:ClaimType Uri="urn:x" Optional="true"/></wst:Claims>`, alice, ""},
		{"claims of another dialect", audience, `<wst:Claims Dialect="urn:x"/>`, alice, "Claims dialect"},
		{"UseKey with KeyValue", audience, `<wst:KeyType>` + KeyTypePublic + `</wst:KeyType><wst:UseKey><ds:KeyInfo xmlns:ds="` + nsDSig + `"><ds:KeyValue/></ds:KeyInfo></wst:UseKey>`, alice, "one X509Data"},
		{"UseKey with a bearer KeyType", audience, `<wst:KeyType>` + KeyTypeBearer + `</wst:KeyType><wst:UseKey/>`, alice, "bearer token binds no key"},
		{"vouched user", otherAud, `<wst:OnBehalfOf><wsse:UsernameToken xmlns:wsse="` + soap.NSWSSE + `"><wsse:Username>alice</wsse:Username></wsse:UsernameToken></wst:OnBehalfOf>`, Requester{Workload: compositeActor}, ""},
		{"vouched user, actor not allowed", audience, `<wst:OnBehalfOf><wsse:UsernameToken xmlns:wsse="` + soap.NSWSSE + `"><wsse:Username>alice</wsse:Username></wsse:UsernameToken></wst:OnBehalfOf>`, Requester{Workload: compositeActor}, "may not vouch"},
		{"vouched user with a nonce", otherAud, `<wst:OnBehalfOf><wsse:UsernameToken xmlns:wsse="` + soap.NSWSSE + `"><wsse:Username>alice</wsse:Username><wsse:Nonce>AAAA</wsse:Nonce></wsse:UsernameToken></wst:OnBehalfOf>`, Requester{Workload: compositeActor}, "only a Username"},
		{"unknown vouched user", otherAud, `<wst:OnBehalfOf><wsse:UsernameToken xmlns:wsse="` + soap.NSWSSE + `"><wsse:Username>mallory</wsse:Username></wsse:UsernameToken></wst:OnBehalfOf>`, Requester{Workload: compositeActor}, "no directory subject"},
		{"delegation holding something else", otherAud, `<wst:OnBehalfOf><x:T xmlns:x="urn:x"/></wst:OnBehalfOf>`, Requester{Workload: compositeActor}, "only a SAML 2.0 assertion or a UsernameToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, out, err := s.Handle(ctx, rst(t, RequestIssue, tc.aud, tc.extra), tc.who)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				a := issuedAssertion(t, resp)
				if tc.name == "vouched user" && (out.Subject != aliceNameID || len(out.Chain) != 1 || out.Chain[0] != compositeActor || !strings.Contains(a, AuthnUnspecified)) {
					t.Errorf("vouched: %+v %s", out, a)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzSTSHandle: no RST, however malformed, makes the STS panic (the
// requester is authenticated, the RST is attacker-chosen).
func FuzzSTSHandle(f *testing.F) {
	for _, extra := range []string{
		`<wst:UseKey><ds:KeyInfo xmlns:ds="` + nsDSig + `"/></wst:UseKey><wst:KeyType>` + KeyTypePublic + `</wst:KeyType>`,
		`<wst:OnBehalfOf><wsse:UsernameToken xmlns:wsse="` + soap.NSWSSE + `"/></wst:OnBehalfOf>`,
		`<wst:SecondaryParameters><wst:Claims Dialect="` + ClaimsDialectIdentity + `"/></wst:SecondaryParameters>`,
		`<wst:CancelTarget><wsse:SecurityTokenReference xmlns:wsse="` + soap.NSWSSE + `"/></wst:CancelTarget>`,
		`<wst:Lifetime/><wst:Renewing/>`,
	} {
		f.Add(RequestIssue, extra)
		f.Add(RequestCancel, extra)
	}
	k := testKeys(f, now)
	s := testSTS(k)
	s.Store = &mapTokens{}
	s.MayVouch = func(string, string) bool { return true }
	f.Fuzz(func(t *testing.T, reqType, extra string) {
		x := `<wst:RequestSecurityToken xmlns:wst="` + NSTrust + `" xmlns:wst14="` + NSTrust14 + `"><wst:RequestType>` + reqType + `</wst:RequestType>` +
			`<wsp:AppliesTo xmlns:wsp="` + NSPolicy + `"><wsa:EndpointReference xmlns:wsa="` + soap.NSWSA + `"><wsa:Address>` + audience + `</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` +
			extra + `</wst:RequestSecurityToken>`
		doc := etree.NewDocument()
		if doc.ReadFromString(x) != nil || doc.Root() == nil {
			return
		}
		_, _, _ = s.Handle(ctx, doc.Root(), Requester{Username: "alice", Workload: consumerID, Certificate: k.client.cert})
	})
}
