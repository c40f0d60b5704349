package gateway_test

import (
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/gatehouse/gatehouse/gateway/internal/demopki"
	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
	"github.com/gatehouse/gatehouse/samlsts"
	"github.com/gatehouse/gatehouse/soap"
)

// Namespaces of the hand-written WS-Trust client payloads below.
const (
	nsWST    = samlsts.NSTrust
	nsWST14  = samlsts.NSTrust14
	nsIC     = samlsts.ClaimsDialectIdentity
	bstX509  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	b64Bin   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
	samlV2   = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
	samlIDVT = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"
)

// delegatingSTS lets the demo consumer workload act for others at the
// accounts service with tokens issued for accounts11, and vouch for users
// there.
func delegatingSTS(o *envOptions) {
	o.sts = strings.Replace(o.sts, "</sts>", `<delegation actor="`+demopki.ConsumerSPIFFEID+`" audience="`+audAccounts+
		`" tokenAudiences="`+audAccounts11+`" vouchesForUsers="true"/></sts>`, 1)
}

// stsCall posts a RequestSecurityToken with the given attributes and
// children, as the teller user (password) or, with an empty password, as
// the TLS workload, and returns the HTTP status and the answer.
func stsCall(t *testing.T, e *env, password, rstAttrs, inner string) (int, *etree.Document, string) {
	t.Helper()
	sec := ""
	if password != "" {
		sec = `<soap:Header><wsse:Security xmlns:wsse="` + soap.NSWSSE + `"><wsse:UsernameToken><wsse:Username>teller</wsse:Username>` +
			`<wsse:Password>` + password + `</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>`
	}
	body := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` + sec + `<soap:Body>` +
		`<wst:RequestSecurityToken xmlns:wst="` + nsWST + `" xmlns:wsp="` + samlsts.NSPolicy + `" xmlns:wsa="` + soap.NSWSA + `"` +
		` xmlns:wsse="` + soap.NSWSSE + `" xmlns:wsu="` + soap.NSWSU + `" xmlns:wst14="` + nsWST14 + `" xmlns:ic="` + nsIC + `" ` + rstAttrs + `>` +
		inner + `</wst:RequestSecurityToken></soap:Body></soap:Envelope>`
	resp := e.post(t, "/sts", body, "1.1")
	out := readAll(t, resp)
	doc := etree.NewDocument()
	must(t, doc.ReadFromString(out))
	if resp.StatusCode != 200 {
		if r := e.record(t, resp.Header.Get("X-Correlation-ID")); r.Reason != "" {
			out += "\naudit reason: " + r.Reason
		}
	}
	return resp.StatusCode, doc, out
}

func issueType() string {
	return `<wst:RequestType>` + samlsts.RequestIssue + `</wst:RequestType>`
}

func appliesTo(aud string) string {
	return `<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>` + aud + `</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`
}

// assertionOf serializes the assertion of an STS answer.
func assertionOf(t *testing.T, doc *etree.Document, out string) string {
	t.Helper()
	a := doc.FindElement("//RequestedSecurityToken/Assertion")
	if a == nil {
		t.Fatalf("no assertion in STS answer: %s", out)
	}
	d := etree.NewDocument()
	d.SetRoot(a.Copy())
	s, err := d.WriteToString()
	must(t, err)
	return s
}

// consumerCertB64 is the demo consumer's certificate, base64 DER.
func consumerCertB64(t *testing.T, e *env) string {
	t.Helper()
	p, err := os.ReadFile(filepath.Join(e.dir, "pki", demopki.ConsumerCert))
	must(t, err)
	b, _ := pem.Decode(p)
	return base64.StdEncoding.EncodeToString(b.Bytes)
}

// TestSTSWSS4JStyleRequests sends RSTs shaped as WSS4J/CXF clients send
// them (written here from WS-Trust 1.3/1.4 and the SAML token profile, not
// copied from any project): a holder-of-key request with the RP's policy in
// SecondaryParameters, Claims, KeySize and UseKey with a
// BinarySecurityToken; OnBehalfOf with a UsernameToken; WS-Trust 1.4 ActAs
// with an assertion; and what the STS must refuse.
func TestSTSWSS4JStyleRequests(t *testing.T) {
	e := samlEnv(t, "2m", delegatingSTS)
	cert := consumerCertB64(t, e)

	t.Run("holder-of-key with SecondaryParameters, Claims, KeySize, UseKey", func(t *testing.T) {
		inner := issueType() + appliesTo(audAccounts) +
			`<wst:TokenType>` + samlV2 + `</wst:TokenType><wst:KeyType>` + samlsts.KeyTypePublic + `</wst:KeyType><wst:KeySize>2048</wst:KeySize>` +
			`<wst:Claims Dialect="` + nsIC + `"><ic:ClaimType Uri="` + samlsts.RoleAttribute + `"/><ic:ClaimType Uri="racfUserId"/>` +
			`<ic:ClaimType Uri="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname" Optional="true"/></wst:Claims>` +
			`<wst:UseKey><wsse:BinarySecurityToken ValueType="` + bstX509 + `" EncodingType="` + b64Bin + `">` + cert + `</wsse:BinarySecurityToken></wst:UseKey>` +
			`<wst:Renewing OK="true"/>` +
			`<wst:SecondaryParameters><wst:TokenType>` + samlV2 + `</wst:TokenType><wst:KeyType>` + samlsts.KeyTypePublic + `</wst:KeyType>` +
			`<wst:KeySize>1024</wst:KeySize><wst:KeyWrapAlgorithm>http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p</wst:KeyWrapAlgorithm>` +
			`<wst:EncryptWith>http://www.w3.org/2001/04/xmlenc#aes256-cbc</wst:EncryptWith><wst:SignWith>http://www.w3.org/2000/09/xmldsig#rsa-sha1</wst:SignWith>` +
			`<wst:CanonicalizationAlgorithm>http://www.w3.org/2001/10/xml-exc-c14n#</wst:CanonicalizationAlgorithm></wst:SecondaryParameters>`
		status, doc, out := stsCall(t, e, tellerSecret, `Context="urn:uuid:cxf-1"`, inner)
		if status != 200 {
			t.Fatalf("STS refused: %d %s", status, out)
		}
		r := doc.FindElement("//RequestSecurityTokenResponseCollection/RequestSecurityTokenResponse")
		if r == nil || r.SelectAttrValue("Context", "") != "urn:uuid:cxf-1" {
			t.Fatalf("no RSTR in an RSTRC with the request's Context: %s", out)
		}
		for _, want := range []string{"TokenType", "RequestedSecurityToken", "RequestedAttachedReference", "RequestedUnattachedReference", "AppliesTo", "Lifetime", "KeyType"} {
			if r.SelectElement(want) == nil {
				t.Errorf("RSTR has no %s", want)
			}
		}
		if kt := r.SelectElement("KeyType"); kt == nil || kt.Text() != samlsts.KeyTypePublic {
			t.Errorf("KeyType %v", kt)
		}
		a := assertionOf(t, doc, out)
		id := doc.FindElement("//RequestedSecurityToken/Assertion").SelectAttrValue("ID", "")
		for _, ref := range r.FindElements("./*/SecurityTokenReference") {
			ki := ref.SelectElement("KeyIdentifier")
			if ref.SelectAttrValue("wsse11:TokenType", "") != samlV2 || ki == nil || ki.SelectAttrValue("ValueType", "") != samlIDVT || ki.Text() != id {
				t.Errorf("STR does not name the assertion by #SAMLID with its token type: %s", out)
			}
		}
		if !strings.Contains(a, samlsts.CMHolderOfKey) || !strings.Contains(a, cert) {
			t.Errorf("not a holder-of-key assertion for the UseKey certificate: %s", a)
		}
		if rec := e.record(t, e.lastCorrelation(t)); rec.TokenID != id {
			t.Errorf("audit token id %q, want %q", rec.TokenID, id)
		}
	})

	t.Run("OnBehalfOf with a vouched UsernameToken", func(t *testing.T) {
		status, doc, out := stsCall(t, e, "", "", issueType()+appliesTo(audAccounts)+
			`<wst:OnBehalfOf><wsse:UsernameToken wsu:Id="ut-1"><wsse:Username>teller</wsse:Username></wsse:UsernameToken></wst:OnBehalfOf>`)
		if status != 200 {
			t.Fatalf("STS refused: %d %s", status, out)
		}
		a := assertionOf(t, doc, out)
		if !strings.Contains(a, ">alice@example.com</saml:NameID>") || !strings.Contains(a, ">"+demopki.ConsumerSPIFFEID+"</saml:NameID></del:Delegate>") {
			t.Errorf("not alice's assertion with the consumer as actor: %s", a)
		}
	})

	t.Run("ActAs (WS-Trust 1.4) with an assertion", func(t *testing.T) {
		tok := mustToken(t, e, audAccounts11)
		status, doc, out := stsCall(t, e, "", "", issueType()+appliesTo(audAccounts)+`<wst14:ActAs>`+tok+`</wst14:ActAs>`)
		if status != 200 {
			t.Fatalf("STS refused: %d %s", status, out)
		}
		a := assertionOf(t, doc, out)
		if !strings.Contains(a, ">alice@example.com</saml:NameID>") || !strings.Contains(a, "del:Delegate") {
			t.Errorf("not a delegated assertion for alice: %s", a)
		}
	})

	refused := []struct {
		name, password, inner, code, reason string
	}{
		{"OnBehalfOf UsernameToken with a password", "", issueType() + appliesTo(audAccounts) +
			`<wst:OnBehalfOf><wsse:UsernameToken><wsse:Username>teller</wsse:Username><wsse:Password>` + tellerSecret + `</wsse:Password></wsse:UsernameToken></wst:OnBehalfOf>`,
			"InvalidRequest", "only a Username is accepted"},
		{"OnBehalfOf UsernameToken where the actor may not vouch", "", issueType() + appliesTo(audAccounts11) +
			`<wst:OnBehalfOf><wsse:UsernameToken><wsse:Username>teller</wsse:Username></wsse:UsernameToken></wst:OnBehalfOf>`,
			"InvalidRequest", "may not vouch for users"},
		{"ActAs and OnBehalfOf together", "", issueType() + appliesTo(audAccounts) +
			`<wst14:ActAs><wsse:UsernameToken><wsse:Username>teller</wsse:Username></wsse:UsernameToken></wst14:ActAs>` +
			`<wst:OnBehalfOf><wsse:UsernameToken><wsse:Username>teller</wsse:Username></wsse:UsernameToken></wst:OnBehalfOf>`,
			"InvalidRequest", "at most one"},
		{"token type other than SAML", tellerSecret, issueType() + appliesTo(audAccounts) + `<wst:TokenType>urn:ietf:params:oauth:token-type:jwt</wst:TokenType>`,
			"BadRequest", "TokenType"},
		{"symmetric key from SecondaryParameters", tellerSecret, issueType() + appliesTo(audAccounts) +
			`<wst:SecondaryParameters><wst:KeyType>` + samlsts.KeyTypeSymmetric + `</wst:KeyType></wst:SecondaryParameters>`, "BadRequest", "symmetric"},
		{"Entropy (an element that would change the token)", tellerSecret, issueType() + appliesTo(audAccounts) +
			`<wst:Entropy><wst:BinarySecret>AAAA</wst:BinarySecret></wst:Entropy>`, "BadRequest", "Entropy is not supported"},
		{"unknown element in SecondaryParameters", tellerSecret, issueType() + appliesTo(audAccounts) +
			`<wst:SecondaryParameters><wst:DelegateTo/></wst:SecondaryParameters>`, "BadRequest", "DelegateTo is not supported"},
		{"required claim the subject lacks", tellerSecret, issueType() + appliesTo(audAccounts) +
			`<wst:Claims Dialect="` + nsIC + `"><ic:ClaimType Uri="urn:example:salary"/></wst:Claims>`, "BadRequest", "required claim"},
		{"UseKey with a key not proven", tellerSecret, issueType() + appliesTo(audAccounts) + `<wst:KeyType>` + samlsts.KeyTypePublic + `</wst:KeyType>` +
			`<wst:UseKey><wsse:BinarySecurityToken ValueType="` + bstX509 + `">` + stsCertB64(t, e) + `</wsse:BinarySecurityToken></wst:UseKey>`,
			"FailedAuthentication", "neither signed the request nor is the TLS client key"},
	}
	for _, c := range refused {
		t.Run("refused: "+c.name, func(t *testing.T) {
			status, _, out := stsCall(t, e, c.password, "", c.inner)
			if status != 500 || !strings.Contains(out, c.code) || !strings.Contains(out, c.reason) {
				t.Fatalf("got %d, want a %s fault with reason %q: %s", status, c.code, c.reason, out)
			}
		})
	}
}

