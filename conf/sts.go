package conf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/dn"
)

// DirectoryNamespace is the XML namespace of a directory file.
const DirectoryNamespace = "urn:gatehouse:directory:1"

// DirectorySchemaName is the embedded XSD (schemas/std) a directory file
// is validated against.
const DirectorySchemaName = "gatehouse-directory.xsd"

// Defaults for the STS.
const (
	DefaultSTSLifetime    = 5 * time.Minute
	DefaultSTSMaxLifetime = time.Hour
)

// maxSTSLifetime bounds sts/@maxLifetime: a bearer assertion valid for
// longer is a long-lived credential, which the STS exists to avoid.
const maxSTSLifetime = 24 * time.Hour

// signingKeys names the keys an STS may sign assertions with, for messages.
const signingKeys = "want RSA of at least 2048 bits, or ECDSA P-256 or P-384"

// STS is the built-in WS-Trust security token service: it issues SAML
// assertions as EntityID about the subjects of its Directory, signed with
// the key Signer returns. Config.STS is nil when the configuration has no
// sts element.
type STS struct {
	Pos
	Path     string // a clean absolute URL path, not a service's on Listener
	Listener string // the listener's name; filled in when there is only one
	EntityID string // the Issuer of the assertions: an absolute URI
	// The PEM files of the signing certificate and key; Load makes them
	// absolute, loads them and checks that they belong together.
	SigningCertificate string
	SigningKey         string
	Lifetime           time.Duration // of an issued assertion; default 5m
	MaxLifetime        time.Duration // the longest a requester may ask for; default 1h, at most 24h
	MetadataPath       string        // default Path + "/metadata"
	Directory          Directory
	Authentication     STSAuthentication
	Delegations        []Delegation

	// A pointer, so that printing an STS shows an address, not the key.
	keys *stsKeys
}

type stsKeys struct {
	signer crypto.Signer
	cert   *x509.Certificate
}

// Signer returns the key the STS signs assertions with: RSA of at least
// 2048 bits, or ECDSA P-256 or P-384. Never log it.
func (s *STS) Signer() crypto.Signer {
	if s == nil || s.keys == nil {
		return nil
	}
	return s.keys.signer
}

// Certificate returns the certificate of Signer's key, which had not
// expired when Load ran. It is shared: do not modify it.
func (s *STS) Certificate() *x509.Certificate {
	if s == nil || s.keys == nil {
		return nil
	}
	return s.keys.cert
}

// MayDelegate reports whether the caller actor (a workload id) may ask for
// an assertion about another subject (ActAs, OnBehalfOf) for audience,
// presenting that subject's token issued for tokenAudience: a delegation
// element names exactly this actor and audience and lists tokenAudience
// among its tokenAudiences. Nobody may otherwise.
func (s *STS) MayDelegate(actor, audience, tokenAudience string) bool {
	if s == nil || actor == "" {
		return false
	}
	return slices.ContainsFunc(s.Delegations, func(d Delegation) bool {
		return sameWorkload(d.Actor, actor) && d.Audience == audience && slices.Contains(d.TokenAudiences, tokenAudience)
	})
}

// MayVouch reports whether the caller actor may name the subject of an
// assertion for audience by a UsernameToken without password (ActAs,
// OnBehalfOf): a delegation element for this actor and audience has
// vouchesForUsers="true".
func (s *STS) MayVouch(actor, audience string) bool {
	if s == nil || actor == "" {
		return false
	}
	return slices.ContainsFunc(s.Delegations, func(d Delegation) bool {
		return d.Actor == actor && d.Audience == audience && d.VouchesForUsers
	})
}

// Format prints the path, the entity ID and the number of subjects for
// every verb, so that what an STS prints never depends on how fmt walks
// the key material it holds.
func (s STS) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "sts path=%s entityID=%s (%s)", s.Path, s.EntityID, plural(len(s.Directory.entries()), "subject"))
}

