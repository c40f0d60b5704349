package dn

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// AttributeTypeAndValue is one type=value of an RDN.
type AttributeTypeAndValue struct {
	// Type is the attribute type's name as openssl prints it (CN, O,
	// emailAddress …) when we know the type, else its dotted OID, or for a
	// parsed name we do not know (neither in our table nor dotted), the
	// name as written.
	Type string
	// OID is the attribute type, nil for a name we do not know.
	OID asn1.ObjectIdentifier
	// Value is the string value when BER is nil.
	Value string
	// BER is the encoded value when it is not a string we decode (an
	// unknown attribute type, or a known one with a non-string value): the
	// #hex form of RFC 4514.
	BER []byte
}

// RDN is a relative distinguished name: a set of one or more attribute
// values (several in a multi-valued RDN, written with "+").
type RDN []AttributeTypeAndValue

// DN is a distinguished name in the certificate's (DER) order: the most
// significant RDN (C or DC=com, say) first. Its RFC 4514 string lists the
// RDNs the other way round.
type DN []RDN

// attribute is one attribute type we know by name.
type attribute struct {
	name string // as openssl prints it
	oid  asn1.ObjectIdentifier
}

// attributes are the types we print by name. All of them have string
// values compared case-insensitively (caseIgnoreMatch or
// caseIgnoreIA5Match in RFC 4519 and PKCS #9).
var attributes = []attribute{
	{"CN", asn1.ObjectIdentifier{2, 5, 4, 3}},
	{"SN", asn1.ObjectIdentifier{2, 5, 4, 4}},
	{"serialNumber", asn1.ObjectIdentifier{2, 5, 4, 5}},
	{"C", asn1.ObjectIdentifier{2, 5, 4, 6}},
	{"L", asn1.ObjectIdentifier{2, 5, 4, 7}},
	{"ST", asn1.ObjectIdentifier{2, 5, 4, 8}},
	{"street", asn1.ObjectIdentifier{2, 5, 4, 9}},
	{"O", asn1.ObjectIdentifier{2, 5, 4, 10}},
	{"OU", asn1.ObjectIdentifier{2, 5, 4, 11}},
	{"title", asn1.ObjectIdentifier{2, 5, 4, 12}},
	{"postalCode", asn1.ObjectIdentifier{2, 5, 4, 17}},
	{"GN", asn1.ObjectIdentifier{2, 5, 4, 42}},
	{"initials", asn1.ObjectIdentifier{2, 5, 4, 43}},
	{"generationQualifier", asn1.ObjectIdentifier{2, 5, 4, 44}},
	{"dnQualifier", asn1.ObjectIdentifier{2, 5, 4, 46}},
	{"pseudonym", asn1.ObjectIdentifier{2, 5, 4, 65}},
	{"organizationIdentifier", asn1.ObjectIdentifier{2, 5, 4, 97}},
	{"UID", asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}},
	{"DC", asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}},
	{"emailAddress", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}},
}

// aliases are the other names of known types that a configuration or a
// peer may write (lower case).
var aliases = map[string]string{
	"commonname": "CN", "surname": "SN", "countryname": "C", "localityname": "L",
	"s": "ST", "stateorprovincename": "ST", "streetaddress": "street",
	"organizationname": "O", "organizationalunitname": "OU", "givenname": "GN",
	"userid": "UID", "domaincomponent": "DC", "email": "emailAddress", "e": "emailAddress",
}

func byOID(oid asn1.ObjectIdentifier) (attribute, bool) {
	for _, a := range attributes {
		if a.oid.Equal(oid) {
			return a, true
		}
	}
	return attribute{}, false
}

func byName(name string) (attribute, bool) {
	l := strings.ToLower(name)
	if n, ok := aliases[l]; ok {
		l = strings.ToLower(n)
	}
	for _, a := range attributes {
		if strings.ToLower(a.name) == l {
			return a, true
		}
	}
	return attribute{}, false
}

