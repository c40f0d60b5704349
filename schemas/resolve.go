package schemas

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unsafe"
)

const (
	xsdNamespace = "http://www.w3.org/2001/XMLSchema"

	// generatedScheme names the wrapper documents CompileFiles writes.
	generatedScheme = "generated"

	maxSchemaBytes = 16 << 20 // one schema document
	maxLocation    = 4096     // one schemaLocation
)

// resolver answers libxml2's schemaLocation look-ups during one
// compilation: embedded documents (by name or by their published URL),
// generated wrappers, and local files inside the allowed directories.
// Everything else is refused and remembered for the error message.
type resolver struct {
	allowed   []string          // absolute, clean, symlinks resolved
	generated map[string][]byte // generated:/… documents and inline schemas
	inlineNS  map[string]string // namespace → URL of the first inline schema of it
	// bundles are the namespaces imported from several locations, each
	// with the generated schema that includes all of them (see bundle).
	bundles  map[string]string
	docs     map[string]*schemaDoc
	refusals []refusal
	cmem     []unsafe.Pointer // C copies handed to libxml2; freed after compilation
}

// schemaDoc is a schema document ready for libxml2: checked, and with
// schemaLocations added for namespace-only imports of catalogued namespaces.
type schemaDoc struct {
	url  string // canonical: embedded:/NAME, generated:/NAME or file:///PATH
	data []byte
	tns  string // targetNamespace
}

type refusal struct {
	from     string // URL of the document holding the reference, if known
	line     int
	location string // as written in the document, or as libxml2 asked for it
	resolved string // absolute form, to match libxml2's own messages
	reason   string
}

// source is where a location resolves to.
type source struct {
	kind string // embeddedScheme, generatedScheme or "file"
	key  string // embedded name, generated URL or clean absolute path
	real string // for files: the path with symlinks resolved, which was checked
}

func newResolver() *resolver {
	return &resolver{generated: map[string][]byte{}, inlineNS: map[string]string{}, bundles: map[string]string{}, docs: map[string]*schemaDoc{}}
}

// allow adds directories whose files (and subdirectories) may be loaded.
func (r *resolver) allow(dirs ...string) error {
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("allowed directory %q is not an absolute path", d)
		}
		real, err := filepath.EvalSymlinks(filepath.Clean(d))
		if err != nil {
			return fmt.Errorf("allowed directory %s: %w", d, err)
		}
		r.allowed = append(r.allowed, real)
	}
	return nil
}

