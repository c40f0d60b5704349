package credmap

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/dn"
)

// ErrNoMapping is returned (wrapped) by Map.Resolve when no source maps the
// principal. The gateway turns it into a Sender fault and audits it.
var ErrNoMapping = errors.New("no mapping for principal")

// Principal is what credmap needs to know about the verified caller. The
// gateway fills it from the wssec and samlsts results; credmap never reads
// the message itself.
type Principal struct {
	// Subject is the verified end user (SAML NameID, UsernameToken user),
	// "" for a call made by a workload on its own behalf.
	Subject string
	// SubjectFormat is the NameID Format URI, "" when unknown.
	SubjectFormat string
	// Issuer vouches for Subject (a SAML issuer's entity ID, the local
	// user store): a Source may be restricted to one issuer.
	Issuer string
	// Workload is the verified calling workload (mTLS identity, SPIFFE ID).
	Workload string
	// Attributes are the verified SAML attributes, by name.
	Attributes map[string][]string
}

// Domain is a legacy security domain whose user IDs follow a rule.
type Domain struct {
	Name string
	// UserIDRule accepts or refuses a mapped user ID. It is required: a
	// Domain without a rule maps nobody (there is no "accept anything"
	// default).
	UserIDRule func(userID string) error
}

// RACFUserID is the UserIDRule of a RACF domain: 1 to 8 characters from
// A–Z, 0–9, #, $ and @ (upper case only; the mapping sources upper-case
// where that is wanted). RACF itself accepts a leading digit, TSO and MVS do
// not; a domain that needs the stricter form wraps this rule.
func RACFUserID(userID string) error {
	if userID == "" {
		return errors.New("RACF user ID is empty")
	}
	if len(userID) > 8 {
		return fmt.Errorf("RACF user ID %q is longer than 8 characters", userID)
	}
	for i := 0; i < len(userID); i++ {
		c := userID[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '#' || c == '$' || c == '@') {
			return fmt.Errorf("RACF user ID %q contains a character outside A-Z 0-9 # $ @", userID)
		}
	}
	return nil
}

// Source maps a principal to a user ID of a legacy domain. ok=false means
// this source has nothing to say about the principal and the next one is
// tried; an error refuses the call (no later source is asked).
//
// A Source that implements fmt.Stringer names itself in Mapping.Source and in
// errors; the name must not contain credentials.
type Source interface {
	Map(p Principal) (userID string, ok bool, err error)
}

// Mapping is the result of a resolution. It holds no credentials and is safe
// to log and audit.
type Mapping struct {
	Domain string // Domain.Name
	UserID string
	// Source names the source that mapped: "attribute:racfUserId",
	// "table:FILE", "pattern:localpart-upper", "service-account".
	Source string
}

// Map is an ordered list of sources for one legacy domain.
type Map struct {
	Name    string
	Domain  Domain
	Sources []Source
}

// Resolve asks the sources in order. The first that maps the principal
// decides: its user ID must pass the domain's UserIDRule or the call is
// refused. There is deliberately no fallback to the next source then. The
// first source that claims a principal is the authority for it; an ID it
// produced that the domain refuses means its data is wrong (a typo in the
// table, junk in an attribute, a subject that does not form a valid ID).
// Falling through would let a later, broader source (a pattern, the service
// account) map the same caller to a different legacy identity, turning a
// data error into a silent change of identity. Refusing makes it visible in
// the audit record instead.
//
// The same holds for a source that returns an error, such as an attribute
// with two values: the call is refused, never passed to the next source.
// When no source maps the principal, the error wraps ErrNoMapping.
func (m *Map) Resolve(p Principal) (Mapping, error) {
	if m.Domain.UserIDRule == nil {
		return Mapping{}, fmt.Errorf("credmap %q: domain %q has no user ID rule", m.Name, m.Domain.Name)
	}
	for i, s := range m.Sources {
		if s == nil {
			return Mapping{}, fmt.Errorf("credmap %q: source %d is nil", m.Name, i)
		}
		name := sourceName(s)
		userID, ok, err := s.Map(p)
		if err != nil {
			return Mapping{}, fmt.Errorf("credmap %q: %s: %w", m.Name, name, err)
		}
		if !ok {
			continue
		}
		if err := m.Domain.UserIDRule(userID); err != nil {
			return Mapping{}, fmt.Errorf("credmap %q: %s mapped to a user ID that domain %q refuses: %w", m.Name, name, m.Domain.Name, err)
		}
		return Mapping{Domain: m.Domain.Name, UserID: userID, Source: name}, nil
	}
	return Mapping{}, fmt.Errorf("credmap %q: %w", m.Name, ErrNoMapping)
}