// STSAuthentication is how requesters may authenticate to the STS; Load
// requires at least one.
type STSAuthentication struct {
	Pos
	// UsernameToken: a WS-Security UsernameToken of the user store; the
	// requester is the subject whose Username it is.
	UsernameToken bool `xml:"usernameToken,attr"`
	// Certificate: the TLS client certificate; the requester is the
	// subject whose Workload is the caller's workload id.
	Certificate bool `xml:"certificate,attr"`
}

// Delegation lets the caller Actor (a workload id) ask for assertions
// about other subjects (ActAs, OnBehalfOf) for Audience, which is the
// audience of a service's SAML policy, with a subject's token that was
// issued for one of TokenAudiences (each the audience of a service's SAML
// policy: typically the actor's own service, to which the subject sent
// it).
type Delegation struct {
	Pos
	Actor          string
	Audience       string
	TokenAudiences []string
	// VouchesForUsers lets Actor name the subject by a UsernameToken
	// without password (it vouches for the user).
	VouchesForUsers bool
}

// Directory is the STS's identity source, kept in its own file (namespace
// DirectoryNamespace). Load makes File absolute, validates the file
// against its schema and reads it.
type Directory struct {
	Pos
	File string `xml:"file,attr"`

	list *directoryList // nil until Load has read the file
}

type directoryList struct{ entries []DirectoryEntry }

// Entries returns the subjects in file order, as a deep copy: changing it
// changes nothing in the Directory.
func (d *Directory) Entries() []DirectoryEntry {
	entries := slices.Clone(d.entries())
	for i := range entries {
		e := &entries[i]
		e.Roles = slices.Clone(e.Roles)
		if e.Attributes != nil {
			attrs := make(map[string][]string, len(e.Attributes))
			for name, values := range e.Attributes {
				attrs[name] = slices.Clone(values)
			}
			e.Attributes = attrs
		}
	}
	return entries
}

// entries returns the subjects without copying them.
func (d *Directory) entries() []DirectoryEntry {
	if d == nil || d.list == nil {
		return nil
	}
	return d.list.entries
}

// Format prints the file and the number of subjects for every verb.
func (d Directory) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "directory file=%s (%s)", d.File, plural(len(d.entries()), "subject"))
}

// DirectoryEntry is one subject of the directory.
type DirectoryEntry struct {
	NameID string // unique in the directory
	Format string // the NameID Format, an absolute URI; "" when not written (unspecified)
	// Username is the user of the user store who authenticates as this
	// subject with a UsernameToken; Workload is the TLS caller (SPIFFE ID
	// or certificate DN) who does. "" for none; each belongs to at most
	// one subject.
	Username   string
	Workload   string
	Roles      []string            // each once, in file order
	Attributes map[string][]string // nil when none; values in file order
	Line       int                 // the subject element's line in Directory.File
}

func (s *STS) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Path               string            `xml:"path,attr"`
		Listener           string            `xml:"listener,attr"`
		EntityID           string            `xml:"entityID,attr"`
		SigningCertificate string            `xml:"signingCertificate,attr"`
		SigningKey         string            `xml:"signingKey,attr"`
		Lifetime           string            `xml:"lifetime,attr"`
		MaxLifetime        string            `xml:"maxLifetime,attr"`
		MetadataPath       string            `xml:"metadataPath,attr"`
		Directory          Directory         `xml:"directory"`
		Authentication     STSAuthentication `xml:"authentication"`
		Delegations        []Delegation      `xml:"delegation"`
	}
	*s = STS{Pos: Pos{Line: startLine(d)}, Lifetime: DefaultSTSLifetime, MaxLifetime: DefaultSTSMaxLifetime}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	s.Path, s.Listener, s.EntityID = raw.Path, raw.Listener, strings.TrimSpace(raw.EntityID)
	s.SigningCertificate, s.SigningKey = raw.SigningCertificate, raw.SigningKey
	// Left empty when not written: the default follows from a Path the
	// checks have accepted.
	s.MetadataPath = raw.MetadataPath
	s.Directory, s.Authentication, s.Delegations = raw.Directory, raw.Authentication, raw.Delegations
	return firstErr(
		parseDuration(&s.Lifetime, raw.Lifetime, s.Line, "lifetime"),
		parseDuration(&s.MaxLifetime, raw.MaxLifetime, s.Line, "maxLifetime"),
	)
}

