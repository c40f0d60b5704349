package credmap

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

const testSecret = "s3cr3t-PassTicket"

// leaks reports whether out shows the secret in any form we know of: as
// text, hex, base64 or the decimal bytes fmt prints for a []byte.
func leaks(out string) bool {
	b := []byte(testSecret)
	dec := strings.Trim(fmt.Sprint(b), "[]")
	for _, form := range []string{testSecret, hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b)[:12], dec[:12]} {
		if strings.Contains(out, form) {
			return true
		}
	}
	return false
}

func TestCredentialNeverPrintsSecret(t *testing.T) {
	c := Credential{UserID: "ALICE01", Secret: []byte(testSecret)}
	type holder struct {
		C Credential
		S Secret
	}
	values := map[string]any{
		"value":   c,
		"pointer": &c,
		"slice":   []Credential{c},
		"map":     map[string]Credential{"a": c},
		"struct":  holder{C: c, S: c.Secret},
		"secret":  c.Secret,
		"*secret": &c.Secret,
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
			if out := fmt.Sprintf(verb, v); leaks(out) || !strings.Contains(out, redacted) {
				t.Errorf("%s with %s: %s", name, verb, out)
			}
		}
		if out := fmt.Sprint(v) + fmt.Sprintln(v) + fmt.Errorf("wrapped: %v", v).Error(); leaks(out) {
			t.Errorf("%s with Sprint/Sprintln/Errorf: %s", name, out)
		}
		j, err := json.Marshal(v)
		if err != nil || leaks(string(j)) || !strings.Contains(string(j), redacted) {
			t.Errorf("%s json: %s, %v", name, j, err)
		}
	}
	if got := c.String(); got != `credmap.Credential{UserID: "ALICE01", Secret: [REDACTED]}` {
		t.Errorf("String = %s", got)
	}
	if got := c.GoString(); leaks(got) {
		t.Errorf("GoString = %s", got)
	}
	if got, _ := json.Marshal(c); string(got) != `{"UserID":"ALICE01","Secret":"[REDACTED]"}` {
		t.Errorf("json = %s", got)
	}
	x, err := xml.Marshal(holder{C: c, S: c.Secret})
	if err != nil || leaks(string(x)) {
		t.Errorf("xml: %s, %v", x, err)
	}
	if got := fmt.Sprint(Credential{UserID: "A"}); !strings.Contains(got, noSecret) {
		t.Errorf("empty secret: %s", got)
	}

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		log := slog.New(h)
		log.Info("mapped", "cred", c, "ptr", &c, "secret", c.Secret, "list", []Credential{c}, "held", holder{C: c})
		log.Info("mapped", slog.Any("cred", c), slog.Any("secret", c.Secret))
		log.With("cred", c).Error("failed", "err", fmt.Errorf("for %v", c))
	}
	if out := buf.String(); leaks(out) || !strings.Contains(out, "ALICE01") || !strings.Contains(out, redacted) {
		t.Errorf("slog:\n%s", out)
	}
}