func sourceName(s Source) string {
	if n, ok := s.(fmt.Stringer); ok {
		return n.String()
	}
	return fmt.Sprintf("%T", s)
}

// AttributeSource maps to the single value of the SAML attribute name. A
// principal without the attribute is not mapped here (the next source is
// tried). An attribute with two or more values, even equal ones, is an
// error: the identity it asserts is ambiguous, and choosing one would let
// whoever controls the order of values choose the legacy user. An empty
// value is an error too.
func AttributeSource(name string) Source { return attributeSource(name) }

type attributeSource string

func (a attributeSource) String() string { return "attribute:" + string(a) }

func (a attributeSource) Map(p Principal) (string, bool, error) {
	vs := p.Attributes[string(a)]
	switch {
	case len(vs) == 0:
		return "", false, nil
	case len(vs) > 1:
		return "", false, fmt.Errorf("attribute has %d values; exactly one is required", len(vs))
	case vs[0] == "":
		return "", false, errors.New("attribute value is empty")
	}
	return vs[0], true, nil
}

// ServiceAccountSource maps a workload-only call (Principal.Subject == "",
// Principal.Workload set) to the fixed user. It never maps a call that
// carries a subject: an end user's request must run under that user's
// identity or not at all, never under the service account.
func ServiceAccountSource(user string) Source { return serviceAccount(user) }

type serviceAccount string

func (serviceAccount) String() string { return "service-account" }

func (s serviceAccount) Map(p Principal) (string, bool, error) {
	if p.Subject != "" || p.Workload == "" {
		return "", false, nil
	}
	if s == "" {
		return "", false, errors.New("service account user is empty")
	}
	return string(s), true, nil
}

// IssuerSource restricts s to principals that issuer vouches for: for any
// other principal it has nothing to say (the next source is tried). With it
// a rule that maps by the subject's name maps one issuer's alice only.
func IssuerSource(issuer string, s Source) Source { return issuerSource{issuer, s} }

type issuerSource struct {
	issuer string
	Source
}

func (s issuerSource) String() string { return sourceName(s.Source) + " issuer=" + s.issuer }

func (s issuerSource) Map(p Principal) (string, bool, error) {
	if p.Issuer != s.issuer {
		return "", false, nil
	}
	return s.Source.Map(p)
}

// Pattern rules understood by PatternSource.
const (
	// PatternUpper maps the whole subject, ASCII letters upper-cased:
	// "alice" → "ALICE".
	PatternUpper = "upper"
	// PatternLocalpartUpper maps an e-mail subject to its local part,
	// ASCII letters upper-cased: "alice@example.com" → "ALICE". Any mail
	// domain is accepted, so two IdPs that both assert alice@ their own
	// domain map to the same user; when that matters use
	// "localpart-upper@DOMAIN", which maps only subjects in DOMAIN
	// (compared without regard to ASCII case) and leaves others unmapped.
	PatternLocalpartUpper = "localpart-upper"
)

// NameID formats under which a subject is taken to be an e-mail address.
const (
	nameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	nameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
)

