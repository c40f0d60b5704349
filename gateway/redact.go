package gateway

import (
	"errors"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/schemas"
)

// Validation messages from libxml2 quote the message's content ("'…' is not
// a valid value of …", "[facet 'pattern'] The value '…' is not accepted by
// …", "Duplicate key-sequence ['…']"), and that content may be a secret.
// The audit record keeps the line, the element and what the schema said,
// never a value: redaction is default-deny. A message of a known template
// keeps its schema part (type, facet, pattern, enumeration, bound) and loses
// the value; a message of no known template that quotes anything is
// withheld but for its element and facet.

// withheld stands for a value of the message that the record leaves out.
const withheld = "<value withheld>"

// messageHead is what may open a message before its value: the element and
// attribute it is about (when libxml2 did not already move them into the
// problem's fields) and the facet. XML names hold no apostrophe, so the head
// is unambiguous.
const messageHead = `^((?:Element '[^']*'(?:, attribute '[^']*')?: )?(?:attribute '[^']*': )?(?:\[facet '[A-Za-z]+'\] )?)`

var headOnly = regexp.MustCompile(messageHead)

// valueTemplates match the messages that quote a value, with five groups:
// the head, the words that open the value, the value, the words that close
// it and the rest. The value is greedy: it runs to the last
// place where the rest matches, so a value that contains the template's own
// words is withheld whole, and the rest (after the value's closing quote) is
// the schema's text, never the message's.
var valueTemplates = []*regexp.Regexp{
	regexp.MustCompile(messageHead + `((?:The value |The actual value |The QName value )?')(.*)('` +
		`(?: is not a valid value of | has a length of '| is not accepted by the pattern '| is not an element of the set \{|` +
		` is greater than | is less than | must be greater than '| must be less than '|` +
		` has more digits than are allowed \('| has more fractional digits than are allowed \('|` +
		` does not match the fixed value constraint '| has no corresponding namespace declaration in scope))(.*)$`),
	regexp.MustCompile(messageHead + `((?:Duplicate key-sequence |No match found for key-sequence )\[)(.*)(\](?: in [a-z]+ identity-constraint '| of keyref '))(.*)$`),
}

// safeTemplates are messages that quote only names and numbers of the
// schema or the document's structure, never a value.
var safeTemplates = []*regexp.Regexp{
	regexp.MustCompile(messageHead + `(?:The attribute '[^']*' is not allowed|The attribute '[^']*' is required but missing)\.?$`),
	regexp.MustCompile(messageHead + `The value has a length of '[0-9]+'; this (?:exceeds|underruns|differs from) the allowed (?:maximum |minimum )?length of '[0-9]+'\.?$`),
	regexp.MustCompile(messageHead + `Character content other than whitespace is not allowed because the content type is '[a-z-]+'\.?$`),
}

// redactValues keeps a validation error's lines, elements and schema text,
// without the message's values. Errors other than libxml2's (from our own
// code) are kept as they are.
func redactValues(err error) error {
	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		out := &schemas.ValidationError{Problems: make([]schemas.Problem, len(ve.Problems)), Truncated: ve.Truncated}
		for i, p := range ve.Problems {
			p.Message = redactMessage(p.Message)
			out.Problems[i] = p
		}
		return out
	}
	var pe *schemas.ParseError
	if errors.As(err, &pe) {
		return &schemas.ParseError{Line: pe.Line, Message: redactMessage(pe.Message)}
	}
	return err
}

// redactMessage returns msg without any value it quotes.
func redactMessage(msg string) string {
	if !strings.Contains(msg, "'") {
		return msg
	}
	for _, re := range valueTemplates {
		if m := re.FindStringSubmatch(msg); m != nil {
			return m[1] + m[2] + withheld + m[4] + m[5]
		}
	}
	for _, re := range safeTemplates {
		if re.MatchString(msg) {
			return msg
		}
	}
	return headOnly.FindString(msg) + "message withheld: it may quote a value"
}
