package schemas

import (
	"fmt"
	"strings"
)

// Problem is one validation error from libxml2.
type Problem struct {
	// Line is the line of the offending element in the validated document,
	// 0 if unknown. libxml2 stores line numbers in 16 bits: lines beyond
	// 65535 are reported as 65535.
	Line int
	// Element is the offending element as "{namespace}local" (or "local"
	// when it has no namespace), "" if unknown. For an attribute problem it
	// is the attribute's element; the message names the attribute.
	Element string
	// Message is libxml2's message without the leading "Element '…': ",
	// trimmed, control characters replaced by spaces, at most about 512
	// bytes (a cut message ends in "..."). It may quote the invalid value.
	Message string
}

// ValidationError reports a well-formed document that does not match the
// schema.
type ValidationError struct {
	Problems  []Problem // the first problems, at most 16
	Truncated bool      // libxml2 reported more problems than Problems holds
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "schema validation failed"
	}
	p := e.Problems[0]
	var b strings.Builder
	b.WriteString("schema validation failed: ")
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Element != "" {
		fmt.Fprintf(&b, "element %s: ", p.Element)
	}
	b.WriteString(strings.TrimSuffix(p.Message, "."))
	if n := len(e.Problems); n > 1 || e.Truncated {
		more := ""
		if e.Truncated {
			more = "+"
		}
		fmt.Fprintf(&b, " (%d%s problems)", n, more)
	}
	return b.String()
}

// ParseError reports a document libxml2 could not parse: not well-formed,
// not namespace-well-formed, empty, or carrying a DOCTYPE.
type ParseError struct {
	Line    int // 0 if unknown
	Message string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("cannot parse xml: line %d: %s", e.Line, strings.TrimSuffix(e.Message, "."))
	}
	return "cannot parse xml: " + strings.TrimSuffix(e.Message, ".")
}

// CompileError reports why a schema set could not be compiled.
type CompileError struct {
	Name      string // the set's name (see Set.Name)
	Problems  []CompileProblem
	Truncated bool
}

// CompileProblem is one reason a schema set could not be compiled.
type CompileProblem struct {
	// File is the schema document: a path for local files,
	// "embedded:/NAME" for embedded ones, "" if unknown.
	File string
	Line int // 0 if unknown
	// Location is the refused schemaLocation when the problem is a refused
	// xs:import, xs:include or xs:redefine; "" otherwise.
	Location string
	Message  string
}

func (p CompileProblem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Location != "" {
		fmt.Fprintf(&b, "refused schema location %q: ", p.Location)
	}
	b.WriteString(strings.TrimSuffix(p.Message, "."))
	return b.String()
}

func (e *CompileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schemas: compile %s", e.Name)
	if len(e.Problems) > 0 {
		b.WriteString(": ")
		b.WriteString(e.Problems[0].String())
	}
	if n := len(e.Problems); n > 1 || e.Truncated {
		more := ""
		if e.Truncated {
			more = "+"
		}
		fmt.Fprintf(&b, " (%d%s problems)", n, more)
	}
	return b.String()
}

// cleanMessage makes a libxml2 message safe to log and to show: valid
// UTF-8, no control characters, trimmed, without the "Element 'X': " prefix
// when X is the problem's element, and marked when it was cut.
func cleanMessage(msg, element string, cut bool) string {
	msg = strings.ToValidUTF8(msg, "")
	msg = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, msg)
	msg = strings.TrimSpace(msg)
	if element != "" {
		prefix := "Element '" + element + "'"
		if rest, ok := strings.CutPrefix(msg, prefix+": "); ok {
			msg = rest
		} else if rest, ok := strings.CutPrefix(msg, prefix+", "); ok {
			msg = rest
		}
	}
	if cut {
		msg += "..."
	}
	return msg
}

// clark writes an element name as "{namespace}local".
func clark(ns, local string) string {
	if ns == "" {
		return local
	}
	return "{" + ns + "}" + local
}