// PatternSource derives the user ID from the subject by a fixed rule:
//
//   - "upper": the whole subject, upper-cased;
//   - "localpart-upper": the local part of an e-mail subject, upper-cased;
//   - "localpart-upper@DOMAIN": the same, only for subjects in DOMAIN.
//
// Only ASCII a–z are upper-cased. Unicode case mapping would turn distinct
// subjects into the same ID ("alıce" with a dotless i upper-cases to
// "ALICE"); other characters are kept and left to the domain's UserIDRule.
// A call without a subject is not mapped. "localpart-upper" maps only
// subjects with exactly one "@" and non-empty parts, whose SubjectFormat is
// empty, unspecified or emailAddress; other subjects are not mapped (the
// next source is tried). The result must then pass the domain's UserIDRule.
func PatternSource(rule string) (Source, error) {
	switch {
	case rule == PatternUpper, rule == PatternLocalpartUpper:
		return patternSource{rule: rule}, nil
	case strings.HasPrefix(rule, PatternLocalpartUpper+"@"):
		domain := strings.TrimPrefix(rule, PatternLocalpartUpper+"@")
		if domain == "" || strings.Contains(domain, "@") {
			return nil, fmt.Errorf("pattern %q: the mail domain after @ is empty or invalid", rule)
		}
		return patternSource{rule: rule, domain: domain}, nil
	}
	return nil, fmt.Errorf("unknown pattern %q (supported: %s, %s, %s@DOMAIN)", rule, PatternUpper, PatternLocalpartUpper, PatternLocalpartUpper)
}

type patternSource struct {
	rule   string
	domain string // "" for any domain
}

func (s patternSource) String() string { return "pattern:" + s.rule }

func (s patternSource) Map(p Principal) (string, bool, error) {
	if p.Subject == "" {
		return "", false, nil
	}
	if s.rule == PatternUpper {
		return asciiUpper(p.Subject), true, nil
	}
	switch p.SubjectFormat {
	case "", nameIDUnspecified, nameIDEmail:
	default:
		return "", false, nil
	}
	local, domain, found := strings.Cut(p.Subject, "@")
	if !found || local == "" || domain == "" || strings.Contains(domain, "@") {
		return "", false, nil
	}
	if s.domain != "" && !asciiEqualFold(domain, s.domain) {
		return "", false, nil
	}
	return asciiUpper(local), true, nil
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// asciiEqualFold compares without regard to ASCII case only; unlike
// strings.EqualFold it does not equate the Kelvin sign with "k".
func asciiEqualFold(a, b string) bool {
	return len(a) == len(b) && asciiUpper(a) == asciiUpper(b)
}

// Limits of the table file format.
const (
	// TableNamespace is the namespace of the XML table format.
	TableNamespace = "urn:gatehouse:credmap:1"

	maxTableBytes = 32 << 20
)

// Table maps subjects and workloads to user IDs, from a file. It is safe for
// concurrent use; Reload replaces the whole table at once.
//
// The file's format follows its extension.
//
// XML (".xml"), namespace urn:gatehouse:credmap:1:
//
//	<mappings xmlns="urn:gatehouse:credmap:1">
//	  <map subject="alice@example.com" user="ALICE01"/>
//	  <map workload="spiffe://example.org/batch" user="BATCH01"/>
//	</mappings>
//
// Each map has exactly one of subject and workload, and user; no other
// attributes, no content. DOCTYPE declarations are refused.
//
// CSV (".csv"): a header line "kind,name,user", then one line per entry with
// kind "subject" or "workload". Lines starting with "#" are comments.
//
// In both formats keys and users are compared exactly (case matters), must
// not be empty or carry leading or trailing white space, and a key given
// twice (same kind, same name) is an error. All problems of a file are
// reported at once, each as "FILE:LINE: message". Apart from the XML
// parser's own syntax messages, they repeat no field content except the key
// of a duplicate, which has passed the checks above.
type Table struct {
	path     string
	reloadMu sync.Mutex // serializes Reload, so that an older read never replaces a newer one
	cur      atomic.Pointer[tableData]
}

// tableData is immutable once built; readers hold a pointer to one version.
type tableData struct {
	subjects  map[string]string
	workloads map[string]string
}

// LoadTable reads the table file at path (".xml" or ".csv").
func LoadTable(path string) (*Table, error) {
	d, err := readTable(path)
	if err != nil {
		return nil, err
	}
	t := &Table{path: path}
	t.cur.Store(d)
	return t, nil
}

// Reload reads the file again and replaces the table in one step: readers see
// either the old table or the new one, never a mix. When the file is invalid
// the old table stays in use and the error is returned.
func (t *Table) Reload() error {
	t.reloadMu.Lock()
	defer t.reloadMu.Unlock()
	d, err := readTable(t.path)
	if err != nil {
		return err
	}
	t.cur.Store(d)
	return nil
}

// Path returns the file the table was loaded from.
func (t *Table) Path() string { return t.path }

// Len returns the number of entries in the current table.
func (t *Table) Len() int {
	d := t.cur.Load()
	return len(d.subjects) + len(d.workloads)
}

// Source returns a Source backed by the table, named "table:FILE". A call
// with a subject is looked up by subject only; a call without one by its
// workload. A workload's entry is never used for a call that carries a
// subject, for the reason given at ServiceAccountSource.
func (t *Table) Source() Source { return tableSource{t} }

type tableSource struct{ t *Table }

func (s tableSource) String() string { return "table:" + s.t.path }

func (s tableSource) Map(p Principal) (string, bool, error) {
	d := s.t.cur.Load()
	var user string
	var ok bool
	if p.Subject != "" {
		user, ok = d.subjects[p.Subject]
	} else if p.Workload != "" {
		user, ok = d.workloads[dn.Key(p.Workload)]
	}
	return user, ok, nil
}

func readTable(path string) (*tableData, error) {
	var parse func(string, []byte) (*tableData, error)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xml":
		parse = parseXMLTable
	case ".csv":
		parse = parseCSVTable
	default:
		return nil, fmt.Errorf("%s: unknown table format (the file name must end in .xml or .csv)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTableBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxTableBytes {
		return nil, fmt.Errorf("%s: table is larger than %d bytes", path, maxTableBytes)
	}
	return parse(path, data)
}

// tableBuilder collects entries and problems while a file is parsed.
type tableBuilder struct {
	file  string
	data  tableData
	lines map[string]int // kind+"\x00"+key → line of first definition
	errs  []error
}

func newTableBuilder(file string) *tableBuilder {
	return &tableBuilder{
		file:  file,
		data:  tableData{subjects: map[string]string{}, workloads: map[string]string{}},
		lines: map[string]int{},
	}
}

func (b *tableBuilder) errorf(line int, format string, args ...any) {
	b.errs = append(b.errs, fmt.Errorf("%s:%d: %s", b.file, line, fmt.Sprintf(format, args...)))
}

func (b *tableBuilder) add(line int, kind, key, user string) {
	var m map[string]string
	switch kind {
	case "subject":
		m = b.data.subjects
	case "workload":
		m = b.data.workloads
	default:
		b.errorf(line, "unknown kind (want subject or workload)")
		return
	}
	bad := false
	if err := checkTableValue(key); err != nil {
		b.errorf(line, "%s %v", kind, err)
		bad = true
	}
	if err := checkTableValue(user); err != nil {
		b.errorf(line, "user %v", err)
		bad = true
	}
	if bad {
		return
	}
	index := key
	if kind == "workload" {
		index = dn.Key(key) // a certificate DN names one workload however it is spelled
	}
	id := kind + "\x00" + index
	if first, dup := b.lines[id]; dup {
		b.errorf(line, "duplicate %s %q (first at line %d)", kind, key, first)
		return
	}
	b.lines[id] = line
	m[index] = user
}

func (b *tableBuilder) result() (*tableData, error) {
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	return &b.data, nil
}

func checkTableValue(v string) error {
	if v == "" {
		return errors.New("is empty")
	}
	if strings.TrimSpace(v) != v {
		return errors.New("has leading or trailing white space")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return errors.New("contains a control character or invalid UTF-8")
		}
	}
	return nil
}