func stsCertB64(t *testing.T, e *env) string {
	t.Helper()
	p, err := os.ReadFile(filepath.Join(e.dir, "pki", demopki.STSCert))
	must(t, err)
	b, _ := pem.Decode(p)
	return base64.StdEncoding.EncodeToString(b.Bytes)
}

// lastCorrelation is the correlation id of the newest audit record.
func (e *env) lastCorrelation(t *testing.T) string {
	t.Helper()
	recs := e.records(t)
	if len(recs) == 0 {
		t.Fatal("no audit record")
	}
	return recs[len(recs)-1].CorrelationID
}

// TestSTSZeepClient: python3-zeep, with its WS-Addressing plugin and a
// UsernameToken, asks the STS for a token over mTLS; the answer carries the
// WS-Addressing Action and RelatesTo zeep expects, and the token works at
// the service.
func TestSTSZeepClient(t *testing.T) {
	const python = "/usr/bin/python3" // Debian's, where python3-zeep lives
	if out, err := exec.Command(python, "-c", "import zeep, zeep.wsa").CombinedOutput(); err != nil {
		t.Fatalf("python3-zeep is not installed (run ./build.sh deps): %v %s", err, out)
	}
	e := samlEnv(t, "2m")
	port := e.base[strings.LastIndex(e.base, ":")+1:]
	pki := filepath.Join(e.dir, "pki")
	cmd := exec.Command(python, filepath.Join("testdata", "zeep_sts.py"), filepath.Join("testdata", "sts.wsdl"),
		"https://localhost:"+port+"/sts", filepath.Join(pki, demopki.CACert), filepath.Join(pki, demopki.ConsumerCert),
		filepath.Join(pki, demopki.ConsumerKey), "teller", tellerSecret, audAccounts)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zeep: %v\n%s\n%s\naudit: %+v", err, stderr.String(), out, e.records(t))
	}
	doc := etree.NewDocument()
	must(t, doc.ReadFromBytes(out))
	rec := e.record(t, e.lastCorrelation(t))
	if rec.Subject != "alice@example.com" || rec.Outcome != "ok" {
		t.Errorf("audit: %+v", rec)
	}
	action := doc.FindElement("//Header/Action")
	relates := doc.FindElement("//Header/RelatesTo")
	if action == nil || action.Text() != nsWST+"/RSTRC/IssueFinal" || action.NamespaceURI() != soap.NSWSA ||
		relates == nil || !strings.HasPrefix(relates.Text(), "urn:uuid:") {
		t.Errorf("answer lacks the WS-Addressing Action / RelatesTo: %s", out)
	}
	if r := doc.FindElement("//RequestSecurityTokenResponse"); r == nil || r.SelectAttrValue("Context", "") != "urn:uuid:zeep-context-1" {
		t.Errorf("RSTR does not echo the Context: %s", out)
	}
	token := assertionOf(t, doc, string(out))
	resp := e.post(t, accountsPath, withToken(token), "1.1")
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("call with zeep's token: %d %s", resp.StatusCode, body)
	}
}

