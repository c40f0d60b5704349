package gateway_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/samlsts"
)

// TestSAMLVersionsThroughGateway: <saml versions> is wired into the
// service's verifier. A SAML 1.1 token from the STS is refused with
// wsse:UnsupportedSecurityToken by a service with the default (2.0 only)
// and accepted by one with versions="1.1 2.0"; a 2.0 token is accepted by
// both.
func TestSAMLVersionsThroughGateway(t *testing.T) {
	e := samlEnv(t, "1m", func(o *envOptions) {
		o.saml11 = `<saml audience="` + audAccounts11 + `" versions="1.1 2.0"><issuer entityID="` + stsEntity + `"/></saml>`
	})
	token11 := func(audience string) string {
		t.Helper()
		tok, out := requestToken(t, e, tellerSecret, audience, "", `<wst:TokenType>`+samlsts.TokenSAML11+`</wst:TokenType>`)
		if tok == "" || !strings.Contains(tok, samlsts.NSAssertion1) {
			t.Fatalf("STS refused a SAML 1.1 token or issued another: %s", out)
		}
		return tok
	}

	id := expectFault(t, e.post(t, accountsPath, withToken(token11(audAccounts)), "1.1"), 500, "UnsupportedSecurityToken")
	if r := e.record(t, id); !strings.Contains(r.Reason, "SAML 1.1") {
		t.Errorf("reason %q, want one naming SAML 1.1", r.Reason)
	}
	for name, tok := range map[string]string{"SAML 1.1": token11(audAccounts11), "SAML 2.0": mustToken(t, e, audAccounts11)} {
		resp := e.post(t, "/services/accounts11", withToken(tok), "1.1")
		if body := readAll(t, resp); resp.StatusCode != 200 {
			t.Errorf("%s at versions=\"1.1 2.0\": %d %s", name, resp.StatusCode, body)
		}
	}
	resp := e.post(t, accountsPath, withToken(mustToken(t, e, audAccounts)), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Errorf("SAML 2.0 at the default: %d %s", resp.StatusCode, body)
	}
}