func parseXMLTable(file string, data []byte) (*tableData, error) {
	b := newTableBuilder(file)
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, errors.New("only UTF-8 is accepted")
	}
	depth := 0
	seenRoot := false
	for {
		// Before a token is read the offset is at its first character:
		// white space between elements is a token of its own.
		line, _ := dec.InputPos()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				b.errorf(se.Line, "%s", se.Msg)
			} else {
				b.errorf(line, "%v", err)
			}
			return nil, errors.Join(b.errs...)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			switch depth {
			case 1:
				if seenRoot {
					b.errorf(line, "a second root element %s follows mappings", xmlName(tok.Name))
					return nil, errors.Join(b.errs...)
				}
				seenRoot = true
				if tok.Name.Space != TableNamespace || tok.Name.Local != "mappings" {
					name := xmlName(tok.Name)
					if tok.Name.Space == "" {
						name += " without a namespace"
					}
					b.errorf(line, "root element is %s; want mappings in namespace %s", name, TableNamespace)
					return nil, errors.Join(b.errs...)
				}
				for _, a := range tok.Attr {
					if !isNamespaceDecl(a) {
						b.errorf(line, "mappings: attribute %s is not allowed", xmlName(a.Name))
					}
				}
			case 2:
				if tok.Name.Space != TableNamespace || tok.Name.Local != "map" {
					b.errorf(line, "element %s is not allowed in mappings (only map)", xmlName(tok.Name))
					if err := dec.Skip(); err != nil {
						b.errorf(line, "%v", err)
						return nil, errors.Join(b.errs...)
					}
					depth--
					continue
				}
				readMapElement(b, line, tok)
			default:
				b.errorf(line, "map must be empty; found element %s", xmlName(tok.Name))
				if err := dec.Skip(); err != nil {
					b.errorf(line, "%v", err)
					return nil, errors.Join(b.errs...)
				}
				depth--
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if trimmed := bytes.TrimLeft(tok, " \t\r\n"); len(trimmed) > 0 {
				// Report the line where the text starts, not where the
				// white space before it does.
				b.errorf(line+bytes.Count(tok[:len(tok)-len(trimmed)], []byte("\n")), "unexpected text")
			}
		case xml.Comment:
		case xml.ProcInst:
			if tok.Target != "xml" {
				b.errorf(line, "processing instructions are not allowed")
			}
		case xml.Directive:
			b.errorf(line, "DOCTYPE and other declarations are not allowed")
			return nil, errors.Join(b.errs...)
		}
	}
	if !seenRoot {
		b.errorf(1, "no mappings element")
	}
	return b.result()
}

