package orchestration

import (
	"fmt"
	"strings"
)

// Error is one problem in a composite definition.
type Error struct {
	File    string // the definition, as given to Load
	Line    int    // 0 when the problem concerns the whole file
	Element string // e.g. "invoke name=\"lookup\""; may be empty
	Msg     string
}

// Error formats the problem as FILE:LINE: ELEMENT: MSG, leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Element != "" {
		b.WriteString(e.Element)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem Load found, ordered by line.
type Errors []*Error

// Error returns one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
