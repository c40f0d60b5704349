package credmap

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

const (
	redacted    = "[REDACTED]"
	noSecret    = "[none]"
	maxSecretSz = 64 << 10
)

// Secret is a password or a PassTicket. It is a []byte (a []byte converts
// to it implicitly in assignments), but every way of printing or encoding it
// that the standard library offers (fmt verbs including %#v and %x, String,
// GoString, JSON, text and XML marshaling, slog) shows "[REDACTED]" (or
// "[none]" when empty). Only an explicit conversion, []byte(s) or string(s),
// reveals it; the renderers are the only code here that does.
//
// One gap remains that no type can close: fmt prints the fields of a struct
// it cannot call methods on, so a Credential or Secret kept in an
// *unexported* field of another struct is printed raw by %v. Do not keep
// credentials in structs that are logged.
type Secret []byte

func (s Secret) String() string {
	if len(s) == 0 {
		return noSecret
	}
	return redacted
}

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return s.String() }

// Format implements fmt.Formatter, so that no verb (%x, %q, %d…) bypasses
// String.
func (s Secret) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText implements encoding.TextMarshaler (used by encoding/xml and
// by slog's text handler).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Credential is a user ID of a legacy domain and its secret (a password or
// a PassTicket). Printed, marshaled or logged it shows the user ID and a
// redacted secret.
type Credential struct {
	UserID string
	Secret Secret
}

func (c Credential) String() string {
	return fmt.Sprintf("credmap.Credential{UserID: %q, Secret: %s}", c.UserID, c.Secret.String())
}

// GoString implements fmt.GoStringer (%#v).
func (c Credential) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb and flag prints String.
func (c Credential) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

// MarshalJSON implements json.Marshaler.
func (c Credential) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		UserID string
		Secret string
	}{c.UserID, c.Secret.String()})
}

// LogValue implements slog.LogValuer.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", c.UserID), slog.String("secret", c.Secret.String()))
}

// SecretSource looks up the stored secret (password) of a legacy user.
type SecretSource interface {
	Secret(userID string) ([]byte, error)
}

// SecretFiles returns a SecretSource that reads the secret of user U from
// the file dir/U, trailing newline ("\n" or "\r\n") removed. The file must be
// a regular file (a symbolic link inside dir is followed) that grants no
// permission to group or others, at most 64 KiB and not empty; otherwise, or
// when it is missing, Secret fails. User IDs that are not plain file names
// (empty, starting with ".", containing "/" or "\") are refused, and the
// lookup cannot leave dir, through ".." or symbolic links, because it uses
// an os.Root. Error messages name the file, never its content.
func SecretFiles(dir string) SecretSource { return secretFiles(dir) }

type secretFiles string

func (d secretFiles) Secret(userID string) ([]byte, error) {
	if userID == "" || strings.HasPrefix(userID, ".") || strings.ContainsAny(userID, "/\\\x00") {
		return nil, fmt.Errorf("secret files: user ID %q is not a valid file name", userID)
	}
	root, err := os.OpenRoot(string(d))
	if err != nil {
		return nil, fmt.Errorf("secret files: %w", err)
	}
	defer root.Close()
	// Stat before opening, so that a FIFO or device is refused before an
	// open could block on it; the opened file is checked again below.
	fi, err := root.Stat(userID)
	if err != nil {
		return nil, fmt.Errorf("secret files: no secret for user %q: %w", userID, err)
	}
	if err := checkSecretFile(fi); err != nil {
		return nil, fmt.Errorf("secret files: %s: %w", fi.Name(), err)
	}
	f, err := root.Open(userID)
	if err != nil {
		return nil, fmt.Errorf("secret files: no secret for user %q: %w", userID, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("secret files: %w", err)
	}
	if err := checkSecretFile(fi); err != nil {
		return nil, fmt.Errorf("secret files: %s: %w", f.Name(), err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretSz+1))
	if err != nil {
		return nil, fmt.Errorf("secret files: %s: %w", f.Name(), err)
	}
	if len(b) > maxSecretSz {
		return nil, fmt.Errorf("secret files: %s is larger than %d bytes", f.Name(), maxSecretSz)
	}
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("secret files: %s is empty", f.Name())
	}
	return b, nil
}

func checkSecretFile(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (mode %v)", fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("permissions %04o give access to group or others; want 0600 or 0400", perm)
	}
	return nil
}

// SecretEnv returns a SecretSource that reads the secret of user U from the
// environment variable prefix+U (for example GATEHOUSE_PW_ALICE01). A
// missing or empty variable is an error.
func SecretEnv(prefix string) SecretSource { return secretEnv(prefix) }

type secretEnv string

