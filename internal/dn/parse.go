package dn

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse reads a distinguished name in the string form of RFC 4514 (and
// RFC 2253, which WSS4J and Java write): RDNs separated by "," (or ";"),
// the members of a multi-valued RDN by "+", types by name (any case, with
// the usual aliases such as E and emailAddress) or dotted OID, values as
// strings with the escapes \, \+ \" \\ \< \> \; \= \# \space and hex pairs
// (\4A, several pairs making one UTF-8 character), as #hex BER, or quoted
// as RFC 2253 still allows. Spaces around separators are ignored.
func Parse(s string) (DN, error) {
	p := parser{s: s}
	d, err := p.dn()
	if err != nil {
		return nil, fmt.Errorf("distinguished name %q: %w", s, err)
	}
	return d, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) more() bool { return p.i < len(p.s) }
func (p *parser) peek() byte { return p.s[p.i] }

func (p *parser) spaces() {
	for p.more() && p.peek() == ' ' {
		p.i++
	}
}

// dn reads the whole string and returns the sequence the other way round:
// String writes the DER order backwards, RDNs and their members.
func (p *parser) dn() (DN, error) {
	p.spaces()
	if !p.more() {
		return DN{}, nil
	}
	var d DN
	rdn := RDN{}
	for {
		a, err := p.atv()
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, a)
		p.spaces()
		if !p.more() {
			d = append(d, rdn)
			break
		}
		switch c := p.peek(); c {
		case '+':
		case ',', ';':
			d = append(d, rdn)
			rdn = RDN{}
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", c, p.i)
		}
		p.i++
	}
	slices.Reverse(d)
	for _, rdn := range d {
		slices.Reverse(rdn)
	}
	return d, nil
}

func (p *parser) atv() (AttributeTypeAndValue, error) {
	p.spaces()
	start := p.i
	for p.more() && (isAlnum(p.peek()) || p.peek() == '-' || p.peek() == '.') {
		p.i++
	}
	typ := p.s[start:p.i]
	if typ == "" {
		return AttributeTypeAndValue{}, fmt.Errorf("attribute type expected at offset %d", start)
	}
	p.spaces()
	if !p.more() || p.peek() != '=' {
		return AttributeTypeAndValue{}, fmt.Errorf("%q: \"=\" expected at offset %d", typ, p.i)
	}
	p.i++
	p.spaces()

	var a AttributeTypeAndValue
	switch {
	case typ[0] >= '0' && typ[0] <= '9':
		oid, err := parseOID(typ)
		if err != nil {
			return a, err
		}
		a.OID, a.Type = oid, oid.String()
		if k, ok := byOID(oid); ok {
			a.Type = k.name
		}
	case isAlpha(typ[0]) && !strings.Contains(typ, "."):
		a.Type = typ
		if k, ok := byName(typ); ok {
			a.OID, a.Type = k.oid, k.name
		}
	default:
		return a, fmt.Errorf("bad attribute type %q", typ)
	}

	if p.more() && p.peek() == '#' {
		ber, err := p.hexValue()
		if err != nil {
			return a, fmt.Errorf("%s: %w", a.Type, err)
		}
		if a.OID == nil {
			return a, fmt.Errorf("%s: a #hex value needs a known or dotted attribute type", a.Type)
		}
		v := newATV(a.OID, ber)
		v.Type = a.Type
		return v, nil
	}
	v, err := p.stringValue()
	if err != nil {
		return a, fmt.Errorf("%s: %w", a.Type, err)
	}
	a.Value = v
	return a, nil
}

// parseOID reads a dotted OID: at least two arcs, no empty arc, no
// leading zero.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	arcs := strings.Split(s, ".")
	if len(arcs) < 2 {
		return nil, fmt.Errorf("bad OID %q", s)
	}
	oid := make(asn1.ObjectIdentifier, len(arcs))
	for i, arc := range arcs {
		n, err := strconv.Atoi(arc)
		if err != nil || n < 0 || arc == "" || arc[0] == '+' || len(arc) > 1 && arc[0] == '0' {
			return nil, fmt.Errorf("bad OID %q", s)
		}
		oid[i] = n
	}
	if oid[0] > 2 || oid[0] < 2 && oid[1] > 39 {
		return nil, fmt.Errorf("bad OID %q", s)
	}
	return oid, nil
}

// hexValue reads "#" and hex pairs: one BER-encoded value.
func (p *parser) hexValue() ([]byte, error) {
	p.i++ // '#'
	start := p.i
	for p.more() && isHex(p.peek()) {
		p.i++
	}
	ber, err := hex.DecodeString(p.s[start:p.i])
	if err != nil || len(ber) == 0 {
		return nil, errors.New("bad #hex value")
	}
	var v asn1.RawValue
	if rest, err := asn1.Unmarshal(ber, &v); err != nil || len(rest) != 0 {
		return nil, errors.New("#hex value is not one BER value")
	}
	return ber, nil
}

// stringValue reads an escaped or quoted string up to the next unescaped
// separator; unescaped trailing spaces are not part of it.
func (p *parser) stringValue() (string, error) {
	var b []byte
	if p.more() && p.peek() == '"' {
		p.i++
		for {
			if !p.more() {
				return "", errors.New("unterminated quoted value")
			}
			c := p.peek()
			if c == '"' {
				p.i++
				break
			}
			if c == '\\' {
				e, err := p.escape()
				if err != nil {
					return "", err
				}
				b = append(b, e)
				continue
			}
			b = append(b, c)
			p.i++
		}
	} else {
		keep := 0 // length of b without unescaped trailing spaces
		for p.more() {
			c := p.peek()
			if c == ',' || c == ';' || c == '+' {
				break
			}
			switch c {
			case '\\':
				e, err := p.escape()
				if err != nil {
					return "", err
				}
				b = append(b, e)
				keep = len(b)
				continue
			case '"', 0:
				return "", fmt.Errorf("unescaped %q at offset %d", c, p.i)
			}
			b = append(b, c)
			if c != ' ' {
				keep = len(b)
			}
			p.i++
		}
		b = b[:keep]
	}
	if !utf8.Valid(b) {
		return "", errors.New("value is not UTF-8")
	}
	return string(b), nil
}

// escape reads a backslash pair: a special character or two hex digits
// (one byte; several make up one UTF-8 character).
func (p *parser) escape() (byte, error) {
	p.i++ // '\\'
	if !p.more() {
		return 0, errors.New("backslash at the end")
	}
	c := p.peek()
	if strings.IndexByte(` "#+,;<=>\`, c) >= 0 {
		p.i++
		return c, nil
	}
	if p.i+1 < len(p.s) && isHex(c) && isHex(p.s[p.i+1]) {
		v, _ := strconv.ParseUint(p.s[p.i:p.i+2], 16, 8)
		p.i += 2
		return byte(v), nil
	}
	return 0, fmt.Errorf("bad escape at offset %d", p.i-1)
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
