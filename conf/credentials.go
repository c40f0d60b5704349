package conf

import (
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
)

// CredentialMap maps a verified principal to a user of a legacy security
// domain and says which credential the outbound call presents for it.
// Sources are tried in order; exactly one credential kind is configured.
type CredentialMap struct {
	Pos
	Name       string
	Domain     string
	UserIDRule string // "racf" (1–8 of A–Z 0–9 # $ @) or "none"
	Sources    []CredentialSource
	PassTicket *PassTicket
	Password   *PasswordSource
}

// CredentialSource is one mapping source: Kind is "attribute" (Value: the
// attribute name), "table" (Value: the mapping file, absolute after Load),
// "pattern" (Value: the rule) or "serviceAccount" (Value: the user id).
type CredentialSource struct {
	Pos
	Kind, Value string
	// Issuer, when set, restricts the source to identities of that issuer
	// (a SAML issuer's entity ID, LocalUsersIssuer).
	Issuer string
}

// pinned reports whether the source maps a subject's name of one issuer
// only, or needs no name: a pattern of the subject's name without an
// issuer (or, for localpart-upper, a mail domain) maps alice of every
// issuer to one user.
func (s *CredentialSource) pinned() bool {
	return s.Kind != "pattern" || s.Issuer != "" || strings.HasPrefix(s.Value, "localpart-upper@")
}

// PassTicket makes RACF PassTickets with the secured signon key in KeyFile
// (hex; 16 digits for classic, 64–512 for enhanced) for Application.
type PassTicket struct {
	Pos
	Algorithm   string // classic, enhanced, enhanced-mixed
	KeyFile     string
	Application string
	key         []byte
}

// Key returns the secured signon key read at load. Never log it.
func (p *PassTicket) Key() []byte { return p.key }

// PasswordSource gives mapped users' passwords: one file per user id in
// SecretDir, or the environment variable Env + user id.
type PasswordSource struct {
	Pos
	SecretDir, Env string
}

// ServiceCredentials is a service's use of a credential map: the map and
// how the credential goes on the outbound call (usernameToken, basic, or
// header with Header as the header name).
type ServiceCredentials struct {
	Pos
	Map, Render, Header string
}

// CredentialMapNamed returns the map of that name, or nil.
func (c *Config) CredentialMapNamed(name string) *CredentialMap {
	for _, m := range c.CredentialMaps {
		if m.Name == name {
			return m
		}
	}
	return nil
}

func (m *CredentialMap) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	*m = CredentialMap{Pos: Pos{Line: startLine(d)}, UserIDRule: "racf"}
	for _, a := range start.Attr {
		switch a.Name.Local {
		case "name":
			m.Name = a.Value
		case "domain":
			m.Domain = a.Value
		case "userIdRule":
			m.UserIDRule = a.Value
		}
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			line := startLine(d)
			attr := func(name string) string {
				for _, a := range t.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			switch t.Name.Local {
			case "attribute":
				m.Sources = append(m.Sources, CredentialSource{Pos{Line: line}, "attribute", attr("name"), attr("issuer")})
			case "table":
				m.Sources = append(m.Sources, CredentialSource{Pos{Line: line}, "table", attr("file"), attr("issuer")})
			case "pattern":
				m.Sources = append(m.Sources, CredentialSource{Pos{Line: line}, "pattern", attr("rule"), attr("issuer")})
			case "serviceAccount":
				m.Sources = append(m.Sources, CredentialSource{Pos{Line: line}, "serviceAccount", attr("user"), attr("issuer")})
			case "passTicket":
				m.PassTicket = &PassTicket{Pos: Pos{Line: line}, Algorithm: attr("algorithm"), KeyFile: attr("keyFile"), Application: attr("application")}
			case "password":
				m.Password = &PasswordSource{Pos: Pos{Line: line}, SecretDir: attr("secretDir"), Env: attr("env")}
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
	}
}

func (s *ServiceCredentials) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain ServiceCredentials
	*s = ServiceCredentials{Pos: Pos{Line: startLine(d)}}
	var raw struct {
		Map    string `xml:"map,attr"`
		Render string `xml:"render,attr"`
		Header string `xml:"header,attr"`
	}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	s.Map, s.Render, s.Header = raw.Map, raw.Render, raw.Header
	if s.Render == "" {
		s.Render = "usernameToken"
	}
	return nil
}

func (c *Config) setCredentialFiles(set func(*Pos)) {
	for _, m := range c.CredentialMaps {
		set(&m.Pos)
		for i := range m.Sources {
			set(&m.Sources[i].Pos)
		}
		if m.PassTicket != nil {
			set(&m.PassTicket.Pos)
		}
		if m.Password != nil {
			set(&m.Password.Pos)
		}
	}
	for _, s := range c.Services {
		if s.Credentials != nil {
			set(&s.Credentials.Pos)
		}
		if s.Composite != nil {
			set(&s.Composite.Pos)
		}
	}
}