func (r *resolver) inside(path string) bool {
	for _, d := range r.allowed {
		rel, err := filepath.Rel(d, path)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// locate decides where a schemaLocation may be read from, without reading.
func (r *resolver) locate(loc string) (source, error) {
	if _, ok := r.generated[loc]; ok {
		return source{kind: generatedScheme, key: loc}, nil
	}
	if name, ok := catalogURL(loc); ok {
		return source{kind: embeddedScheme, key: name}, nil
	}
	if len(loc) > maxLocation {
		return source{}, errors.New("the location is too long")
	}
	u, err := url.Parse(loc)
	if err != nil {
		return source{}, errors.New("not a valid URI")
	}
	switch strings.ToLower(u.Scheme) {
	case embeddedScheme:
		name := strings.TrimPrefix(u.Path, "/")
		if u.Opaque != "" {
			name = u.Opaque
		}
		if _, ok := embedded(name); !ok {
			return source{}, errors.New("no such embedded schema")
		}
		return source{kind: embeddedScheme, key: name}, nil
	case generatedScheme:
		if _, ok := r.generated[loc]; !ok {
			return source{}, errors.New("no such generated schema")
		}
		return source{kind: generatedScheme, key: loc}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return source{}, errors.New("file URLs with a host are not allowed")
		}
		return r.locateFile(u.Path)
	case "":
		if filepath.IsAbs(loc) {
			return r.locateFile(loc)
		}
		return source{}, errors.New("a relative location with no base")
	case "http", "https", "ftp":
		return source{}, errors.New("remote schemas are never fetched; put a copy beside the configuration")
	default:
		return source{}, fmt.Errorf("scheme %q is not allowed", u.Scheme)
	}
}

func (r *resolver) locateFile(p string) (source, error) {
	p = filepath.Clean(filepath.FromSlash(p))
	if !filepath.IsAbs(p) {
		return source{}, errors.New("not an absolute path")
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return source{}, errors.New("no such file")
	}
	if err != nil {
		return source{}, err
	}
	if !r.inside(real) {
		return source{}, errors.New("the file is outside the allowed directories")
	}
	return source{"file", p, real}, nil
}

// fetch reads and checks the document at src, once per compilation.
func (r *resolver) fetch(src source) (*schemaDoc, error) {
	var docURL string
	switch src.kind {
	case embeddedScheme:
		docURL = embeddedScheme + ":/" + src.key
	case generatedScheme:
		docURL = src.key
	default:
		docURL = fileURL(src.key)
	}
	if d, ok := r.docs[docURL]; ok {
		return d, nil
	}
	var data []byte
	switch src.kind {
	case embeddedScheme:
		data, _ = embedded(src.key)
	case generatedScheme:
		data = r.generated[src.key]
	default:
		var err error
		if data, err = readSchemaFile(src.real); err != nil {
			return nil, err
		}
	}
	d, err := r.inspect(data, docURL)
	if err != nil {
		return nil, err
	}
	r.docs[docURL] = d
	return d, nil
}

// load is what libxml2's loader asks for (through ghResolve): a location
// already made absolute against the importing document's URL.
func (r *resolver) load(loc string) (*schemaDoc, bool) {
	src, err := r.locate(loc)
	if err == nil {
		var d *schemaDoc
		if d, err = r.fetch(src); err == nil {
			return d, true
		}
	}
	r.refuse(refusal{location: loc, resolved: loc, reason: err.Error()})
	return nil, false
}

func (r *resolver) refuse(f refusal) {
	for _, g := range r.refusals {
		if g.resolved == f.resolved {
			return // the static check already said it, with a line
		}
	}
	r.refusals = append(r.refusals, f)
}

func readSchemaFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSchemaBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSchemaBytes {
		return nil, fmt.Errorf("larger than %d MiB", maxSchemaBytes>>20)
	}
	return data, nil
}

func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// displayName turns a document URL into what a person wants to read.
func displayName(docURL string) string {
	if u, err := url.Parse(docURL); err == nil && u.Scheme == "file" {
		return filepath.FromSlash(u.Path)
	}
	return docURL
}

// inspect checks a schema document before libxml2 reads it:
//   - it must be UTF-8 (or US-ASCII) XML with an xs:schema root;
//   - it must not have a DOCTYPE (libxml2 parses imported schema documents
//     with entity substitution on, so a DTD must never reach it);
//   - every xs:import/xs:include/xs:redefine location is checked now, so a
//     refusal names the file and line of the reference;
//   - an xs:import with a catalogued namespace and no schemaLocation gets a
//     schemaLocation pointing at the embedded copy (added on the same line,
//     so line numbers stay true).
func (r *resolver) inspect(data []byte, docURL string) (*schemaDoc, error) {
	tns, refs, err := scanSchema(data)
	if err != nil {
		if de, ok := err.(*docError); ok {
			de.file = docURL
		}
		return nil, err
	}
	base, _ := url.Parse(docURL)
	var patched []byte
	last := 0
	for _, ref := range refs {
		if !ref.hasLocation {
			if ref.kind != "import" {
				continue
			}
			loc, ok := r.inlineNS[ref.namespace]
			if ok && loc == docURL {
				continue
			}
			if !ok {
				name, ok := catalogNamespace(ref.namespace)
				if !ok {
					continue
				}
				loc = embeddedScheme + ":/" + name
			}
			patched = append(patched, data[last:ref.nameEnd]...)
			patched = append(patched, ` schemaLocation="`+escapeAttr(loc)+`"`...)
			last = ref.nameEnd
			continue
		}
		abs := ref.location
		if u, err := url.Parse(ref.location); err == nil && base != nil {
			abs = base.ResolveReference(u).String()
		}
		if _, err := r.locate(abs); err != nil {
			r.refuse(refusal{from: docURL, line: ref.line, location: ref.location, resolved: abs, reason: err.Error()})
			continue
		}
		if b, ok := r.bundles[ref.namespace]; ok && ref.kind == "import" && ref.locEnd > ref.locStart {
			patched = append(patched, data[last:ref.locStart]...)
			patched = append(patched, escapeAttr(b)...)
			last = ref.locEnd
		}
	}
	if patched != nil {
		data = append(patched, data[last:]...)
	}
	return &schemaDoc{url: docURL, data: data, tns: tns}, nil
}

