package orchestration

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxXPathLength bounds an expression. lestrrat-go/libxml2 copies an
// expression into a 4096-byte buffer without room for a terminating NUL when
// it is exactly that long, so the bound stays far below it (the schema says
// the same), and the wrapped forms string(...) and boolean(...) fit too.
const maxXPathLength = 1024

// xpathNames is what an expression refers to, as its lexical structure
// (XPath 1.0, section 3.7) says: libxml2 resolves none of these when it
// compiles, so the loader checks them itself.
type xpathNames struct {
	vars     []string // variable references, distinct, in order of appearance
	prefixes []string // namespace prefixes of name tests, distinct
}

// coreFunctions is the XPath 1.0 core function library (section 4). Nothing
// else is callable: in particular not document(), which would read other
// documents, nor any extension function.
var coreFunctions = map[string]bool{
	"last": true, "position": true, "count": true, "id": true,
	"local-name": true, "namespace-uri": true, "name": true,
	"string": true, "concat": true, "starts-with": true, "contains": true,
	"substring-before": true, "substring-after": true, "substring": true,
	"string-length": true, "normalize-space": true, "translate": true,
	"boolean": true, "not": true, "true": true, "false": true, "lang": true,
	"number": true, "sum": true, "floor": true, "ceiling": true, "round": true,
}

var nodeTypes = map[string]bool{"comment": true, "text": true, "processing-instruction": true, "node": true}

var operatorNames = map[string]bool{"and": true, "or": true, "mod": true, "div": true}

// tokenKind says what the previous token was, as far as the disambiguation
// rules of section 3.7 need to know.
type tokenKind int

const (
	tokNone     tokenKind = iota // start of the expression
	tokOpen                      // ( [ , @ :: or an operator: a name after it is a name test
	tokOperand                   // ) ] . .. a literal, number, variable or name test
	tokFunction                  // a function name or node type, '(' must follow
)

// scanXPath splits expr into tokens just far enough to find its variable
// references, function calls and name-test prefixes. It reports a function
// outside the core library, a prefixed function or variable, and lexical
// errors; everything else about syntax is left to libxml2's compiler.
func scanXPath(expr string) (xpathNames, error) {
	var names xpathNames
	if len(expr) > maxXPathLength {
		return names, fmt.Errorf("expression longer than %d bytes", maxXPathLength)
	}
	prev := tokNone
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '(' || c == '[' || c == ',' || c == '@' || c == '|' || c == '+' || c == '-' || c == '=':
			i++
			prev = tokOpen
		case c == ')' || c == ']':
			i++
			prev = tokOperand
		case c == '!':
			if i+1 >= len(expr) || expr[i+1] != '=' {
				return names, fmt.Errorf("'!' without '=' at offset %d", i)
			}
			i += 2
			prev = tokOpen
		case c == '<' || c == '>':
			i++
			if i < len(expr) && expr[i] == '=' {
				i++
			}
			prev = tokOpen
		case c == '/':
			i++
			if i < len(expr) && expr[i] == '/' {
				i++
			}
			prev = tokOpen
		case c == ':':
			if i+1 >= len(expr) || expr[i+1] != ':' {
				return names, fmt.Errorf("unexpected ':' at offset %d", i)
			}
			i += 2
			prev = tokOpen
		case c == '*':
			// A multiplication after an operand, else the name test "*".
			i++
			if prev == tokOperand {
				prev = tokOpen
			} else {
				prev = tokOperand
			}
		case c == '"' || c == '\'':
			end := strings.IndexByte(expr[i+1:], c)
			if end < 0 {
				return names, fmt.Errorf("unterminated string literal at offset %d", i)
			}
			i += end + 2
			prev = tokOperand
		case c == '.' || (c >= '0' && c <= '9'):
			j := i
			for j < len(expr) && (expr[j] >= '0' && expr[j] <= '9' || expr[j] == '.') {
				j++
			}
			i = j
			prev = tokOperand
		case c == '$':
			prefix, local, n := readQName(expr[i+1:])
			if n == 0 || local == "*" {
				return names, fmt.Errorf("'$' without a variable name at offset %d", i)
			}
			if prefix != "" {
				return names, fmt.Errorf("variable $%s:%s: variable names have no prefix", prefix, local)
			}
			if !slices.Contains(names.vars, local) {
				names.vars = append(names.vars, local)
			}
			i += 1 + n
			prev = tokOperand
		default:
			prefix, local, n := readQName(expr[i:])
			if n == 0 {
				r, _ := utf8.DecodeRuneInString(expr[i:])
				return names, fmt.Errorf("unexpected character %q at offset %d", r, i)
			}
			i += n
			if prev == tokOperand {
				// Section 3.7: after an operand, a name is an operator.
				if prefix != "" || !operatorNames[local] {
					return names, fmt.Errorf("unexpected name %q at offset %d (an operator was expected)", qname(prefix, local), i-n)
				}
				prev = tokOpen
				continue
			}
			next := skipSpace(expr, i)
			switch {
			case next < len(expr) && expr[next] == '(' && prefix == "" && nodeTypes[local]:
				prev = tokFunction
			case next < len(expr) && expr[next] == '(':
				if prefix != "" {
					return names, fmt.Errorf("function %s(): extension functions are not available", qname(prefix, local))
				}
				if !coreFunctions[local] {
					return names, fmt.Errorf("function %s(): only the XPath 1.0 core functions are available", local)
				}
				prev = tokFunction
			case strings.HasPrefix(expr[next:], "::"):
				if prefix != "" {
					return names, fmt.Errorf("unexpected ':' in axis name %q", qname(prefix, local))
				}
				prev = tokOpen // the '::' follows; a name after it is a name test
			default:
				if prefix != "" && !slices.Contains(names.prefixes, prefix) {
					names.prefixes = append(names.prefixes, prefix)
				}
				prev = tokOperand
			}
		}
	}
	return names, nil
}

// readQName reads NCName or NCName:NCName or NCName:* at the start of s and
// returns its parts and length, or n == 0 if s does not start with a name.
func readQName(s string) (prefix, local string, n int) {
	n = ncNameLen(s)
	if n == 0 {
		return "", "", 0
	}
	local = s[:n]
	if n+1 < len(s) && s[n] == ':' && s[n+1] != ':' {
		if s[n+1] == '*' {
			return local, "*", n + 2
		}
		if m := ncNameLen(s[n+1:]); m > 0 {
			return local, s[n+1 : n+1+m], n + 1 + m
		}
	}
	return "", local, n
}

// ncNameLen is the length in bytes of the NCName at the start of s.
func ncNameLen(s string) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		ok := r == '_' || unicode.IsLetter(r)
		if n > 0 {
			ok = ok || r == '-' || r == '.' || r == '\u00b7' || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
		}
		if !ok || r == utf8.RuneError {
			break
		}
		n += size
	}
	return n
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func qname(prefix, local string) string {
	if prefix == "" {
		return local
	}
	return prefix + ":" + local
}
