package schemas

import (
	"fmt"
	"strings"
)

// FileError is one problem in an XML document read from a file (a
// configuration, a composite definition), positioned for a person to find
// it: FILE:LINE: ELEMENT: MSG.
type FileError struct {
	File    string // the document, as given to its loader
	Line    int    // 0 when the problem concerns the whole file
	Element string // e.g. `service name="accounts"/backend`; may be empty
	Msg     string
}

// Error formats the problem as FILE:LINE: ELEMENT: MSG, leaving out the
// parts that are unknown.
func (e *FileError) Error() string {
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

// FileErrors is every problem a loader found, ordered by line, so that a
// caller can print all of them at once.
type FileErrors []*FileError

// Error returns one problem per line.
func (es FileErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