// schemaRef is one xs:import, xs:include or xs:redefine.
type schemaRef struct {
	kind        string
	namespace   string
	location    string
	hasLocation bool
	line        int
	nameEnd     int // byte offset just after the element name in its start tag
	// locStart and locEnd are the byte range of the schemaLocation value
	// (between its quotes), when there is one.
	locStart, locEnd int
}

const utf8BOM = "\xef\xbb\xbf"

// docError is a problem with a schema document itself, found before
// libxml2 reads it.
type docError struct {
	file string // document URL
	line int    // 0 if unknown
	msg  string
}

func (e *docError) Error() string {
	where := displayName(e.file)
	if e.line > 0 {
		where = fmt.Sprintf("%s:%d", where, e.line)
	}
	if where == "" {
		return e.msg
	}
	return where + ": " + e.msg
}

// scanSchema reads the prolog, the root and the root's children of a schema
// document with encoding/xml (which never processes DTDs).
func scanSchema(data []byte) (tns string, refs []schemaRef, err error) {
	skip := 0
	if bytes.HasPrefix(data, []byte(utf8BOM)) {
		skip = len(utf8BOM)
	}
	body := data[skip:]
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	badEncoding := ""
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "us-ascii", "ascii":
			return in, nil // a subset of UTF-8; other bytes fail as invalid UTF-8
		}
		badEncoding = label
		return nil, errors.New("unsupported encoding")
	}
	line, counted := 1, 0
	lineAt := func(off int) int {
		line += bytes.Count(body[counted:off], []byte{'\n'})
		counted = off
		return line
	}
	depth := 0
	for {
		start := int(d.InputOffset())
		tok, err := d.Token()
		if err != nil {
			var se *xml.SyntaxError
			switch {
			case badEncoding != "":
				return "", nil, &docError{line: 1, msg: fmt.Sprintf("encoding %q is not supported; schema documents must be UTF-8 or US-ASCII", badEncoding)}
			case err == io.EOF:
				return "", nil, &docError{msg: "not a schema document: no root element"}
			case errors.As(err, &se):
				return "", nil, &docError{line: se.Line, msg: "not well-formed: " + se.Msg}
			default:
				return "", nil, &docError{msg: "not well-formed: " + err.Error()}
			}
		}
		switch t := tok.(type) {
		case xml.Directive:
			return "", nil, &docError{line: lineAt(start), msg: "DOCTYPE and other declarations are not allowed (DTDs are never processed)"}
		case xml.StartElement:
			if depth == 0 {
				if t.Name.Space != xsdNamespace || t.Name.Local != "schema" {
					return "", nil, &docError{line: lineAt(start), msg: "not a schema document: the root element is " + clark(t.Name.Space, t.Name.Local)}
				}
				tns = attr(t, "targetNamespace")
				depth = 1
				continue
			}
			if t.Name.Space == xsdNamespace && (t.Name.Local == "import" || t.Name.Local == "include" || t.Name.Local == "redefine") {
				ref := schemaRef{kind: t.Name.Local, namespace: attr(t, "namespace"), line: lineAt(start)}
				for _, a := range t.Attr {
					if a.Name.Space == "" && a.Name.Local == "schemaLocation" {
						ref.location, ref.hasLocation = strings.TrimSpace(a.Value), true
					}
				}
				ref.nameEnd = skip + nameEnd(body, start)
				if ref.hasLocation {
					end := int(d.InputOffset()) // just after the start tag
					if m := locationAttr.FindSubmatchIndex(body[start:end]); m != nil {
						ref.locStart, ref.locEnd = skip+start+m[4], skip+start+m[5]
					}
				}
				refs = append(refs, ref)
			}
			if err := d.Skip(); err != nil {
				var se *xml.SyntaxError
				if errors.As(err, &se) {
					return "", nil, &docError{line: se.Line, msg: "not well-formed: " + se.Msg}
				}
				return "", nil, &docError{msg: "not well-formed: " + err.Error()}
			}
		case xml.EndElement:
			return tns, refs, nil // the root ends
		}
	}
}