func (p secretEnv) Secret(userID string) ([]byte, error) {
	if userID == "" || strings.ContainsAny(userID, "=\x00") {
		return nil, fmt.Errorf("secret env: user ID %q cannot be part of a variable name", userID)
	}
	name := string(p) + userID
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("secret env: variable %s is not set", name)
	}
	if v == "" {
		return nil, fmt.Errorf("secret env: variable %s is empty", name)
	}
	return []byte(v), nil
}

// WS-Security names used by RenderUsernameToken.
const (
	NSWSSE       = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	PasswordText = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"

	soap11NS = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12NS = "http://www.w3.org/2003/05/soap-envelope"
)

// The renderers below write a credential onto the OUTBOUND request only: they
// take the outbound SOAP Header or HTTP header, never the inbound envelope.
// None of them replaces what is already there. Finding a Security header or
// the target HTTP header already present means something was copied from the
// inbound request (or a credential is being rendered twice), which invariant
// 11 forbids; the renderer then fails and changes nothing.

// RenderUsernameToken adds to outHeader (the outbound envelope's
// soap:Header, in namespace soapNS, SOAP 1.1 or 1.2) a new first header block
//
//	<wsse:Security soap:mustUnderstand="1">
//	  <wsse:UsernameToken>
//	    <wsse:Username>USER</wsse:Username>
//	    <wsse:Password Type="…#PasswordText">SECRET</wsse:Password>
//	  </wsse:UsernameToken>
//	</wsse:Security>
//
// (mustUnderstand "true" in SOAP 1.2). CICS accepts a PassTicket as a
// PasswordText password. It fails if outHeader already has a header block
// named Security in any namespace, and when the user ID or secret is empty,
// invalid UTF-8 or holds control characters (which XML cannot carry
// unchanged). The outbound connection must be TLS: PasswordText is
// cleartext.
//
// wssec.Signer.Sign adds its own Security header; the two cannot be combined
// on one envelope as they stand.
func RenderUsernameToken(outHeader *etree.Element, soapNS string, c Credential) error {
	if outHeader == nil {
		return errors.New("render UsernameToken: no outbound SOAP header")
	}
	if soapNS != soap11NS && soapNS != soap12NS {
		return fmt.Errorf("render UsernameToken: %q is not a SOAP envelope namespace", soapNS)
	}
	if outHeader.Tag != "Header" || outHeader.NamespaceURI() != soapNS {
		return fmt.Errorf("render UsernameToken: element %s is not a SOAP Header in %s", outHeader.FullTag(), soapNS)
	}
	for _, h := range outHeader.ChildElements() {
		if h.Tag == "Security" {
			return fmt.Errorf("render UsernameToken: the outbound header already has a Security block (%s); the inbound one must be removed, not extended", h.NamespaceURI())
		}
	}
	if err := checkText(c.UserID); c.UserID == "" || err != nil {
		return fmt.Errorf("render UsernameToken: user ID %q cannot be sent: %v", c.UserID, orEmpty(err))
	}
	if err := checkText(string(c.Secret)); len(c.Secret) == 0 || err != nil {
		return fmt.Errorf("render UsernameToken: the secret of user %q cannot be sent: %v", c.UserID, orEmpty(err))
	}

	sec := etree.NewElement("wsse:Security")
	sec.CreateAttr("xmlns:wsse", NSWSSE)
	envPrefix := outHeader.Space
	if envPrefix == "" || envPrefix == "wsse" {
		// A default-namespace envelope (attributes need a prefix), or a
		// prefix our own declaration above would shadow.
		envPrefix = "soapenv"
		sec.CreateAttr("xmlns:soapenv", soapNS)
	}
	mu := "1"
	if soapNS == soap12NS {
		mu = "true"
	}
	sec.CreateAttr(envPrefix+":mustUnderstand", mu)
	ut := sec.CreateElement("wsse:UsernameToken")
	ut.CreateElement("wsse:Username").SetText(c.UserID)
	pw := ut.CreateElement("wsse:Password")
	pw.CreateAttr("Type", PasswordText)
	pw.SetText(string(c.Secret))
	outHeader.InsertChildAt(0, sec)
	return nil
}

func orEmpty(err error) any {
	if err == nil {
		return "it is empty"
	}
	return err
}

// checkText refuses what an XML 1.0 text node cannot carry unchanged, and
// what has no place in a Basic user-pass either: invalid UTF-8, control
// characters (XML cannot carry most of them; a CR would be normalized away)
// and the noncharacters U+FFFE and U+FFFF.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("invalid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffe || r == 0xffff {
			return errors.New("contains a control character")
		}
	}
	return nil
}