// The DER form of a Name (RFC 5280), with values kept as they were
// encoded. A type name ending in SET makes encoding/asn1 read a SET OF.
type (
	rawATV struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	rawRDNSET []rawATV
	rawName   []rawRDNSET
)

// FromDER reads a DER Name such as x509.Certificate.RawSubject or
// RawIssuer, keeping its order, its multi-valued RDNs and, for attribute
// types we do not know, the encoded value.
func FromDER(der []byte) (DN, error) {
	var raw rawName
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil {
		return nil, fmt.Errorf("distinguished name: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("distinguished name: trailing data")
	}
	d := make(DN, 0, len(raw))
	for _, rr := range raw {
		if len(rr) == 0 {
			return nil, errors.New("distinguished name: empty RDN")
		}
		rdn := make(RDN, 0, len(rr))
		for _, ra := range rr {
			rdn = append(rdn, newATV(ra.Type, ra.Value.FullBytes))
		}
		d = append(d, rdn)
	}
	return d, nil
}

// newATV makes the attribute of type oid with the encoded value ber: a
// string for a known type with a string value, else the encoding.
func newATV(oid asn1.ObjectIdentifier, ber []byte) AttributeTypeAndValue {
	a, known := byOID(oid)
	if !known {
		return AttributeTypeAndValue{Type: oid.String(), OID: oid, BER: ber}
	}
	if s, ok := decodeString(ber); ok {
		return AttributeTypeAndValue{Type: a.name, OID: a.oid, Value: s}
	}
	return AttributeTypeAndValue{Type: a.name, OID: a.oid, BER: ber}
}

// decodeString decodes an encoded ASN.1 string of one of the types X.520
// uses for directory strings.
func decodeString(ber []byte) (string, bool) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(ber, &v)
	if err != nil || len(rest) != 0 || v.Class != asn1.ClassUniversal || v.IsCompound {
		return "", false
	}
	b := v.Bytes
	switch v.Tag {
	case asn1.TagUTF8String:
		return string(b), utf8.Valid(b)
	case asn1.TagPrintableString, asn1.TagIA5String, asn1.TagNumericString, 26: // 26: VisibleString
		for _, c := range b {
			if c >= utf8.RuneSelf {
				return "", false
			}
		}
		return string(b), true
	case asn1.TagT61String: // read as Latin-1, as openssl and Go do
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r), true
	case asn1.TagBMPString:
		if len(b)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		return string(utf16.Decode(u)), true
	case 28: // UniversalString
		if len(b)%4 != 0 {
			return "", false
		}
		r := make([]rune, len(b)/4)
		for i := range r {
			r[i] = rune(b[4*i])<<24 | rune(b[4*i+1])<<16 | rune(b[4*i+2])<<8 | rune(b[4*i+3])
			if !utf8.ValidRune(r[i]) {
				return "", false
			}
		}
		return string(r), true
	}
	return "", false
}

// String renders the name as RFC 4514 says, as openssl -nameopt RFC2253
// prints it: the whole sequence the other way round, the last RDN first
// and the members of a multi-valued RDN joined by "+" last first (RFC 4514
// allows any order; this is openssl's), types we know by name and others
// as dotted OIDs with the #hex value.
func (d DN) String() string {
	var b strings.Builder
	for i := len(d) - 1; i >= 0; i-- {
		if i != len(d)-1 {
			b.WriteByte(',')
		}
		for j := len(d[i]) - 1; j >= 0; j-- {
			a := d[i][j]
			if j != len(d[i])-1 {
				b.WriteByte('+')
			}
			b.WriteString(a.Type)
			b.WriteByte('=')
			if a.BER != nil {
				b.WriteByte('#')
				b.WriteString(strings.ToUpper(hex.EncodeToString(a.BER)))
			} else {
				writeEscaped(&b, a.Value)
			}
		}
	}
	return b.String()
}

