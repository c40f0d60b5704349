package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The fast tokenizer reads the plain XML that SOAP stacks send (ASCII
// names, quoted attributes, the five predefined entities and character
// references, an XML declaration) straight from the message bytes, with
// names and text as substrings of one copy of the input. It hands the
// parser exactly the tokens encoding/xml's RawToken would (same names,
// same values, same order), and it gives up on anything else: comments,
// CDATA sections, directives, processing instructions, carriage returns,
// control characters, non-ASCII names, unusual references and every
// syntax error. Giving up (errSlowPath) makes Parse start again with
// encoding/xml, which then accepts or refuses as it always did; the fast
// path therefore never accepts what the reference refuses, and
// TestFastParseDifferential and FuzzParseDifferential hold it to
// producing the same tree.

var errSlowPath = errors.New("fast tokenizer: not in its subset")

// fastEligible reports whether data avoids, as a whole, what the fast
// tokenizer does not handle, so that most refusals are found before any
// work: a carriage return (line-end normalization), control characters
// and U+FFFE/U+FFFF (the character range check), markup declarations,
// comments and CDATA ("<!"), and processing instructions other than a
// leading XML declaration.
//
// It also counts the tags ('<'), from which the parser sizes its slabs.
func fastEligible(data []byte) (ok bool, tags int) {
	for i := 0; i < len(data); i++ {
		if !eligibleCheck[data[i]] {
			continue
		}
		switch c := data[i]; {
		case c < 0x20:
			if c != '\t' && c != '\n' {
				return false, 0
			}
		case c == '<':
			tags++
			if i+1 < len(data) && (data[i+1] == '!' || (data[i+1] == '?' && i != 0)) {
				return false, 0
			}
		case c == 0xEF:
			if i+2 < len(data) && data[i+1] == 0xBF && (data[i+2] == 0xBE || data[i+2] == 0xBF) {
				return false, 0
			}
		}
	}
	return true, tags
}

// eligibleCheck marks the bytes fastEligible looks at more closely.
var eligibleCheck = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = c != '\t' && c != '\n'
	}
	t['<'], t[0xEF] = true, true
	return t
}()

// commonDeclarations are XML declarations encoding/xml accepts (version
// 1.0, UTF-8), spelled as SOAP stacks write them; another spelling is
// checked by encoding/xml itself.
var commonDeclarations = map[string]bool{
	`<?xml version="1.0"?>`:                                   true,
	`<?xml version="1.0" encoding="UTF-8"?>`:                  true,
	`<?xml version="1.0" encoding="utf-8"?>`:                  true,
	`<?xml version='1.0' encoding='UTF-8'?>`:                  true,
	`<?xml version='1.0' encoding='utf-8'?>`:                  true,
	`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`: true,
	`<?xml version="1.0" encoding="UTF-8" standalone="no"?>`:  true,
}