func readMapElement(b *tableBuilder, line int, el xml.StartElement) {
	var kind, key, user string
	seen := map[string]bool{}
	bad := false
	for _, a := range el.Attr {
		if isNamespaceDecl(a) {
			continue
		}
		if a.Name.Space != "" {
			b.errorf(line, "map: attribute %s is not allowed", xmlName(a.Name))
			bad = true
			continue
		}
		if seen[a.Name.Local] {
			b.errorf(line, "map: attribute %s is given twice", a.Name.Local)
			bad = true
			continue
		}
		seen[a.Name.Local] = true
		switch a.Name.Local {
		case "subject", "workload":
			if kind != "" {
				b.errorf(line, "map: has both subject and workload; give exactly one")
				bad = true
				continue
			}
			kind, key = a.Name.Local, a.Value
		case "user":
			user = a.Value
		default:
			b.errorf(line, "map: attribute %s is not allowed (want subject or workload, and user)", a.Name.Local)
			bad = true
		}
	}
	if kind == "" {
		b.errorf(line, "map: needs a subject or a workload attribute")
		bad = true
	}
	if !seen["user"] {
		b.errorf(line, "map: needs a user attribute")
		bad = true
	}
	if !bad {
		b.add(line, kind, key, user)
	}
}

func isNamespaceDecl(a xml.Attr) bool {
	return a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
}

func xmlName(n xml.Name) string {
	if n.Space == "" || n.Space == TableNamespace {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

func parseCSVTable(file string, data []byte) (*tableData, error) {
	b := newTableBuilder(file)
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a BOM some editors write
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = 3
	r.Comment = '#'
	header := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
			if header {
				b.errorf(pe.Line, "the first line must be the header kind,name,user")
				return nil, errors.Join(b.errs...)
			}
			b.errorf(pe.Line, "want 3 fields (kind,name,user), found %d", len(rec))
			continue
		}
		if err != nil {
			if errors.As(err, &pe) {
				b.errorf(pe.Line, "%v", pe.Err)
			} else {
				b.errorf(0, "%v", err)
			}
			return nil, errors.Join(b.errs...)
		}
		line, _ := r.FieldPos(0)
		if header {
			header = false
			if rec[0] != "kind" || rec[1] != "name" || rec[2] != "user" {
				b.errorf(line, "the first line must be the header kind,name,user")
				return nil, errors.Join(b.errs...)
			}
			continue
		}
		b.add(line, rec[0], rec[1], rec[2])
	}
	if header {
		b.errorf(1, "the first line must be the header kind,name,user")
	}
	return b.result()
}
