package schemas

import (
	"fmt"
	"path/filepath"
	"strings"
)

// CompileOptions widens where CompileFiles may read imported schemas from.
type CompileOptions struct {
	// AllowedDirs are absolute directories (with their subdirectories)
	// from which xs:import, xs:include and xs:redefine may read, besides
	// the directories of the files given to CompileFiles.
	AllowedDirs []string
}

// CompileEmbedded compiles embedded schema documents by file name (e.g.
// SOAP11Envelope) as one set; several names are brought together by a
// generated wrapper schema, as CompileFiles does. Imports resolve to
// embedded documents only.
func CompileEmbedded(names ...string) (*Set, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("schemas: no embedded schema named")
	}
	name := strings.Join(names, ", ")
	r := newResolver()
	docs := make([]*schemaDoc, 0, len(names))
	for _, n := range names {
		if _, ok := embedded(n); !ok {
			return nil, fmt.Errorf("schemas: no embedded schema named %q", n)
		}
		d, err := r.fetch(source{kind: embeddedScheme, key: n})
		if err != nil {
			return nil, &CompileError{Name: name, Problems: []CompileProblem{docProblem(embeddedScheme+":/"+n, err)}}
		}
		docs = append(docs, d)
	}
	if len(docs) == 1 {
		return compile(name, docs[0], r)
	}
	return compile(name, r.wrap(docs), r)
}

// CompileFiles compiles local schema files (absolute paths) as one set.
//
// xs:import, xs:include and xs:redefine locations resolve only to the
// embedded catalog (published URLs of the standard schemas, and
// namespace-only imports of their namespaces) and to files inside the
// directories of the given files or opts.AllowedDirs. Any other location
// (http:, https:, ftp:, a file outside those directories, a missing file)
// makes CompileFiles fail with a *CompileError naming the file, the line
// and the refused location. Nothing is ever fetched.
//
// Several files are compiled through a generated wrapper schema: files of
// the same target namespace are xs:included by one generated schema of that
// namespace, which the wrapper imports; files with no target namespace are
// included by the wrapper directly. libxml2 imports each namespace once
// (the first location it meets wins, later imports of the namespace are
// skipped), so the wrapper imports the namespaces that have several files
// first.
func CompileFiles(files []string, opts CompileOptions) (*Set, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("schemas: no schema files")
	}
	return CompileSchemas(files, nil, opts)
}

// InlineSchema is an xs:schema element inside another document (the types
// of a WSDL), given as a standalone schema document.
type InlineSchema struct {
	// File is the absolute path of the containing document: relative
	// locations in the schema resolve against it, and problems name it.
	File string
	// Index tells the inline schemas of one file apart (1, 2, …).
	Index int
	// Data is the schema document: the element with the namespace
	// declarations it inherits, preceded by as many newlines as put it on
	// its line in File, so that problems give File's line numbers.
	Data []byte
}

// URL is the name the inline schema has in this package's problems and
// look-ups: File's URL with a query naming the schema (problems show File).
func (s InlineSchema) URL() string {
	return fmt.Sprintf("%s?schema=%d", fileURL(filepath.Clean(s.File)), s.Index)
}