// TestSTSCancelAcrossInstances: a token issued by instance 1 is cancelled
// at instance 2 (both share one Redis); then instance 1's service refuses
// it with an audit reason, instance 2 validates it as invalid, and
// instance 1 will not renew it.
func TestSTSCancelAcrossInstances(t *testing.T) {
	srv := redistest.Start(t)
	shared := func(o *envOptions) { o.store = redisStore(srv, "gh-cancel-test:") }
	gw1 := samlEnv(t, "2m", shared)
	gw2 := samlEnv(t, "2m", shared, func(o *envOptions) { o.dir = gw1.dir })

	token := mustToken(t, gw1, audAccounts)
	doc := etree.NewDocument()
	must(t, doc.ReadFromString(token))
	id := doc.Root().SelectAttrValue("ID", "")
	str := `<wsse:SecurityTokenReference><wsse:KeyIdentifier ValueType="` + samlIDVT + `">` + id + `</wsse:KeyIdentifier></wsse:SecurityTokenReference>`
	cancelType := `<wst:RequestType>` + samlsts.RequestCancel + `</wst:RequestType>`

	status, ans, out := stsCall(t, gw2, tellerSecret, "", cancelType+`<wst:CancelTarget>`+str+`</wst:CancelTarget>`)
	if status != 200 || ans.FindElement("//RequestSecurityTokenResponse/RequestedTokenCancelled") == nil {
		t.Fatalf("Cancel at instance 2: %d %s", status, out)
	}
	if rec := gw2.record(t, gw2.lastCorrelation(t)); rec.TokenID != id || rec.Subject != "alice@example.com" {
		t.Errorf("cancel audit: %+v", rec)
	}

	cid := expectFault(t, gw1.post(t, accountsPath, withToken(token), "1.1"), 500, "InvalidSecurityToken")
	if r := gw1.record(t, cid); !strings.Contains(r.Reason, "assertion "+id+" of "+stsEntity+" was cancelled at the STS") {
		t.Errorf("audit reason %q", r.Reason)
	}

	status, ans, out = stsCall(t, gw2, tellerSecret, "", `<wst:RequestType>`+samlsts.RequestValidate+`</wst:RequestType>`+
		`<wst:TokenType>`+samlsts.TokenStatus+`</wst:TokenType><wst:ValidateTarget>`+token+`</wst:ValidateTarget>`)
	if code := ans.FindElement("//Status/Code"); status != 200 || code == nil || code.Text() != samlsts.StatusInvalid {
		t.Errorf("Validate of a cancelled token: %d %s", status, out)
	}
	status, _, out = stsCall(t, gw1, tellerSecret, "", `<wst:RequestType>`+samlsts.RequestRenew+`</wst:RequestType><wst:RenewTarget>`+token+`</wst:RenewTarget>`)
	if status != 500 || !strings.Contains(out, "UnableToRenew") || !strings.Contains(out, "cancelled") {
		t.Errorf("Renew of a cancelled token: %d %s", status, out)
	}

	// A token nobody recorded (here: issued for another instance's STS ID
	// would do the same) cannot be cancelled.
	status, _, out = stsCall(t, gw2, tellerSecret, "", cancelType+`<wst:CancelTarget>`+strings.Replace(str, id, "_never-issued", 1)+`</wst:CancelTarget>`)
	if status != 500 || !strings.Contains(out, "no record of assertion") {
		t.Errorf("Cancel of an unknown token: %d %s", status, out)
	}

	// Renew answers with an RSTR and the RSTR/RenewFinal action; the new
	// token is recorded too, so instance 2 cancels it with the assertion
	// itself as CancelTarget.
	fresh := mustToken(t, gw1, audAccounts)
	status, ans, out = stsCall(t, gw2, tellerSecret, "", `<wst:RequestType>`+samlsts.RequestRenew+`</wst:RequestType><wst:RenewTarget>`+fresh+`</wst:RenewTarget>`)
	if status != 200 || ans.FindElement("//Body/RequestSecurityTokenResponse/RequestedSecurityToken/Assertion") == nil {
		t.Fatalf("Renew: %d %s", status, out)
	}
	renewed := assertionOf(t, ans, out)
	status, _, out = stsCall(t, gw1, tellerSecret, "", cancelType+`<wst:CancelTarget>`+renewed+`</wst:CancelTarget>`)
	if status != 200 {
		t.Fatalf("Cancel of the renewed token: %d %s", status, out)
	}
	expectFault(t, gw2.post(t, accountsPath, withToken(renewed), "1.1"), 500, "InvalidSecurityToken")
	resp := gw2.post(t, accountsPath, withToken(fresh), "1.1") // the original is not cancelled by renewal
	if body := readAll(t, resp); resp.StatusCode != 200 {
		t.Errorf("the renewed-from token: %d %s", resp.StatusCode, body)
	}
}