func (a *STSAuthentication) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain STSAuthentication
	*a = STSAuthentication{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(a), &start)
}

func (g *Delegation) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Actor           string `xml:"actor,attr"`
		Audience        string `xml:"audience,attr"`
		TokenAudiences  string `xml:"tokenAudiences,attr"`
		VouchesForUsers bool   `xml:"vouchesForUsers,attr"`
	}
	*g = Delegation{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	g.Actor, g.Audience, g.TokenAudiences = raw.Actor, strings.TrimSpace(raw.Audience), strings.Fields(raw.TokenAudiences)
	g.VouchesForUsers = raw.VouchesForUsers
	return nil
}

func (dir *Directory) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Directory
	*dir = Directory{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(dir), &start)
}

// subjectElement is a subject element of the directory file.
type subjectElement struct {
	Line       int
	NameID     string   `xml:"nameID,attr"`
	Format     string   `xml:"format,attr"`
	Username   string   `xml:"username,attr"`
	Workload   string   `xml:"workload,attr"`
	Roles      []string `xml:"role"`
	Attributes []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:",chardata"`
	} `xml:"attribute"`
}

func (e *subjectElement) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain subjectElement
	*e = subjectElement{Line: startLine(d)}
	return d.DecodeElement((*plain)(e), &start)
}

// Checks.

// checkSTS checks the STS after the services: its paths must not be
// theirs, and its delegations name their audiences.
func (c *checker) checkSTS(cfg *Config) {
	s := cfg.STS
	if s == nil {
		return
	}
	const el = "sts"
	pathOK := c.checkURLPath(s.Pos, el, "path", s.Path)
	metaOK := false
	switch {
	case s.MetadataPath != "":
		metaOK = c.checkURLPath(s.Pos, el, "metadataPath", s.MetadataPath)
	case pathOK:
		s.MetadataPath = strings.TrimSuffix(s.Path, "/") + "/metadata"
		metaOK = true
	}
	if pathOK && metaOK && s.MetadataPath == s.Path {
		c.errorf(s.Pos, el, "metadataPath %s is the STS's path", s.MetadataPath)
		metaOK = false
	}
	if c.resolveListener(cfg, s.Pos, el, &s.Listener) {
		for _, svc := range cfg.Services {
			if svc.Listener != s.Listener {
				continue
			}
			if pathOK && svc.Path == s.Path {
				c.errorf(s.Pos, el, "path %s on listener %q is already served by service %q (line %d)", s.Path, s.Listener, svc.Name, svc.Line)
			}
			if metaOK && svc.Path == s.MetadataPath {
				c.errorf(s.Pos, el, "metadataPath %s on listener %q is already served by service %q (line %d)", s.MetadataPath, s.Listener, svc.Name, svc.Line)
			}
		}
	}
	if !isAbsoluteURI(s.EntityID) {
		c.errorf(s.Pos, el, "entityID %q is not an absolute URI", s.EntityID)
	}
	c.checkSTSKeys(cfg, s, el)
	c.checkDuration(s.Pos, el, "lifetime", s.Lifetime)
	c.checkDuration(s.Pos, el, "maxLifetime", s.MaxLifetime)
	if s.MaxLifetime > maxSTSLifetime {
		c.errorf(s.Pos, el, "maxLifetime %s is above the maximum of %s", s.MaxLifetime, maxSTSLifetime)
	}
	if s.Lifetime > s.MaxLifetime {
		c.errorf(s.Pos, el, "lifetime %s is above maxLifetime %s", s.Lifetime, s.MaxLifetime)
	}

	c.checkDirectory(cfg, &s.Directory)

	a := &s.Authentication
	if !a.UsernameToken && !a.Certificate {
		c.errorf(a.Pos, el+"/authentication", `usernameToken and certificate are both false, so no requester could authenticate: set at least one to "true"`)
	}
	if a.UsernameToken && cfg.Users == nil {
		c.errorf(a.Pos, el+"/authentication", `usernameToken is "true", but there is no users element (user store)`)
	}

	var audiences []string
	for _, svc := range cfg.Services {
		if svc.SAML != nil {
			audiences = append(audiences, svc.SAML.Audience)
		}
	}
	known := "no service has a saml element"
	if len(audiences) > 0 {
		known = "audiences: " + strings.Join(audiences, ", ")
	}
	type grant struct{ actor, audience string }
	seen := map[grant]int{}
	for i := range s.Delegations {
		d := &s.Delegations[i]
		del := el + "/delegation"
		if d.Actor == "" {
			c.errorf(d.Pos, del, "actor is empty")
		} else if err := workloadIDError(d.Actor); err != nil {
			c.errorf(d.Pos, del, "actor: %v", err)
		}
		if !slices.Contains(audiences, d.Audience) {
			c.errorf(d.Pos, del, "audience %q is not the audience of any service's saml element (%s)", d.Audience, known)
		}
		// The STS issues tokens only for service audiences, so a token for
		// any other could never be presented.
		for j, ta := range d.TokenAudiences {
			switch {
			case slices.Contains(d.TokenAudiences[:j], ta):
				c.errorf(d.Pos, del, "tokenAudiences lists %q twice", ta)
			case !slices.Contains(audiences, ta):
				c.errorf(d.Pos, del, "tokenAudiences: %q is not the audience of any service's saml element (%s)", ta, known)
			}
		}
		key := grant{dn.Key(d.Actor), d.Audience}
		if line, dup := seen[key]; dup {
			c.errorf(d.Pos, del, "actor %q may already delegate for audience %q (line %d)", d.Actor, d.Audience, line)
		} else {
			seen[key] = d.Line
		}
	}
}

// checkSTSKeys loads the signing key and certificate: they belong
// together, the key is one assertions may be signed with, and the
// certificate has not expired.
func (c *checker) checkSTSKeys(cfg *Config, s *STS, el string) {
	s.SigningCertificate, s.SigningKey = c.resolve(s.SigningCertificate), c.resolve(s.SigningKey)
	pair, ok := c.keyPair(s.Pos, el, s.SigningCertificate, s.SigningKey)
	if !ok {
		return
	}
	key, cert := pair.PrivateKey.(crypto.Signer), pair.Leaf
	if err := checkSigningKey(key); err != nil {
		c.errorf(s.Pos, el, "signingKey %s: %v", s.SigningKey, err)
		ok = false
	}
	if !c.checkExpiry(s.Pos, el, s.SigningCertificate, cert, true) {
		ok = false
	}
	if !ok {
		return
	}
	s.keys = &stsKeys{signer: key, cert: cert}

	// Services here accept this STS's assertions through the samlIssuer of
	// its entityID: that issuer must pin the certificate.
	i := cfg.SAMLIssuer(s.EntityID)
	if i == nil {
		return
	}
	if t := cfg.TrustStore(i.Trust); t != nil && len(t.pinned) > 0 && !slices.ContainsFunc(t.pinned, cert.Equal) {
		c.errorf(s.Pos, el, "signing certificate %s is not pinned in trust store %q of samlIssuer %q (line %d): services here would refuse the assertions this STS issues",
			s.SigningCertificate, i.Trust, i.EntityID, i.Line)
	}
}

// checkSigningKey checks that key may sign assertions (invariant 6: RSA or
// ECDSA; P-521 and Ed25519 are not among the algorithms relying parties
// are expected to accept).
func checkSigningKey(key crypto.Signer) error {
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is too small (%s)", k.N.BitLen(), signingKeys)
		}
		return nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("ECDSA curve %s is not allowed for signing assertions (%s)", k.Curve.Params().Name, signingKeys)
	case ed25519.PublicKey:
		return fmt.Errorf("key type Ed25519 is not allowed for signing assertions (%s)", signingKeys)
	}
	return fmt.Errorf("key type %T is not allowed for signing assertions (%s)", key.Public(), signingKeys)
}

// checkDirectory reads the directory file. Like the user store's, its
// problems carry its own name and lines.
func (c *checker) checkDirectory(cfg *Config, dir *Directory) {
	file, data, ok := c.readDocument(dir.Pos, "sts/directory", &dir.File, DirectorySchemaName, DirectoryNamespace)
	if !ok {
		return
	}
	var doc struct {
		Subjects []subjectElement `xml:"subject"`
	}
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		c.errs = append(c.errs, &Error{File: file, Msg: err.Error()})
		return
	}
	// nil when there is no user store to check usernames against.
	var users map[string]bool
	for _, u := range cfg.Users.entries() {
		if users == nil {
			users = map[string]bool{}
		}
		users[u.Name] = true
	}

	list := &directoryList{}
	nameIDs := map[string]int{}
	usernames := map[string]subjectElement{}
	workloads := map[string]subjectElement{}
	for _, se := range doc.Subjects {
		el := fmt.Sprintf("subject nameID=%q", se.NameID)
		errorf := func(format string, args ...any) {
			c.errs = append(c.errs, &Error{File: file, Line: se.Line, Element: el, Msg: fmt.Sprintf(format, args...)})
		}
		if line, dup := nameIDs[se.NameID]; dup {
			errorf("duplicate nameID (first at line %d)", line)
		} else {
			nameIDs[se.NameID] = se.Line
		}
		if se.Format != "" && !isAbsoluteURI(strings.TrimSpace(se.Format)) {
			errorf("format %q is not an absolute URI", se.Format)
		}
		if se.Username != "" {
			if prev, dup := usernames[se.Username]; dup {
				errorf("username %q is already claimed by subject %q (line %d): a user must authenticate as one subject only", se.Username, prev.NameID, prev.Line)
			} else {
				usernames[se.Username] = se
			}
			if users != nil && !users[se.Username] {
				c.warnings = append(c.warnings, &Error{File: file, Line: se.Line, Element: el,
					Msg: fmt.Sprintf("username %q is not in the user store %s, so nobody can authenticate as this subject with a UsernameToken", se.Username, cfg.Users.File)})
			}
		}
		if se.Workload != "" {
			if err := workloadIDError(se.Workload); err != nil {
				errorf("%v", err)
			} else if prev, dup := workloads[dn.Key(se.Workload)]; dup {
				errorf("workload %q is already claimed by subject %q (line %d): a caller must authenticate as one subject only", se.Workload, prev.NameID, prev.Line)
			} else {
				workloads[dn.Key(se.Workload)] = se
			}
		}
		if v, dup := firstDuplicate(se.Roles); dup {
			errorf("role %s is listed twice", v)
		}
		entry := DirectoryEntry{
			NameID:   se.NameID,
			Format:   strings.TrimSpace(se.Format),
			Username: se.Username,
			Workload: se.Workload,
			Roles:    se.Roles,
			Line:     se.Line,
		}
		for _, a := range se.Attributes {
			if entry.Attributes == nil {
				entry.Attributes = map[string][]string{}
			}
			entry.Attributes[a.Name] = append(entry.Attributes[a.Name], a.Value)
		}
		list.entries = append(list.entries, entry)
	}
	dir.list = list
}