// locationAttr finds the (unprefixed) schemaLocation attribute of a start
// tag and its value.
var locationAttr = regexp.MustCompile(`[\s]schemaLocation\s*=\s*(["'])([^"']*)["']`)

// bundle finds, before libxml2 reads anything, every namespace that the
// documents reachable from roots import from more than one location, and
// generates for each a schema of that namespace including every one of
// them; inspect then points each of those imports at it. libxml2 reads
// only the first location it meets for a namespace and skips the others
// ("skipping import of schema located at … for the namespace …, since the
// namespace was already imported"), so types defined in the other
// documents would not resolve, where XSD 1.0 processors such as Xerces
// read them all (vendor WSDLs, VMware's among them, rely on that).
func (r *resolver) bundle(roots map[string][]byte) {
	const maxDocs = 256
	seen := map[string]bool{}
	var queue []string
	for u := range roots {
		queue = append(queue, u)
	}
	slices.Sort(queue)
	var namespaces []string
	locations := map[string][]string{}
	for i := 0; i < len(queue) && i < maxDocs; i++ {
		docURL := queue[i]
		if seen[docURL] {
			continue
		}
		seen[docURL] = true
		data, ok := roots[docURL]
		if !ok {
			data, ok = r.raw(docURL)
			if !ok {
				continue // inspect reports it where it is referenced
			}
		}
		_, refs, err := scanSchema(data)
		if err != nil {
			continue
		}
		base, _ := url.Parse(docURL)
		for _, ref := range refs {
			if !ref.hasLocation {
				continue
			}
			abs := ref.location
			if u, err := url.Parse(ref.location); err == nil && base != nil {
				abs = base.ResolveReference(u).String()
			}
			src, err := r.locate(abs)
			if err != nil {
				continue
			}
			canonical := src.url()
			queue = append(queue, canonical)
			if ref.kind != "import" {
				continue
			}
			if _, ok := locations[ref.namespace]; !ok {
				namespaces = append(namespaces, ref.namespace)
			}
			if !slices.Contains(locations[ref.namespace], canonical) {
				locations[ref.namespace] = append(locations[ref.namespace], canonical)
			}
		}
	}
	for i, ns := range namespaces {
		if urls := locations[ns]; len(urls) > 1 && ns != "" {
			b := fmt.Sprintf("%s:/bundle-%d.xsd", generatedScheme, i)
			r.generated[b] = includeAll(ns, urls)
			r.bundles[ns] = b
		}
	}
}

// url is the canonical URL of the document at src (as fetch names it).
func (src source) url() string {
	switch src.kind {
	case embeddedScheme:
		return embeddedScheme + ":/" + src.key
	case generatedScheme:
		return src.key
	}
	return fileURL(src.key)
}

// raw reads the document at a canonical URL without inspecting it.
func (r *resolver) raw(docURL string) ([]byte, bool) {
	src, err := r.locate(docURL)
	if err != nil {
		return nil, false
	}
	switch src.kind {
	case embeddedScheme:
		return embedded(src.key)
	case generatedScheme:
		data, ok := r.generated[src.key]
		return data, ok
	}
	data, err := readSchemaFile(src.real)
	return data, err == nil
}

// nameEnd returns the offset just after the element name of the start tag
// at off ("<xs:import ..."), where an attribute can be inserted.
func nameEnd(b []byte, off int) int {
	for off < len(b) && b[off] != '<' {
		off++
	}
	i := off + 1
	for i < len(b) && !bytes.ContainsRune([]byte(" \t\r\n/>"), rune(b[i])) {
		i++
	}
	return i
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