// checkCredentialMaps checks the maps and the services' use of them.
func (c *checker) checkCredentialMaps(cfg *Config) {
	names := map[string]*CredentialMap{}
	for _, m := range cfg.CredentialMaps {
		el := fmt.Sprintf("credentialMap name=%q", m.Name)
		if prev, dup := names[m.Name]; dup {
			c.errorf(m.Pos, el, "duplicate credential map name (first at line %d)", prev.Line)
		}
		names[m.Name] = m
		if len(m.Sources) == 0 {
			c.errorf(m.Pos, el, "no mapping source: add attribute, table, pattern or serviceAccount")
		}
		for i := range m.Sources {
			src := &m.Sources[i]
			switch src.Kind {
			case "table":
				src.Value = c.resolve(src.Value)
				if err := checkReadable(src.Value); err != nil {
					c.errorf(src.Pos, el+"/table", "%v", err)
				}
			case "pattern":
				domain, pinned := strings.CutPrefix(src.Value, "localpart-upper@")
				switch {
				case pinned && (domain == "" || strings.ContainsAny(domain, "@ ")):
					c.errorf(src.Pos, el+"/pattern", "rule %q: the mail domain after @ is empty or invalid", src.Value)
				case !pinned && src.Value != "localpart-upper" && src.Value != "upper":
					c.errorf(src.Pos, el+"/pattern", "unknown rule %q (localpart-upper, localpart-upper@DOMAIN, upper)", src.Value)
				}
			}
		}
		switch {
		case (m.PassTicket == nil) == (m.Password == nil):
			c.errorf(m.Pos, el, "exactly one of passTicket and password is needed")
		case m.PassTicket != nil:
			c.checkPassTicket(m.PassTicket, el+"/passTicket")
		case m.Password != nil:
			p := m.Password
			if (p.SecretDir == "") == (p.Env == "") {
				c.errorf(p.Pos, el+"/password", "exactly one of secretDir and env is needed")
			}
			if p.SecretDir != "" {
				p.SecretDir = c.resolve(p.SecretDir)
				if fi, err := os.Stat(p.SecretDir); err != nil || !fi.IsDir() {
					c.errorf(p.Pos, el+"/password", "secretDir %s is not a directory", p.SecretDir)
				}
			}
		}
	}
	issuers := map[string][]string{} // map name → the issuers of the identities it maps
	for _, s := range cfg.Services {
		if sc := s.Credentials; sc != nil {
			el := fmt.Sprintf("service name=%q/credentials", s.Name)
			if names[sc.Map] == nil {
				c.errorf(sc.Pos, el, "unknown credential map %q", sc.Map)
			}
			for _, is := range serviceIssuers(cfg, s) {
				if !slices.Contains(issuers[sc.Map], is) {
					issuers[sc.Map] = append(issuers[sc.Map], is)
				}
			}
			if sc.Render == "header" && sc.Header == "" {
				c.errorf(sc.Pos, el, `render="header" needs a header name`)
			}
		}
	}
	c.checkPinned(cfg, issuers)
}

// checkPinned refuses a map whose subject-name pattern is not pinned to an
// issuer while the services that use it take identities from several: one
// issuer's alice@example.com would be the other's.
func (c *checker) checkPinned(cfg *Config, issuers map[string][]string) {
	for _, m := range cfg.CredentialMaps {
		is := issuers[m.Name]
		if len(is) < 2 {
			continue
		}
		for _, src := range m.Sources {
			if !src.pinned() {
				c.errorf(src.Pos, fmt.Sprintf("credentialMap name=%q/pattern", m.Name),
					"rule %q maps the subjects of every issuer alike, and the services using this map accept %d issuers (%s): pin it with issuer=\"…\" (or localpart-upper@DOMAIN)",
					src.Value, len(is), strings.Join(is, ", "))
			}
		}
	}
}

// serviceIssuers are the issuers the identities of a service can come
// from: its SAML issuers, and the local user store when a UsernameToken
// can be the identity (a WS-Security policy, or a SAML policy that does
// not require an assertion, with a user store configured).
func serviceIssuers(cfg *Config, s *Service) []string {
	var out []string
	if s.SAML != nil {
		out = append(out, s.SAML.Issuers...)
	}
	if cfg.Users != nil && (s.Security != nil || (s.SAML != nil && !s.SAML.Required)) {
		out = append(out, LocalUsersIssuer)
	}
	return out
}

// checkPassTicket reads the secured signon key (hex) and checks the
// application name and algorithm.
func (c *checker) checkPassTicket(p *PassTicket, el string) {
	want := map[string][2]int{"classic": {8, 8}, "enhanced": {32, 256}, "enhanced-mixed": {32, 256}}
	size, ok := want[p.Algorithm]
	if !ok {
		c.errorf(p.Pos, el, "algorithm %q: want classic, enhanced or enhanced-mixed", p.Algorithm)
	}
	if n := len(p.Application); n < 1 || n > 8 || strings.Trim(p.Application, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789#$@") != "" {
		c.errorf(p.Pos, el, "application %q: 1–8 characters from A–Z, 0–9, #, $, @", p.Application)
	}
	p.KeyFile = c.resolve(p.KeyFile)
	data, err := readKeyFile(p.KeyFile)
	if err != nil {
		c.errorf(p.Pos, el, "keyFile %s: %v", p.KeyFile, err)
		return
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		c.errorf(p.Pos, el, "keyFile %s is not hex", p.KeyFile)
		return
	}
	if ok && (len(key) < size[0] || len(key) > size[1]) {
		c.errorf(p.Pos, el, "keyFile %s holds %d bytes; %s needs %d to %d", p.KeyFile, len(key), p.Algorithm, size[0], size[1])
		return
	}
	p.key = key
}

// readKeyFile reads a secured signon key file, refusing it, as credmap
// refuses a mapped user's password file, when group or others have any
// permission on it: whoever reads the key can make PassTickets for every
// user of the application. The mode checked is that of the file read.
func readKeyFile(path string) ([]byte, error) {
	b, mode, err := readSecret(path)
	if err != nil {
		return nil, err
	}
	if perm := mode.Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("permissions %04o give access to group or others; want 0600 or 0400", perm)
	}
	return b, nil
}