// writeEscaped writes an attribute value with the escapes of RFC 4514
// section 2.4, and control characters as hex pairs (as openssl does), so
// that a name in a log line is one line.
func writeEscaped(b *strings.Builder, v string) {
	for i, r := range v {
		switch {
		case strings.ContainsRune(`"+,;<>\`, r),
			r == ' ' && (i == 0 || i == len(v)-1),
			r == '#' && i == 0:
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, "\\%02X", r)
		default:
			b.WriteRune(r)
		}
	}
}

// Equal reports whether d and o name the same entry: the same number of
// RDNs, and each RDN of d matches the RDN of o at the same position (a
// multi-valued RDN as a set), attribute types by OID, string values of the
// types we know after trimming, collapsing inner spaces and folding case,
// other values exactly.
func (d DN) Equal(o DN) bool { return d.Key() == o.Key() }

// Key is a canonical form of the name for matching and for use as a map
// key: d.Key() == o.Key() exactly when d.Equal(o). It is not for display.
func (d DN) Key() string {
	rdns := make([]string, len(d))
	for i, rdn := range d {
		members := make([]string, len(rdn))
		for j, a := range rdn {
			members[j] = a.key()
		}
		slices.Sort(members)
		members = slices.Compact(members) // a set: a repeated member is one
		rdns[i] = strings.Join(members, "+")
	}
	return strings.Join(rdns, ",")
}

func (a AttributeTypeAndValue) key() string {
	var b strings.Builder
	if a.OID != nil {
		b.WriteString(a.OID.String())
	} else {
		b.WriteString(strings.ToLower(a.Type))
	}
	b.WriteByte('=')
	switch _, known := byOID(a.OID); {
	case a.BER != nil:
		b.WriteByte('#')
		b.WriteString(hex.EncodeToString(a.BER))
	case known:
		writeEscaped(&b, prepare(a.Value))
	default: // no matching rule we know: exact
		writeEscaped(&b, a.Value)
	}
	return b.String()
}

// prepare is the simplified RFC 4518 preparation of a case-insensitive
// directory string: no leading or trailing space, inner runs of white
// space as one space, case folded.
func prepare(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// Key returns the matching key of s when s is a distinguished name in
// RFC 4514 form with at least one RDN, and s itself otherwise (a SPIFFE ID,
// say). Two workload ids name the same workload exactly when their keys are
// equal: compare and index ids through Key, never as written.
func Key(s string) string {
	if !strings.Contains(s, "=") { // a SPIFFE ID, say: no need to try
		return s
	}
	d, err := Parse(s)
	if err != nil || len(d) == 0 {
		return s
	}
	return d.Key()
}

// Subject is the certificate's subject as RFC 4514 renders it from the
// certificate's own encoding.
func Subject(c *x509.Certificate) string { return render(c.RawSubject, c.Subject.String) }

// Issuer is the certificate's issuer as RFC 4514 renders it from the
// certificate's own encoding.
func Issuer(c *x509.Certificate) string { return render(c.RawIssuer, c.Issuer.String) }

func render(der []byte, fallback func() string) string {
	rendered.RLock()
	s, ok := rendered.m[string(der)]
	rendered.RUnlock()
	if ok {
		return s
	}
	d, err := FromDER(der)
	if err != nil {
		// Not reached for a certificate that crypto/x509 parsed (it reads
		// the same structure); a template without raw names still renders.
		return fallback()
	}
	s = d.String()
	rendered.Lock()
	if len(rendered.m) >= maxRendered {
		clear(rendered.m)
	}
	rendered.m[string(der)] = s
	rendered.Unlock()
	return s
}

// rendered remembers the renderings of encoded names: every request over
// mTLS names its caller, and a few workloads make most of them. The
// rendering is a function of the bytes alone; the memo is emptied when full.
var rendered = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{}}

const maxRendered = 4096
