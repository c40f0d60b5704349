package orchestration

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/soap"
)

// activity is a compiled activity of a definition.
type activity interface {
	base() *actBase
	exec(ctx context.Context, r *run, f *frame) error
}

type actBase struct {
	kind string // the element's name: invoke, sequence, ...
	name string // optional except for invoke
	line int
}

func (b *actBase) base() *actBase { return b }

// label names the activity in errors and audit details.
func (b *actBase) label() string {
	if b.name != "" {
		return fmt.Sprintf("%s %q", b.kind, b.name)
	}
	return fmt.Sprintf("%s (line %d)", b.kind, b.line)
}

type sequence struct {
	actBase
	steps []activity
}

type parallel struct {
	actBase
	branches []activity
}

type choice struct {
	actBase
	whens     []when
	otherwise activity // nil when there is none
}

type when struct {
	test *expr
	body activity
}

type foreach struct {
	actBase
	sel         *expr
	variable    string
	max         int
	concurrency int
	collect     string // "" for none
	body        activity
	// overflow is the fault code when select returns more than max nodes:
	// Sender when select reads only $input (the request is too large),
	// Receiver otherwise.
	overflow soap.Code
}

type scope struct {
	actBase
	body  activity
	catch activity // nil for an empty catch
}

type invoke struct {
	actBase
	service    string
	op         soap.QName
	result     string
	timeout    time.Duration // 0: the rest of the deadline
	idempotent bool          // the definition says so and the catalog agrees
	retries    int
	request    *template
	compensate *compensation
}

type compensation struct {
	service string
	op      soap.QName
	timeout time.Duration
	request *template
}

type assign struct {
	actBase
	variable string
	sel      *expr // exactly one of sel and literal
	literal  *template
}

type reply struct {
	actBase
	tmpl *template
}

type fault struct {
	actBase
	code soap.Code
	text string
}