type fastTokenizer struct {
	s     string
	i     int
	attrs []xml.Attr
	// qnames are the attributes' names as written (prefix:local)
	qnames []string
	// the end tag that a self-closing element owes
	owed    bool
	owedTag xml.Name
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func (z *fastTokenizer) space() {
	for z.i < len(z.s) && isSpaceByte(z.s[z.i]) {
		z.i++
	}
}

// nameByte marks the ASCII bytes that may appear in a name the fast
// tokenizer reads (besides its one colon); nameStartByte those that may
// begin it.
var nameByte, nameStartByte = func() (all, start [256]bool) {
	for c := 0; c < 256; c++ {
		start[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		all[c] = start[c] || '0' <= c && c <= '9' || c == '.' || c == '-'
	}
	return all, start
}()

// name reads an ASCII XML name with at most one colon, neither first nor
// last, and splits it as encoding/xml does.
func (z *fastTokenizer) name() (xml.Name, error) {
	s, i := z.s, z.i // locals, so that the loop keeps them in registers
	start, colon := i, -1
	for {
		for i < len(s) && nameByte[s[i]] {
			i++
		}
		if i < len(s) && s[i] == ':' && colon < 0 && i > start {
			colon = i
			i++
			continue
		}
		break
	}
	z.i = i
	// A second or leading colon, or a non-ASCII character, is the slow
	// path's to judge.
	if i < len(s) && (s[i] == ':' || s[i] >= utf8.RuneSelf) {
		return xml.Name{}, errSlowPath
	}
	// Only the first character of the whole name is restricted (a digit,
	// '.' or '-' may follow the colon), as in encoding/xml.
	if i == start || colon == i-1 || !nameStartByte[s[start]] {
		return xml.Name{}, errSlowPath
	}
	if colon < 0 {
		return xml.Name{Local: s[start:i]}, nil
	}
	return xml.Name{Space: s[start:colon], Local: s[colon+1 : i]}, nil
}

// text reads character data up to '<' (quote 0) or up to the closing
// quote, decoding references. It returns a substring of the input when
// there is nothing to decode. The delimiters are found with IndexByte,
// which scans many bytes at a time; base64 values and long text are most
// of a signed message's bytes.
func (z *fastTokenizer) text(quote byte) (string, error) {
	rest := z.s[z.i:]
	var seg string
	if quote == 0 {
		end := strings.IndexByte(rest, '<')
		if end < 0 {
			end = len(rest)
		}
		seg = rest[:end]
		// "]]>" outside CDATA (encoding/xml tracks it across references
		// too; the slow path has the last word).
		if strings.Contains(seg, "]]>") {
			return "", errSlowPath
		}
	} else {
		end := strings.IndexByte(rest, quote)
		if end < 0 {
			return "", errSlowPath // unterminated attribute value
		}
		seg = rest[:end]
		if strings.IndexByte(seg, '<') >= 0 {
			return "", errSlowPath
		}
	}
	amp := strings.IndexByte(seg, '&')
	if amp < 0 {
		z.i += len(seg)
		return seg, nil
	}
	b := make([]byte, 0, len(seg)+16)
	for amp >= 0 {
		b = append(b, seg[:amp]...)
		// A reference ends at ';' and holds no delimiter, so it never
		// runs past seg.
		r, n := reference(seg[amp:])
		if n == 0 {
			return "", errSlowPath
		}
		b = utf8.AppendRune(b, r)
		seg = seg[amp+n:]
		z.i += amp + n
		amp = strings.IndexByte(seg, '&')
	}
	b = append(b, seg...)
	z.i += len(seg)
	return string(b), nil
}

// reference decodes the entity or character reference at the start of s
// ("&...;"): the rune and the length, or 0 when the fast path leaves it
// to encoding/xml (an unknown entity, a character outside the XML
// character range, a malformed reference).
func reference(s string) (rune, int) {
	end := strings.IndexByte(s[:min(len(s), 13)], ';') // the longest is "&#x10FFFF;"
	if end < 2 {
		return 0, 0
	}
	ref := s[1:end]
	switch ref {
	case "lt":
		return '<', end + 1
	case "gt":
		return '>', end + 1
	case "amp":
		return '&', end + 1
	case "apos":
		return '\'', end + 1
	case "quot":
		return '"', end + 1
	}
	if ref[0] != '#' {
		return 0, 0
	}
	digits, base := ref[1:], 10
	if strings.HasPrefix(digits, "x") {
		digits, base = digits[1:], 16
	}
	if digits == "" {
		return 0, 0
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !('0' <= c && c <= '9' || base == 16 && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')) {
			return 0, 0
		}
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		return 0, 0
	}
	r := rune(n)
	// The carriage return is left to the slow path with the rest of
	// line-end handling; surrogates decode differently there.
	if r == '\r' || !(r == 0x09 || r == 0x0A || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
		return 0, 0
	}
	return r, end + 1
}

// run feeds the parser every token of the input, or stops at the first
// error: errSlowPath when the input leaves the fast tokenizer's subset,
// the parser's own fault otherwise.
func (z *fastTokenizer) run(p *parser) error {
	for {
		if z.owed {
			z.owed = false
			p.tokens++
			if err := p.end(z.owedTag); err != nil {
				return err
			}
			continue
		}
		if z.i >= len(z.s) {
			return nil
		}
		if z.s[z.i] != '<' {
			t, err := z.text(0)
			if err != nil {
				return err
			}
			p.tokens++
			if err := p.text(t); err != nil {
				return err
			}
			continue
		}
		z.i++
		if z.i >= len(z.s) {
			return errSlowPath
		}
		switch z.s[z.i] {
		case '/':
			z.i++
			n, err := z.name()
			if err != nil {
				return err
			}
			z.space()
			if z.i >= len(z.s) || z.s[z.i] != '>' {
				return errSlowPath
			}
			z.i++
			p.tokens++
			if err := p.end(n); err != nil {
				return err
			}
		case '?':
			// Only a leading XML declaration gets here (fastEligible);
			// encoding/xml checks its version and encoding.
			end := strings.Index(z.s[z.i:], "?>")
			if z.i != 1 || end < 0 {
				return errSlowPath
			}
			if decl := z.s[:z.i+end+2]; !commonDeclarations[decl] {
				tok, err := xml.NewDecoder(strings.NewReader(decl)).RawToken()
				pi, ok := tok.(xml.ProcInst)
				if err != nil || !ok || pi.Target != "xml" {
					return errSlowPath
				}
			}
			z.i += end + 2
			p.tokens++
			if err := p.procInst("xml"); err != nil {
				return err
			}
		default:
			if err := z.startTag(p); err != nil {
				return err
			}
		}
	}
}

func (z *fastTokenizer) startTag(p *parser) error {
	n, err := z.name()
	if err != nil {
		return err
	}
	z.attrs, z.qnames = z.attrs[:0], z.qnames[:0]
	for {
		z.space()
		if z.i >= len(z.s) {
			return errSlowPath
		}
		c := z.s[z.i]
		if c == '/' {
			if z.i+1 >= len(z.s) || z.s[z.i+1] != '>' {
				return errSlowPath
			}
			z.i += 2
			z.owed, z.owedTag = true, n
			break
		}
		if c == '>' {
			z.i++
			break
		}
		from := z.i
		an, err := z.name()
		if err != nil {
			return err
		}
		qname := z.s[from:z.i]
		z.space()
		if z.i >= len(z.s) || z.s[z.i] != '=' {
			return errSlowPath
		}
		z.i++
		z.space()
		if z.i >= len(z.s) || (z.s[z.i] != '"' && z.s[z.i] != '\'') {
			return errSlowPath
		}
		q := z.s[z.i]
		z.i++
		v, err := z.text(q)
		if err != nil {
			return err
		}
		z.i++ // the closing quote
		if z.i < len(z.s) && !isSpaceByte(z.s[z.i]) && z.s[z.i] != '/' && z.s[z.i] != '>' {
			// XML 1.0 [40]: attributes are separated by white space.
			// encoding/xml does not insist; the slow path refuses it.
			return errSlowPath
		}
		z.attrs = append(z.attrs, xml.Attr{Name: an, Value: v})
		z.qnames = append(z.qnames, qname)
	}
	p.tokens++
	// The parser keeps no reference to the slice, only to its strings.
	return p.start(n, z.attrs, z.qnames)
}

// parseFast runs the fast tokenizer over data; ok is false when Parse
// must start again on the slow path.
func (p *parser) parseFast(data []byte) (ok bool, err error) {
	ok, tags := fastEligible(data)
	if !ok {
		return false, nil
	}
	// An element has a start and an end tag, or one self-closing tag.
	p.hint = min(tags/2+1, maxHint)
	z := fastTokenizer{s: string(data)}
	err = z.run(p)
	if errors.Is(err, errSlowPath) {
		return false, nil
	}
	return true, err
}

// slowTokens feeds the parser from encoding/xml (the reference).
func (p *parser) slowTokens(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	for {
		from := dec.InputOffset()
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return parseFault("not well-formed: %v", err)
		}
		if _, ok := tok.(xml.StartElement); ok && !attributesSeparated(data[from:dec.InputOffset()]) {
			return parseFault("not well-formed: attributes must be separated by white space")
		}
		p.tokens++
		if err := p.token(tok); err != nil {
			return err
		}
	}
}

// attributesSeparated reports whether every attribute in the raw start tag
// tag (already accepted by encoding/xml) is followed by white space, '/'
// or '>'.
func attributesSeparated(tag []byte) bool {
	i := 1 // '<'
	for i < len(tag) && !isSpaceByte(tag[i]) && tag[i] != '/' && tag[i] != '>' {
		i++
	}
	for i < len(tag) {
		c := tag[i]
		if c == '"' || c == '\'' {
			j := bytes.IndexByte(tag[i+1:], c)
			if j < 0 {
				return true // encoding/xml has already refused this
			}
			i += j + 2
			if i < len(tag) && !isSpaceByte(tag[i]) && tag[i] != '/' && tag[i] != '>' {
				return false
			}
			continue
		}
		i++
	}
	return true
}