// RenderBasic sets the outbound Authorization header to HTTP Basic
// (RFC 7617, UTF-8) with the credential. It fails if the header already has
// an Authorization field, if the user ID is empty or contains ":" (the
// receiver would split there and read a different user and password), or if
// either part is invalid UTF-8 or holds control characters. The outbound
// connection must be TLS: Basic is cleartext.
func RenderBasic(h http.Header, c Credential) error {
	if h == nil {
		return errors.New("render Basic: no outbound header")
	}
	if _, exists := h["Authorization"]; exists {
		return errors.New("render Basic: the outbound request already has an Authorization header")
	}
	if c.UserID == "" || strings.Contains(c.UserID, ":") {
		return fmt.Errorf("render Basic: user ID %q is empty or contains a colon", c.UserID)
	}
	if err := checkText(c.UserID); err != nil {
		return fmt.Errorf("render Basic: user ID %q: %v", c.UserID, err)
	}
	if len(c.Secret) == 0 {
		return fmt.Errorf("render Basic: the secret of user %q is empty", c.UserID)
	}
	if err := checkText(string(c.Secret)); err != nil {
		return fmt.Errorf("render Basic: the secret of user %q: %v", c.UserID, err)
	}
	v := make([]byte, 0, len(c.UserID)+1+len(c.Secret))
	v = append(append(append(v, c.UserID...), ':'), c.Secret...)
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(v))
	clear(v)
	return nil
}

// RenderHeader sets the outbound HTTP header name to format with its
// placeholders replaced:
//
//	%u  the user ID
//	%p  the secret (password or PassTicket)
//	%%  a literal percent sign
//
// For example name "X-Legacy-User" with format "%u" sends only the user ID,
// and format "%u:%p" sends both. Any other "%" sequence is an error (see
// CheckHeaderFormat, which configuration loading should call). The result
// must be printable ASCII without leading or trailing space, so that no
// value can inject a header line or be changed by the receiver's trimming.
// name must be a valid field name and not one that frames or routes the
// request (Host, Content-Length, Transfer-Encoding, Connection, …). It fails
// if the header is already present. A format with %p sends the secret in
// cleartext: the outbound connection must be TLS.
func RenderHeader(h http.Header, name string, c Credential, format string) error {
	if h == nil {
		return errors.New("render header: no outbound header")
	}
	if err := checkHeaderName(name); err != nil {
		return fmt.Errorf("render header: %w", err)
	}
	key := http.CanonicalHeaderKey(name)
	if _, exists := h[key]; exists {
		return fmt.Errorf("render header: the outbound request already has a %s header", key)
	}
	v, err := expandHeaderFormat(format, c, false)
	if err != nil {
		return fmt.Errorf("render header %s: %w", key, err)
	}
	h[key] = []string{v}
	return nil
}

// CheckHeaderFormat reports whether format is a valid RenderHeader format:
// not empty, and "%" only in %u, %p and %%.
func CheckHeaderFormat(format string) error {
	_, err := expandHeaderFormat(format, Credential{}, true)
	return err
}

// expandHeaderFormat fills in format; with syntaxOnly it only checks the
// format and returns "".
func expandHeaderFormat(format string, c Credential, syntaxOnly bool) (string, error) {
	if format == "" {
		return "", errors.New("format is empty")
	}
	var b strings.Builder
	usesSecret := false
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		if i+1 == len(format) {
			return "", fmt.Errorf("format %q ends in a lone %%", format)
		}
		i++
		switch format[i] {
		case 'u':
			if !syntaxOnly && c.UserID == "" {
				return "", errors.New("user ID is empty")
			}
			b.WriteString(c.UserID)
		case 'p':
			if !syntaxOnly && len(c.Secret) == 0 {
				return "", fmt.Errorf("the secret of user %q is empty", c.UserID)
			}
			usesSecret = true
			b.Write(c.Secret)
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("format %q: unknown placeholder %%%c (want %%u, %%p or %%%%)", format, format[i])
		}
	}
	if syntaxOnly {
		return "", nil
	}
	v := b.String()
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			if usesSecret {
				// Do not say where: the position could tell a log reader
				// something about the secret.
				return "", fmt.Errorf("the value for user %q contains a character other than printable ASCII", c.UserID)
			}
			return "", fmt.Errorf("the value %q contains a character other than printable ASCII", v)
		}
	}
	if strings.TrimSpace(v) != v {
		return "", errors.New("the value has leading or trailing space")
	}
	return v, nil
}

// reservedHeaders frame, route or connect the request; a credential never
// goes there.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Transfer-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Upgrade": true, "Soapaction": true,
}

func checkHeaderName(name string) error {
	if name == "" {
		return errors.New("header name is empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return fmt.Errorf("header name %q is not a valid field name", name)
		}
	}
	if reservedHeaders[http.CanonicalHeaderKey(name)] {
		return fmt.Errorf("header %s is reserved for the request itself", http.CanonicalHeaderKey(name))
	}
	return nil
}
