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

// name reads an ASCII XML name with at most one colon, neither first nor
// last, and splits it as encoding/xml does.
func (z *fastTokenizer) name() (xml.Name, error) {
	start, colon := z.i, -1
	for z.i < len(z.s) {
		c := z.s[z.i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' {
			z.i++
			continue
		}
		if z.i > start && ('0' <= c && c <= '9' || c == '.' || c == '-') {
			z.i++
			continue
		}
		if c == ':' {
			if colon >= 0 || z.i == start {
				return xml.Name{}, errSlowPath
			}
			colon = z.i
			z.i++
			continue
		}
		if c >= utf8.RuneSelf {
			return xml.Name{}, errSlowPath
		}
		break
	}
	if z.i == start || colon == z.i-1 {
		return xml.Name{}, errSlowPath
	}
	if colon < 0 {
		return xml.Name{Local: z.s[start:z.i]}, nil
	}
	// Only the first character of the whole name is restricted (a digit,
	// '.' or '-' may follow the colon), as in encoding/xml.
	return xml.Name{Space: z.s[start:colon], Local: z.s[colon+1 : z.i]}, nil
}

// text reads character data up to '<' (quote 0) or up to the closing
// quote, decoding references. It returns a substring of the input when
// there is nothing to decode.
func (z *fastTokenizer) text(quote byte) (string, error) {
	start := z.i
	var b []byte // decoded so far, once a reference was seen
	flushed := start
	for z.i < len(z.s) {
		c := z.s[z.i]
		switch {
		case c == '<':
			if quote != 0 {
				return "", errSlowPath
			}
			goto done
		case quote != 0 && c == quote:
			goto done
		case c == '>' && quote == 0 && z.i >= start+2 && z.s[z.i-1] == ']' && z.s[z.i-2] == ']':
			// "]]>" outside CDATA (encoding/xml tracks it across
			// references too; the slow path has the last word).
			return "", errSlowPath
		case c == '&':
			r, n := reference(z.s[z.i:])
			if n == 0 {
				return "", errSlowPath
			}
			if b == nil {
				b = make([]byte, 0, z.i-start+16)
			}
			b = append(b, z.s[flushed:z.i]...)
			b = utf8.AppendRune(b, r)
			z.i += n
			flushed = z.i
			continue
		}
		z.i++
	}
	if quote != 0 {
		return "", errSlowPath // unterminated attribute value
	}
done:
	if b == nil {
		return z.s[start:z.i], nil
	}
	b = append(b, z.s[flushed:z.i]...)
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