// CompileSchemas compiles local schema files and inline schemas as one
// set, with CompileFiles' rules for where imports may come from (the
// directories of the files and of the inline schemas' containing files,
// and opts.AllowedDirs). An xs:import of an inline schema's namespace
// without a schemaLocation resolves to that inline schema, as WSDL types
// that import each other are written.
func CompileSchemas(files []string, inline []InlineSchema, opts CompileOptions) (*Set, error) {
	if len(files)+len(inline) == 0 {
		return nil, fmt.Errorf("schemas: no schemas")
	}
	var names []string
	r := newResolver()
	var dirs []string
	for _, f := range files {
		if !filepath.IsAbs(f) {
			return nil, fmt.Errorf("schemas: %q is not an absolute path", f)
		}
		dirs = append(dirs, filepath.Dir(filepath.Clean(f)))
		names = append(names, f)
	}
	for _, in := range inline {
		if !filepath.IsAbs(in.File) {
			return nil, fmt.Errorf("schemas: %q is not an absolute path", in.File)
		}
		dirs = append(dirs, filepath.Dir(filepath.Clean(in.File)))
		names = append(names, fmt.Sprintf("%s (schema %d)", in.File, in.Index))
		r.generated[in.URL()] = in.Data
	}
	name := strings.Join(names, ", ")
	if err := r.allow(dirs...); err != nil {
		return nil, fmt.Errorf("schemas: compile %s: %w", name, err)
	}
	if err := r.allow(opts.AllowedDirs...); err != nil {
		return nil, fmt.Errorf("schemas: compile %s: %w", name, err)
	}
	roots := map[string][]byte{}
	for _, in := range inline {
		roots[in.URL()] = in.Data
	}
	for _, f := range files {
		if data, err := readSchemaFile(f); err == nil {
			roots[fileURL(filepath.Clean(f))] = data
		}
	}
	r.bundle(roots)
	var docs []*schemaDoc
	// The inline schemas first: their namespaces are known before any
	// document that imports them by namespace alone is inspected.
	for _, in := range inline {
		tns, _, err := scanSchema(in.Data)
		if err != nil {
			return nil, &CompileError{Name: name, Problems: []CompileProblem{docProblem(in.File, err)}}
		}
		if _, ok := r.inlineNS[tns]; !ok {
			r.inlineNS[tns] = in.URL()
		}
	}
	for _, in := range inline {
		d, err := r.fetch(source{kind: generatedScheme, key: in.URL()})
		if err != nil {
			return nil, &CompileError{Name: name, Problems: []CompileProblem{docProblem(in.File, err)}}
		}
		docs = append(docs, d)
	}
	for _, f := range files {
		src, err := r.locateFile(f)
		if err == nil {
			var d *schemaDoc
			if d, err = r.fetch(src); err == nil {
				docs = append(docs, d)
				continue
			}
		}
		return nil, &CompileError{Name: name, Problems: []CompileProblem{docProblem(f, err)}}
	}
	if len(docs) == 1 {
		return compile(name, docs[0], r)
	}
	return compile(name, r.wrap(docs), r)
}

// docProblem describes a top-level document that cannot be read or used.
func docProblem(file string, err error) CompileProblem {
	if de, ok := err.(*docError); ok {
		return CompileProblem{File: file, Line: de.line, Message: de.msg}
	}
	return CompileProblem{File: file, Message: err.Error()}
}

// wrap writes the generated schema that brings several documents together.
func (r *resolver) wrap(docs []*schemaDoc) *schemaDoc {
	var namespaces []string
	byNS := map[string][]string{}
	seen := map[string]bool{}
	for _, d := range docs {
		if seen[d.url] {
			continue
		}
		seen[d.url] = true
		if _, ok := byNS[d.tns]; !ok {
			namespaces = append(namespaces, d.tns)
		}
		byNS[d.tns] = append(byNS[d.tns], d.url)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<xs:schema xmlns:xs="` + xsdNamespace + `">` + "\n")
	for _, several := range []bool{true, false} {
		for i, ns := range namespaces {
			urls := byNS[ns]
			if ns == "" || (len(urls) > 1) != several {
				continue
			}
			loc := urls[0]
			if several {
				loc = fmt.Sprintf("%s:/namespace-%d.xsd", generatedScheme, i)
				r.generated[loc] = includeAll(ns, urls)
			}
			fmt.Fprintf(&b, "  <xs:import namespace=\"%s\" schemaLocation=\"%s\"/>\n", escapeAttr(ns), escapeAttr(loc))
		}
	}
	for _, u := range byNS[""] {
		fmt.Fprintf(&b, "  <xs:include schemaLocation=\"%s\"/>\n", escapeAttr(u))
	}
	b.WriteString("</xs:schema>\n")
	return &schemaDoc{url: generatedScheme + ":/main.xsd", data: []byte(b.String())}
}

// includeAll writes a schema of namespace ns that includes every url.
func includeAll(ns string, urls []string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, "<xs:schema xmlns:xs=\"%s\" targetNamespace=\"%s\">\n", xsdNamespace, escapeAttr(ns))
	for _, u := range urls {
		fmt.Fprintf(&b, "  <xs:include schemaLocation=\"%s\"/>\n", escapeAttr(u))
	}
	b.WriteString("</xs:schema>\n")
	return []byte(b.String())
}

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func escapeAttr(s string) string { return attrEscaper.Replace(s) }