func writeSecret(t *testing.T, dir, name, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func TestSecretFiles(t *testing.T) {
	outside := t.TempDir()
	writeSecret(t, outside, "OUTSIDE", testSecret, 0o600)
	dir := t.TempDir()
	writeSecret(t, dir, "ALICE01", testSecret+"\n", 0o600)
	writeSecret(t, dir, "BOB01", testSecret+"\r\n", 0o400)
	writeSecret(t, dir, "CAROL01", testSecret, 0o600)
	writeSecret(t, dir, "WORLD", testSecret, 0o604)
	writeSecret(t, dir, "GROUP", testSecret, 0o640)
	writeSecret(t, dir, "GROUPW", testSecret, 0o620)
	writeSecret(t, dir, "EMPTY", "\n", 0o600)
	if err := os.Symlink("CAROL01", filepath.Join(dir, "LINKED")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "OUTSIDE"), filepath.Join(dir, "ESCAPE")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "ADIR"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeSecret(t, filepath.Join(dir, "sub"), "X", testSecret, 0o600)

	s := SecretFiles(dir)
	for _, user := range []string{"ALICE01", "BOB01", "CAROL01", "LINKED"} {
		got, err := s.Secret(user)
		if err != nil || string(got) != testSecret {
			t.Errorf("Secret(%s) = %q, %v", user, got, err)
		}
	}
	for _, user := range []string{"WORLD", "GROUP", "GROUPW", "EMPTY", "MISSING", "ESCAPE", "ADIR",
		"", ".", "..", "../" + filepath.Base(outside) + "/OUTSIDE", "sub/X", ".hidden", "A\x00"} {
		got, err := s.Secret(user)
		if err == nil {
			t.Errorf("Secret(%q) = %q, want an error", user, got)
			continue
		}
		if leaks(err.Error()) {
			t.Errorf("Secret(%q) error shows the secret: %v", user, err)
		}
	}
	if _, err := s.Secret("WORLD"); err == nil || !strings.Contains(err.Error(), "0604") {
		t.Errorf("world-readable file: %v", err)
	}
	if _, err := SecretFiles(filepath.Join(dir, "nonexistent")).Secret("ALICE01"); err == nil {
		t.Error("missing directory accepted")
	}
}

func TestSecretEnv(t *testing.T) {
	t.Setenv("GH_TEST_PW_ALICE01", testSecret)
	t.Setenv("GH_TEST_PW_EMPTY", "")
	s := SecretEnv("GH_TEST_PW_")
	if got, err := s.Secret("ALICE01"); err != nil || string(got) != testSecret {
		t.Errorf("Secret = %q, %v", got, err)
	}
	for _, user := range []string{"MISSING", "EMPTY", "", "A=B"} {
		if got, err := s.Secret(user); err == nil {
			t.Errorf("Secret(%q) = %q, want an error", user, got)
		}
	}
}

const (
	inbound11 = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soap:Header>` +
		`<wsse:Security xmlns:wsse="` + NSWSSE + `"><wsse:UsernameToken><wsse:Username>consumer</wsse:Username>` +
		`<wsse:Password>consumer-password</wsse:Password></wsse:UsernameToken></wsse:Security>` +
		`<a:To xmlns:a="http://www.w3.org/2005/08/addressing">urn:cics</a:To>` +
		`</soap:Header><soap:Body><op/></soap:Body></soap:Envelope>`

	wantSecurity11 = `<wsse:Security xmlns:wsse="` + NSWSSE + `" soap:mustUnderstand="1">` +
		`<wsse:UsernameToken><wsse:Username>ALICE01</wsse:Username>` +
		`<wsse:Password Type="` + PasswordText + `">` + testSecret + `</wsse:Password>` +
		`</wsse:UsernameToken></wsse:Security>`
)

func header(t *testing.T, doc *etree.Document) *etree.Element {
	t.Helper()
	for _, el := range doc.Root().ChildElements() {
		if el.Tag == "Header" {
			return el
		}
	}
	t.Fatal("no Header")
	return nil
}

func serialize(t *testing.T, doc *etree.Document) string {
	t.Helper()
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRenderUsernameTokenOutboundOnly renders onto the outbound copy of an
// envelope, as the gateway does: the inbound envelope is untouched, and the
// outbound carries only the mapped credential, never the consumer's token.
func TestRenderUsernameTokenOutboundOnly(t *testing.T) {
	in := etree.NewDocument()
	if err := in.ReadFromString(inbound11); err != nil {
		t.Fatal(err)
	}
	out := in.Copy()
	outHeader := header(t, out)
	c := Credential{UserID: "ALICE01", Secret: []byte(testSecret)}

	// Forgetting to remove the inbound Security header is refused.
	if err := RenderUsernameToken(outHeader, soap11NS, c); err == nil {
		t.Fatal("rendered next to the inbound Security header")
	}
	if serialize(t, out) != inbound11 {
		t.Fatal("a refused render changed the outbound envelope")
	}

	outHeader.RemoveChild(outHeader.SelectElement("wsse:Security"))
	if err := RenderUsernameToken(outHeader, soap11NS, c); err != nil {
		t.Fatal(err)
	}
	want := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` + wantSecurity11 +
		`<a:To xmlns:a="http://www.w3.org/2005/08/addressing">urn:cics</a:To></soap:Header><soap:Body><op/></soap:Body></soap:Envelope>`
	if got := serialize(t, out); got != want {
		t.Errorf("outbound:\n%s\nwant:\n%s", got, want)
	}
	if got := serialize(t, in); got != inbound11 {
		t.Errorf("inbound changed:\n%s", got)
	}
	// Rendering twice is refused too.
	if err := RenderUsernameToken(outHeader, soap11NS, c); err == nil {
		t.Error("rendered a second Security header")
	}

	// The result reads back with the right namespaces.
	back := etree.NewDocument()
	if err := back.ReadFromString(serialize(t, out)); err != nil {
		t.Fatal(err)
	}
	sec := header(t, back).ChildElements()[0]
	pw := sec.FindElement("./UsernameToken/Password")
	if sec.NamespaceURI() != NSWSSE || pw == nil || pw.NamespaceURI() != NSWSSE || pw.Text() != testSecret {
		t.Errorf("read back: Security in %q, Password %v", sec.NamespaceURI(), pw)
	}
	if mu := sec.SelectAttr("soap:mustUnderstand"); mu == nil || mu.NamespaceURI() != soap11NS {
		t.Errorf("mustUnderstand not in the envelope namespace: %v", mu)
	}
}

func TestRenderUsernameToken12DefaultNamespace(t *testing.T) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<Envelope xmlns="` + soap12NS + `"><Header/><Body/></Envelope>`); err != nil {
		t.Fatal(err)
	}
	err := RenderUsernameToken(header(t, doc), soap12NS, Credential{UserID: "ALICE01", Secret: []byte("TICKET12")})
	if err != nil {
		t.Fatal(err)
	}
	want := `<Envelope xmlns="` + soap12NS + `"><Header>` +
		`<wsse:Security xmlns:wsse="` + NSWSSE + `" xmlns:soapenv="` + soap12NS + `" soapenv:mustUnderstand="true">` +
		`<wsse:UsernameToken><wsse:Username>ALICE01</wsse:Username>` +
		`<wsse:Password Type="` + PasswordText + `">TICKET12</wsse:Password>` +
		`</wsse:UsernameToken></wsse:Security></Header><Body/></Envelope>`
	if got := serialize(t, doc); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderUsernameTokenRefuses(t *testing.T) {
	ok := Credential{UserID: "ALICE01", Secret: []byte(testSecret)}
	tests := []struct {
		name   string
		doc    string
		soapNS string
		c      Credential
	}{
		{"security in another namespace", `<s:Envelope xmlns:s="` + soap11NS + `"><s:Header><x:Security xmlns:x="urn:x"/></s:Header></s:Envelope>`, soap11NS, ok},
		{"wrong SOAP namespace", `<s:Envelope xmlns:s="` + soap11NS + `"><s:Header/></s:Envelope>`, soap12NS, ok},
		{"not a SOAP namespace", `<s:Envelope xmlns:s="urn:x"><s:Header/></s:Envelope>`, "urn:x", ok},
		{"not a Header", `<s:Envelope xmlns:s="` + soap11NS + `"><s:Body/></s:Envelope>`, soap11NS, ok},
		{"empty user", `<s:Envelope xmlns:s="` + soap11NS + `"><s:Header/></s:Envelope>`, soap11NS, Credential{Secret: []byte(testSecret)}},
		{"empty secret", `<s:Envelope xmlns:s="` + soap11NS + `"><s:Header/></s:Envelope>`, soap11NS, Credential{UserID: "ALICE01"}},
		{"control character in secret", `<s:Envelope xmlns:s="` + soap11NS + `"><s:Header/></s:Envelope>`, soap11NS, Credential{UserID: "ALICE01", Secret: []byte(testSecret + "\r")}},
		{"invalid UTF-8 in user", `<s:Envelope xmlns:s="` + soap11NS + `"><s:Header/></s:Envelope>`, soap11NS, Credential{UserID: "AL\xffICE", Secret: []byte(testSecret)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := etree.NewDocument()
			if err := doc.ReadFromString(tt.doc); err != nil {
				t.Fatal(err)
			}
			before := serialize(t, doc)
			err := RenderUsernameToken(doc.Root().ChildElements()[0], tt.soapNS, tt.c)
			if err == nil {
				t.Fatal("rendered")
			}
			if leaks(err.Error()) {
				t.Errorf("error shows the secret: %v", err)
			}
			if serialize(t, doc) != before {
				t.Error("a refused render changed the envelope")
			}
		})
	}
	if err := RenderUsernameToken(nil, soap11NS, ok); err == nil {
		t.Error("nil header accepted")
	}
}

func TestRenderBasic(t *testing.T) {
	h := http.Header{}
	if err := RenderBasic(h, Credential{UserID: "ALICE01", Secret: []byte(testSecret)}); err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("ALICE01:"+testSecret))
	if got := h.Values("Authorization"); len(got) != 1 || got[0] != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
	req, _ := http.NewRequest("POST", "https://backend.example", nil)
	req.Header = h
	if u, p, ok := req.BasicAuth(); !ok || u != "ALICE01" || p != testSecret {
		t.Errorf("BasicAuth reads back %q, %q, %v", u, p, ok)
	}
	// A colon in the password is fine (the receiver splits at the first).
	if err := RenderBasic(http.Header{}, Credential{UserID: "ALICE01", Secret: []byte("a:b")}); err != nil {
		t.Error(err)
	}

	for name, tt := range map[string]struct {
		h http.Header
		c Credential
	}{
		"existing Authorization": {http.Header{"Authorization": {"Basic Y29uc3VtZXI6cHc="}}, Credential{UserID: "ALICE01", Secret: []byte(testSecret)}},
		"colon in user":          {http.Header{}, Credential{UserID: "ALICE:ADMIN", Secret: []byte(testSecret)}},
		"empty user":             {http.Header{}, Credential{Secret: []byte(testSecret)}},
		"empty secret":           {http.Header{}, Credential{UserID: "ALICE01"}},
		"control in secret":      {http.Header{}, Credential{UserID: "ALICE01", Secret: []byte(testSecret + "\x00")}},
		"nil header":             {nil, Credential{UserID: "ALICE01", Secret: []byte(testSecret)}},
	} {
		before := fmt.Sprint(tt.h)
		err := RenderBasic(tt.h, tt.c)
		if err == nil {
			t.Errorf("%s: rendered", name)
			continue
		}
		if leaks(err.Error()) {
			t.Errorf("%s: error shows the secret: %v", name, err)
		}
		if fmt.Sprint(tt.h) != before {
			t.Errorf("%s: a refused render changed the header", name)
		}
	}
}

func TestRenderHeader(t *testing.T) {
	c := Credential{UserID: "ALICE01", Secret: []byte(testSecret)}
	tests := []struct {
		name, header, format, want string
	}{
		{"user only", "X-Legacy-User", "%u", "ALICE01"},
		{"user and secret", "x-legacy-auth", "%u:%p", "ALICE01:" + testSecret},
		{"literal text and percent", "X-Legacy-User", "user=%u; 100%%", "user=ALICE01; 100%"},
		{"authorization scheme", "Authorization", "PassTicket %u %p", "PassTicket ALICE01 " + testSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if err := RenderHeader(h, tt.header, c, tt.format); err != nil {
				t.Fatal(err)
			}
			if got := h.Values(tt.header); len(got) != 1 || got[0] != tt.want || len(h) != 1 {
				t.Errorf("header = %v, want %s: %q", h, tt.header, tt.want)
			}
			if err := CheckHeaderFormat(tt.format); err != nil {
				t.Errorf("CheckHeaderFormat: %v", err)
			}
		})
	}

	refused := []struct {
		name, header, format string
		c                    Credential
		h                    http.Header
	}{
		{"unknown placeholder", "X-U", "%u:%s", c, http.Header{}},
		{"lone percent", "X-U", "%u%", c, http.Header{}},
		{"empty format", "X-U", "", c, http.Header{}},
		{"empty user", "X-U", "%u", Credential{Secret: []byte(testSecret)}, http.Header{}},
		{"empty secret", "X-U", "%u:%p", Credential{UserID: "ALICE01"}, http.Header{}},
		{"CRLF in secret", "X-U", "%p", Credential{UserID: "ALICE01", Secret: []byte(testSecret + "\r\nX-Admin: 1")}, http.Header{}},
		{"non-ASCII user", "X-U", "%u", Credential{UserID: "ÄLICE"}, http.Header{}},
		{"leading space", "X-U", " %u", c, http.Header{}},
		{"invalid name", "X U", "%u", c, http.Header{}},
		{"name with colon", "X-U:", "%u", c, http.Header{}},
		{"empty name", "", "%u", c, http.Header{}},
		{"reserved name", "content-length", "%u", c, http.Header{}},
		{"reserved name Host", "Host", "%u", c, http.Header{}},
		{"already present", "x-u", "%u", c, http.Header{"X-U": {"consumer"}}},
		{"nil header", "X-U", "%u", c, nil},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := fmt.Sprint(tt.h)
			err := RenderHeader(tt.h, tt.header, tt.c, tt.format)
			if err == nil {
				t.Fatalf("rendered %v", tt.h)
			}
			if leaks(err.Error()) {
				t.Errorf("error shows the secret: %v", err)
			}
			if fmt.Sprint(tt.h) != before {
				t.Error("a refused render changed the header")
			}
		})
	}
	for _, bad := range []string{"", "%", "%x", "a%"} {
		if CheckHeaderFormat(bad) == nil {
			t.Errorf("CheckHeaderFormat(%q) accepted", bad)
		}
	}
}
