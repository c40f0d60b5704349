package orchestration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/soap"
)

// One table case per activity kind and the ways it ends.
func TestActivities(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		body      string
		answers   map[string]behaviour
		input     string // default inputReq
		want      string // the exact reply, when no error is expected
		wantCode  soap.Code
		wantText  string // public text
		wantErr   string // fragment of the internal reason
		wantSteps []string
	}{
		{
			name: "invoke: request from input, reply from result",
			body: `<sequence>
  <invoke name="get" service="svc" operation="{urn:svc}Get" result="acct">
    <request><s:Get><s:Id><value-of select="$input/b:Id"/></s:Id><s:Name><value-of select="$input/b:Name"/></s:Name></s:Get></request>
  </invoke>
  <reply><b:Resp><value-of select="$acct/r:Balance"/></b:Resp></reply>
</sequence>`,
			answers:   map[string]behaviour{"get": {resp: `<r:Acct xmlns:r="urn:resp"><r:Balance>12.50</r:Balance></r:Acct>`}},
			want:      `<b:Resp xmlns:b="urn:bank">12.50</b:Resp>`,
			wantSteps: []string{"get"},
		},
		{
			name: "sequence: in order",
			body: `<sequence>
  <invoke name="one" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
  <invoke name="two" service="svc" operation="{urn:svc}B"><request><s:B/></request></invoke>
  <invoke name="three" service="other" operation="{urn:svc}X"><request><s:X/></request></invoke>
  ` + replyOK + `
</sequence>`,
			want:      `<b:Resp xmlns:b="urn:bank">ok</b:Resp>`,
			wantSteps: []string{"one", "two", "three"},
		},
		{
			name: "assign: nodes, string, literal",
			body: `<sequence>
  <assign variable="id" select="$input/b:Id"/>
  <assign variable="n" select="count($input/*) * 10"/>
  <assign variable="lit"><literal><b:Tag kind="x"><value-of select="$id + 1"/></b:Tag>tail</literal></assign>
  <reply><b:Resp><value-of select="$id"/>|<value-of select="$n"/>|<copy-of select="$lit"/>|<value-of select="$lit[1]/@kind"/></b:Resp></reply>
</sequence>`,
			want: `<b:Resp xmlns:b="urn:bank">7|20|<b:Tag kind="x">8</b:Tag>tail|x</b:Resp>`,
		},
		{
			name: "choice: the first test that holds",
			body: `<sequence>
  <choice>
    <when test="$input/b:Id = 8"><assign variable="x"><literal>eight</literal></assign></when>
    <when test="$input/b:Id &gt; 5"><assign variable="x"><literal>more than five</literal></assign></when>
    <when test="$input/b:Id = 7"><assign variable="x"><literal>seven</literal></assign></when>
    <otherwise><assign variable="x"><literal>other</literal></assign></otherwise>
  </choice>
  <reply><b:Resp><value-of select="$x"/></b:Resp></reply>
</sequence>`,
			want: `<b:Resp xmlns:b="urn:bank">more than five</b:Resp>`,
		},
		{
			name: "choice: otherwise",
			body: `<sequence>
  <choice>
    <when test="$input/b:Missing"><fault code="Receiver" text="no"/></when>
    <otherwise><assign variable="x"><literal>other</literal></assign></otherwise>
  </choice>
  <reply><b:Resp><value-of select="$x"/></b:Resp></reply>
</sequence>`,
			want: `<b:Resp xmlns:b="urn:bank">other</b:Resp>`,
		},
		{
			name:     "fault: Sender with its text",
			body:     `<sequence><fault name="refuse" code="Sender" text="KYC failed"/>` + replyOK + `</sequence>`,
			wantCode: soap.Sender, wantText: "KYC failed", wantErr: `fault "refuse": fault Sender raised: KYC failed`,
		},
		{
			name:     "fault: Receiver",
			body:     `<sequence><fault code="Receiver" text="closed today"/>` + replyOK + `</sequence>`,
			wantCode: soap.Receiver, wantText: "closed today", wantErr: "fault (line 6)",
		},
		{
			name: "scope: catch runs on a failed invoke, $fault tells the step",
			body: `<sequence>
  <scope>
    <invoke name="a" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
    <invoke name="b" service="svc" operation="{urn:svc}B"><request><s:B/></request></invoke>
    <assign variable="x"><literal>done</literal></assign>
    <catch><assign variable="x" select="concat($fault/@code, ' ', $fault/@step, ': ', $fault)"/></catch>
  </scope>
  <reply><b:Resp><value-of select="$x"/></b:Resp></reply>
</sequence>`,
			answers:   map[string]behaviour{"a": {err: errBoom}},
			want:      `<b:Resp xmlns:b="urn:bank">Receiver invoke "a": composite service failed</b:Resp>`,
			wantSteps: []string{"a"},
		},
		{
			name: "scope: nested, the inner catch faults again and the outer one handles it",
			body: `<sequence>
  <scope>
    <scope>
      <fault code="Sender" text="inner"/>
      <catch>
        <assign variable="inner" select="string($fault)"/>
        <fault code="Receiver" text="from inner catch"/>
      </catch>
    </scope>
    <assign variable="x"><literal>not reached</literal></assign>
    <catch><assign variable="x" select="$fault"/></catch>
  </scope>
  <scope>
    <fault code="Sender" text="second"/>
    <catch/>
  </scope>
  <reply><b:Resp><value-of select="$x"/></b:Resp></reply>
</sequence>`,
			want: `<b:Resp xmlns:b="urn:bank">from inner catch</b:Resp>`,
		},
		{
			name: "scope: an unhandled fault escapes the catch",
			body: `<sequence>
  <scope>
    <fault code="Sender" text="first"/>
    <catch><fault code="Sender" text="second"/></catch>
  </scope>
  ` + replyOK + `
</sequence>`,
			wantCode: soap.Sender, wantText: "second",
		},
		{
			name: "foreach: sequential, collect in node order",
			body: `<sequence>
  <foreach select="$input/b:Item" variable="it" max="5" collect="out">
    <invoke name="each" service="svc" operation="{urn:svc}A" result="out"><request><s:A><value-of select="$it"/></s:A></request></invoke>
  </foreach>
  <reply><b:Resp><value-of select="count($out)"/></b:Resp></reply>
</sequence>`,
			input:     `<b:Req xmlns:b="urn:bank"><b:Item>1</b:Item><b:Item>2</b:Item><b:Item>3</b:Item></b:Req>`,
			want:      `<b:Resp xmlns:b="urn:bank">3</b:Resp>`,
			wantSteps: []string{"each", "each", "each"},
		},
		{
			name: "foreach: no items",
			body: `<sequence>
  <foreach select="$input/b:Item" variable="it" max="5" collect="out">
    <assign variable="out" select="$it"/>
  </foreach>
  <reply><b:Resp><value-of select="count($out)"/></b:Resp></reply>
</sequence>`,
			want: `<b:Resp xmlns:b="urn:bank">0</b:Resp>`,
		},
		{
			name: "parallel: both results",
			body: `<sequence>
  <parallel>
    <invoke name="a" service="svc" operation="{urn:svc}A" result="ra"><request><s:A/></request></invoke>
    <invoke name="b" service="svc" operation="{urn:svc}B" result="rb"><request><s:B/></request></invoke>
  </parallel>
  <reply><b:Resp><value-of select="concat($ra, '+', $rb)"/></b:Resp></reply>
</sequence>`,
			answers: map[string]behaviour{
				"a": {resp: `<r:V xmlns:r="urn:resp">A</r:V>`, delay: 20 * time.Millisecond},
				"b": {resp: `<r:V xmlns:r="urn:resp">B</r:V>`},
			},
			want: `<b:Resp xmlns:b="urn:bank">A+B</b:Resp>`,
		},
		{
			name:     "input: not the input element",
			body:     replyOK,
			input:    `<b:Other xmlns:b="urn:bank"/>`,
			wantCode: soap.Sender, wantText: publicInput, wantErr: "input element {urn:bank}Other, want {urn:bank}Req",
		},
		{
			name:     "input: DOCTYPE",
			body:     replyOK,
			input:    `<!DOCTYPE b:Req [<!ENTITY x SYSTEM "file:///etc/passwd">]><b:Req xmlns:b="urn:bank">&x;</b:Req>`,
			wantCode: soap.Sender, wantText: publicInput, wantErr: "markup declaration",
		},
		{
			name:     "input: two elements",
			body:     replyOK,
			input:    `<b:Req xmlns:b="urn:bank"/><b:Req xmlns:b="urn:bank"/>`,
			wantCode: soap.Sender, wantText: publicInput, wantErr: "more than one payload element",
		},
		{
			name:     "input: undeclared prefix",
			body:     replyOK,
			input:    `<b:Req/>`,
			wantCode: soap.Sender, wantText: publicInput, wantErr: "undeclared namespace prefix",
		},
		{
			name:     "invoke: refused with a Sender fault",
			body:     `<sequence><invoke name="a" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>` + replyOK + `</sequence>`,
			answers:  map[string]behaviour{"a": {err: soap.SecurityFault(soap.FaultFailedAuthentication, "denied", errors.New("no rule allows"))}},
			wantCode: soap.Sender, wantText: publicRefused, wantErr: "no rule allows",
		},
		{
			name:     "invoke: a failure is a Receiver fault",
			body:     `<sequence><invoke name="a" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>` + replyOK + `</sequence>`,
			answers:  map[string]behaviour{"a": {err: errBoom}},
			wantCode: soap.Receiver, wantText: publicFailed, wantErr: `invoke "a": call of {urn:svc}A on service "svc": boom`,
		},
		{
			name:     "invoke: a malformed response",
			body:     `<sequence><invoke name="a" service="svc" operation="{urn:svc}A" result="x"><request><s:A/></request></invoke>` + replyOK + `</sequence>`,
			answers:  map[string]behaviour{"a": {resp: `<r:Open xmlns:r="urn:resp">`}},
			wantCode: soap.Receiver, wantText: publicFailed, wantErr: `response of service "svc"`,
		},
		{
			name:     "xpath: a runtime error",
			body:     `<sequence><assign variable="x" select="count('not nodes')"/>` + replyOK + `</sequence>`,
			wantCode: soap.Receiver, wantText: publicFailed, wantErr: `XPath "count('not nodes')": invalid type`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, def(tt.body))
			inv := newInvoker(tt.answers)
			input := tt.input
			if input == "" {
				input = inputReq
			}
			out, err := c.Run(t.Context(), []byte(input), inv)
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				if string(out) != tt.want {
					t.Errorf("reply\n got %s\nwant %s", out, tt.want)
				}
			} else {
				f := asFault(t, err)
				if f.Code != tt.wantCode || f.Public != tt.wantText {
					t.Errorf("fault %v %q, want %v %q", f.Code, f.Public, tt.wantCode, tt.wantText)
				}
				if !strings.Contains(f.Reason(), tt.wantErr) {
					t.Errorf("reason %q does not contain %q", f.Reason(), tt.wantErr)
				}
				if out != nil {
					t.Errorf("reply %s with an error", out)
				}
			}
			if tt.wantSteps != nil && !slices.Equal(inv.steps(), tt.wantSteps) {
				t.Errorf("calls %v, want %v", inv.steps(), tt.wantSteps)
			}
		})
	}
}

// The example definition end to end: the happy path, and a KYC refusal
// late in the run that undoes the account it created.
func TestExampleRun(t *testing.T) {
	c, err := Load("testdata/open-account.xml", exampleCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	input, err := os.ReadFile("testdata/open-account-input.xml")
	if err != nil {
		t.Fatal(err)
	}
	answers := func(kyc string) map[string]behaviour {
		return map[string]behaviour{
			"lookup":    {resp: `<c:Customer xmlns:c="urn:gatehouse:demo:customers"><c:Name>Ann</c:Name></c:Customer>`},
			"kyc":       {resp: `<k:Result xmlns:k="urn:gatehouse:demo:kyc"><k:Status>` + kyc + `</k:Status></k:Result>`},
			"create":    {resp: `<a:Created xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>AC-1</a:AccountId></a:Created>`},
			"add-owner": {resp: `<a:OwnerAdded xmlns:a="urn:gatehouse:demo:accounts"/>`},
			"welcome":   {err: errors.New("mail server down")},
		}
	}

	inv := newInvoker(answers("passed"))
	out, err := c.Run(t.Context(), input, inv)
	if err != nil {
		t.Fatal(err)
	}
	want := `<b:OpenAccountResponse xmlns:b="urn:gatehouse:demo:bank"><b:AccountId>AC-1</b:AccountId><b:Status>opened</b:Status><b:Owners>3</b:Owners><b:Welcome>pending</b:Welcome></b:OpenAccountResponse>`
	if string(out) != want {
		t.Errorf("reply\n got %s\nwant %s", out, want)
	}
	add, _ := inv.call("add-owner")
	if got := string(add.Request); !strings.Contains(got, `<a:AccountId>AC-1</a:AccountId><b:Owner xmlns:b="urn:gatehouse:demo:bank"><b:Name>`) {
		t.Errorf("add-owner request %s", got)
	}
	if lookup, _ := inv.call("lookup"); string(lookup.Request) != `<c:GetCustomer xmlns:c="urn:gatehouse:demo:customers"><c:Id>C-17</c:Id></c:GetCustomer>` {
		t.Errorf("lookup request %s", lookup.Request)
	}

	inv = newInvoker(answers("failed"))
	_, err = c.Run(t.Context(), input, inv)
	f := asFault(t, err)
	if f.Code != soap.Sender || f.Public != "KYC failed" {
		t.Errorf("fault %v %q", f.Code, f.Public)
	}
	undo, ok := inv.call("undo:create")
	if !ok {
		t.Fatalf("create not compensated: %v", inv.steps())
	}
	if want := `<a:CloseAccount xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>AC-1</a:AccountId></a:CloseAccount>`; string(undo.Request) != want || undo.Service != "cics-accounts" || undo.Operation.Local != "CloseAccount" {
		t.Errorf("compensation %+v", undo)
	}
}

// The first failure in a parallel cancels the other branches, which the
// parallel waits for.
func TestParallelCancellation(t *testing.T) {
	c := mustLoad(t, def(`<sequence>
  <parallel>
    <invoke name="slow" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
    <sequence>
      <invoke name="fast" service="svc" operation="{urn:svc}B"><request><s:B/></request></invoke>
      <fault code="Sender" text="stop"/>
    </sequence>
  </parallel>
  `+replyOK+`
</sequence>`))
	// fast takes a moment, so that slow has surely started when it fails.
	inv := newInvoker(map[string]behaviour{"slow": {delay: 10 * time.Second}, "fast": {delay: 50 * time.Millisecond}})
	start := time.Now()
	_, err := c.Run(t.Context(), []byte(inputReq), inv)
	if f := asFault(t, err); f.Code != soap.Sender || f.Public != "stop" {
		t.Errorf("fault %v %q", f.Code, f.Public)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v: the slow branch was not cancelled", d)
	}
	if !inv.cancelled["slow"] {
		t.Error("the slow branch did not see its context cancelled")
	}
}

func TestForeachBound(t *testing.T) {
	items := `<b:Req xmlns:b="urn:bank"><b:Item>1</b:Item><b:Item>2</b:Item><b:Item>3</b:Item><b:Item>4</b:Item></b:Req>`
	tests := []struct {
		name     string
		body     string
		wantCode soap.Code
		wantText string
	}{
		{"over the input: the request is too large", `<sequence>
  <foreach select="$input/b:Item" variable="it" max="3">
    <invoke name="each" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
  </foreach>
  ` + replyOK + `
</sequence>`, soap.Sender, publicTooMany},
		{"over a response: the composite failed", `<sequence>
  <assign variable="list" select="$input"/>
  <foreach select="$list/b:Item" variable="it" max="3">
    <invoke name="each" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
  </foreach>
  ` + replyOK + `
</sequence>`, soap.Receiver, publicFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, def(tt.body))
			inv := newInvoker(nil)
			_, err := c.Run(t.Context(), []byte(items), inv)
			f := asFault(t, err)
			if f.Code != tt.wantCode || f.Public != tt.wantText || !strings.Contains(f.Reason(), "4 items, at most 3 allowed") {
				t.Errorf("fault %v %q %q", f.Code, f.Public, f.Reason())
			}
			if n := len(inv.steps()); n != 0 {
				t.Errorf("%d calls made before the bound was checked", n)
			}
		})
	}
}

func TestForeachConcurrency(t *testing.T) {
	var items strings.Builder
	items.WriteString(`<b:Req xmlns:b="urn:bank">`)
	for i := range 7 {
		fmt.Fprintf(&items, "<b:Item>%d</b:Item>", i)
	}
	items.WriteString(`</b:Req>`)
	for _, conc := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(conc), func(t *testing.T) {
			c := mustLoad(t, def(fmt.Sprintf(`<sequence>
  <foreach select="$input/b:Item" variable="it" max="10" concurrency="%d" collect="got">
    <invoke name="each" service="svc" operation="{urn:svc}A" result="r"><request><s:A><value-of select="$it"/></s:A></request></invoke>
    <assign variable="got" select="$it"/>
  </foreach>
  <reply><b:Resp><copy-of select="$got"/></b:Resp></reply>
</sequence>`, conc)))
			inv := newInvoker(map[string]behaviour{"each": {resp: `<r:Ok xmlns:r="urn:resp"/>`, delay: 15 * time.Millisecond}})
			out, err := c.Run(t.Context(), []byte(items.String()), inv)
			if err != nil {
				t.Fatal(err)
			}
			if inv.maxInFlight != conc {
				t.Errorf("at most %d calls in flight, want %d", inv.maxInFlight, conc)
			}
			if len(inv.calls) != 7 {
				t.Errorf("%d calls", len(inv.calls))
			}
			want := `<b:Resp xmlns:b="urn:bank"><b:Item>0</b:Item><b:Item>1</b:Item><b:Item>2</b:Item><b:Item>3</b:Item><b:Item>4</b:Item><b:Item>5</b:Item><b:Item>6</b:Item></b:Resp>`
			if string(out) != want {
				t.Errorf("reply %s, want items in node order", out)
			}
		})
	}
}

// A failing iteration stops the others and the loop.
func TestForeachFailure(t *testing.T) {
	c := mustLoad(t, def(`<sequence>
  <foreach select="$input/b:Item" variable="it" max="10" concurrency="2">
    <choice>
      <when test="$it = 2">
        <invoke name="check" service="svc" operation="{urn:svc}B"><request><s:B/></request></invoke>
        <fault code="Sender" text="bad item"/>
      </when>
      <otherwise><invoke name="each" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke></otherwise>
    </choice>
  </foreach>
  `+replyOK+`
</sequence>`))
	inv := newInvoker(map[string]behaviour{"each": {delay: 5 * time.Second}, "check": {delay: 50 * time.Millisecond}})
	start := time.Now()
	_, err := c.Run(t.Context(), []byte(`<b:Req xmlns:b="urn:bank"><b:Item>1</b:Item><b:Item>2</b:Item><b:Item>3</b:Item><b:Item>4</b:Item></b:Req>`), inv)
	if f := asFault(t, err); f.Public != "bad item" {
		t.Errorf("fault %q", f.Public)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	if n := len(inv.steps()); n != 2 || !inv.cancelled["each"] {
		t.Errorf("calls %v, cancelled %v: want item 1's call cancelled, item 2's check made, items 3 and 4 never started", inv.steps(), inv.cancelled)
	}
}

// Compensations run in reverse order of completion when a later step
// fails; a failed compensation does not stop the others.
func TestCompensationOrder(t *testing.T) {
	c := mustLoad(t, def(`<sequence>
  <invoke name="a" service="svc" operation="{urn:svc}A" result="ra"><request><s:A/></request>
    <compensate operation="{urn:svc}Undo"><request><s:Undo><value-of select="$ra"/></s:Undo></request></compensate></invoke>
  <parallel>
    <invoke name="b" service="svc" operation="{urn:svc}B" result="rb"><request><s:B/></request>
      <compensate operation="{urn:svc}Undo" timeout="500ms"><request><s:Undo><value-of select="$rb"/></s:Undo></request></compensate></invoke>
    <invoke name="c" service="svc" operation="{urn:svc}C" result="rc"><request><s:C/></request>
      <compensate service="svc" operation="{urn:svc}Undo2"><request><s:Undo2><value-of select="$rc"/></s:Undo2></request></compensate></invoke>
  </parallel>
  <invoke name="nothing-to-undo" service="svc" operation="{urn:svc}D"><request><s:D/></request></invoke>
  <invoke name="late" service="other" operation="{urn:svc}X"><request><s:X/></request></invoke>
  `+replyOK+`
</sequence>`))
	rec := &recorder{}
	c.Observer = rec
	inv := newInvoker(map[string]behaviour{
		"a":      {resp: `<r:Id xmlns:r="urn:resp">A-1</r:Id>`},
		"b":      {resp: `<r:Id xmlns:r="urn:resp">B-1</r:Id>`, delay: 40 * time.Millisecond},
		"c":      {resp: `<r:Id xmlns:r="urn:resp">C-1</r:Id>`},
		"late":   {err: errors.New("backend down")},
		"undo:c": {err: errors.New("cannot undo c")},
	})
	_, err := c.Run(t.Context(), []byte(inputReq), inv)
	f := asFault(t, err)
	if f.Code != soap.Receiver || f.Public != publicFailed {
		t.Errorf("fault %v %q", f.Code, f.Public)
	}
	steps := inv.steps()
	if want := []string{"undo:b", "undo:c", "undo:a"}; !slices.Equal(steps[len(steps)-3:], want) {
		t.Fatalf("calls %v, want compensations %v last (c completed before b)", steps, want)
	}
	for _, k := range []string{"undo:a", "undo:b", "undo:c"} {
		call, _ := inv.call(k)
		if !call.Compensation || call.Step != k[5:] {
			t.Errorf("%s: %+v", k, call)
		}
	}
	undoA, _ := inv.call("undo:a")
	if string(undoA.Request) != `<s:Undo xmlns:s="urn:svc">A-1</s:Undo>` || undoA.Operation != op("Undo") || undoA.Service != "svc" {
		t.Errorf("undo:a %+v", undoA)
	}
	if d := inv.deadlines["undo:b"]; d > 500*time.Millisecond || d < 400*time.Millisecond {
		t.Errorf("undo:b had %v left, want its own 500ms", d)
	}
	for _, w := range []string{`invoke "late"`, "backend down", `compensation of step "c" failed: cannot undo c`} {
		if !strings.Contains(f.Reason(), w) {
			t.Errorf("reason %q lacks %q", f.Reason(), w)
		}
	}
	if want := []string{"t/b:true", "t/c:false", "t/a:true"}; !slices.Equal(rec.compensated, want) {
		t.Errorf("observer saw compensations %v, want %v", rec.compensated, want)
	}
}

// A run that exhausts its deadline fails with Receiver and compensates
// what completed, on a context the deadline does not cancel.
func TestDeadlineCompensates(t *testing.T) {
	c := mustLoad(t, defDeadline("150ms", `<sequence>
  <invoke name="a" service="svc" operation="{urn:svc}A"><request><s:A/></request>
    <compensate operation="{urn:svc}Undo"><request><s:Undo/></request></compensate></invoke>
  <scope>
    <invoke name="slow" service="svc" operation="{urn:svc}B"><request><s:B/></request></invoke>
    <catch><assign variable="x" select="1"/></catch>
  </scope>
  `+replyOK+`
</sequence>`))
	inv := newInvoker(map[string]behaviour{"slow": {delay: 10 * time.Second}})
	start := time.Now()
	_, err := c.Run(t.Context(), []byte(inputReq), inv)
	f := asFault(t, err)
	if f.Code != soap.Receiver || f.Public != publicFailed || !strings.Contains(f.Reason(), "deadline exceeded (the composite's, 150ms)") || !errors.Is(err, ErrDeadline) {
		t.Errorf("fault %v %q %q", f.Code, f.Public, f.Reason())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	if want := []string{"a", "slow", "undo:a"}; !slices.Equal(inv.steps(), want) {
		t.Errorf("calls %v, want %v (the catch must not handle an exceeded deadline)", inv.steps(), want)
	}
	if d := inv.deadlines["undo:a"]; d < time.Second {
		t.Errorf("compensation had %v, want its own 2s", d)
	}
}

// ErrDeadline says the run ran out of time, whoever set the deadline; an
// invoke's own timeout is the step failing, not the run's deadline, though
// both are context.DeadlineExceeded underneath.
func TestErrDeadline(t *testing.T) {
	slow := `<sequence>
  <invoke name="slow" service="svc" operation="{urn:svc}A" timeout="50ms"><request><s:A/></request></invoke>
  ` + replyOK + `
</sequence>`
	inv := newInvoker(map[string]behaviour{"slow": {delay: 10 * time.Second}})

	_, err := mustLoad(t, def(slow)).Run(t.Context(), []byte(inputReq), inv)
	if f := asFault(t, err); errors.Is(err, ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("invoke timeout: %q is ErrDeadline %v, want false", f.Reason(), errors.Is(err, ErrDeadline))
	}

	_, err = mustLoad(t, defDeadline("50ms", strings.Replace(slow, ` timeout="50ms"`, "", 1))).Run(t.Context(), []byte(inputReq), inv)
	if f := asFault(t, err); !errors.Is(err, ErrDeadline) || !strings.Contains(f.Reason(), "the composite's, 50ms") {
		t.Errorf("composite deadline: %q, want ErrDeadline", f.Reason())
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = mustLoad(t, def(strings.Replace(slow, ` timeout="50ms"`, "", 1))).Run(ctx, []byte(inputReq), inv)
	if f := asFault(t, err); !errors.Is(err, ErrDeadline) || !strings.Contains(f.Reason(), "the caller's") {
		t.Errorf("caller's deadline: %q, want ErrDeadline", f.Reason())
	}

	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = mustLoad(t, def(strings.Replace(slow, ` timeout="50ms"`, "", 1))).Run(ctx, []byte(inputReq), inv)
	if f := asFault(t, err); errors.Is(err, ErrDeadline) {
		t.Errorf("cancelled: %q is ErrDeadline, want not", f.Reason())
	}
}

// A caller's earlier deadline wins, and every call gets min(its timeout,
// what is left).
func TestInvokeTimeouts(t *testing.T) {
	c := mustLoad(t, def(`<sequence>
  <invoke name="short" service="svc" operation="{urn:svc}A" timeout="100ms"><request><s:A/></request></invoke>
  <invoke name="long" service="svc" operation="{urn:svc}B" timeout="1s"><request><s:B/></request></invoke>
  <invoke name="none" service="svc" operation="{urn:svc}C"><request><s:C/></request></invoke>
  `+replyOK+`
</sequence>`))
	inv := newInvoker(nil)
	if _, err := c.Run(t.Context(), []byte(inputReq), inv); err != nil {
		t.Fatal(err)
	}
	if d := inv.deadlines["short"]; d > 100*time.Millisecond || d < 50*time.Millisecond {
		t.Errorf("short: %v", d)
	}
	if d := inv.deadlines["long"]; d > time.Second || d < 900*time.Millisecond {
		t.Errorf("long: %v", d)
	}
	if d := inv.deadlines["none"]; d > 2*time.Second || d < 1500*time.Millisecond {
		t.Errorf("none: %v, want the rest of the 2s deadline", d)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	inv = newInvoker(nil)
	if _, err := c.Run(ctx, []byte(inputReq), inv); err != nil {
		t.Fatal(err)
	}
	if d := inv.deadlines["long"]; d > 300*time.Millisecond {
		t.Errorf("long under a 300ms caller deadline: %v", d)
	}
}

func TestRetries(t *testing.T) {
	errDown := errors.New("connection refused")
	get := func(retries int) string {
		return def(fmt.Sprintf(`<sequence>
  <invoke name="get" service="svc" operation="{urn:svc}Get" idempotent="true" retries="%d"><request><s:Get/></request></invoke>
  `+replyOK+`
</sequence>`, retries))
	}
	tests := []struct {
		name      string
		doc       string
		answer    behaviour
		wantCalls int
		wantErr   string
	}{
		{"idempotent: retried until it succeeds", get(2), behaviour{err: errDown, fails: 2}, 3, ""},
		{"idempotent: retries run out", get(2), behaviour{err: errDown}, 3, "attempt 3 of 3: connection refused"},
		{"idempotent: a Sender fault is not retried", get(2), behaviour{err: soap.SenderFault("bad", errors.New("bad request"))}, 1, "bad request"},
		{"idempotent without retries", get(0), behaviour{err: errDown}, 1, "connection refused"},
		{"not idempotent: never retried", def(`<sequence>
  <invoke name="get" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
  ` + replyOK + `
</sequence>`), behaviour{err: errDown}, 1, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.doc)
			inv := newInvoker(map[string]behaviour{"get": tt.answer})
			_, err := c.Run(t.Context(), []byte(inputReq), inv)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if len(inv.calls) != tt.wantCalls {
				t.Errorf("%d calls, want %d", len(inv.calls), tt.wantCalls)
			}
			for i, call := range inv.calls {
				if call.Hop != i+1 {
					t.Errorf("call %d has hop %d", i, call.Hop)
				}
			}
		})
	}

	// The backoff never reaches past the deadline.
	c := mustLoad(t, defDeadline("200ms", `<sequence>
  <invoke name="get" service="svc" operation="{urn:svc}Get" idempotent="true" retries="10"><request><s:Get/></request></invoke>
  `+replyOK+`
</sequence>`))
	inv := newInvoker(map[string]behaviour{"get": {err: errDown}})
	start := time.Now()
	_, err := c.Run(t.Context(), []byte(inputReq), inv)
	if err == nil || !strings.Contains(err.Error(), "no time left to retry") {
		t.Errorf("error %v", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("took %v, past the deadline", d)
	}
	if n := len(inv.calls); n < 2 || n > 3 {
		t.Errorf("%d calls in 200ms with 50ms, 100ms backoff", n)
	}
}

func TestCallFields(t *testing.T) {
	c := mustLoad(t, def(`<sequence>
  <invoke name="one" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
  <invoke name="two" service="svc" operation="{urn:svc}B"><request><s:B/></request></invoke>
  <invoke name="three" service="other" operation="{urn:svc}X"><request><s:X/></request></invoke>
  `+replyOK+`
</sequence>`))
	rec := &recorder{}
	c.Observer = rec
	inv := newInvoker(nil)
	if _, err := c.Run(t.Context(), []byte(inputReq), inv); err != nil {
		t.Fatal(err)
	}
	want := []Call{
		{Composite: "t", Step: "one", Service: "svc", Operation: op("A"), Request: []byte(`<s:A xmlns:s="urn:svc"/>`), Hop: 1},
		{Composite: "t", Step: "two", Service: "svc", Operation: op("B"), Request: []byte(`<s:B xmlns:s="urn:svc"/>`), Hop: 2},
		{Composite: "t", Step: "three", Service: "other", Operation: op("X"), Request: []byte(`<s:X xmlns:s="urn:svc"/>`), Hop: 3},
	}
	for i, w := range want {
		g := inv.calls[i]
		if g.Composite != w.Composite || g.Step != w.Step || g.Service != w.Service || g.Operation != w.Operation || string(g.Request) != string(w.Request) || g.Hop != w.Hop || g.Compensation {
			t.Errorf("call %d\n got %+v\nwant %+v", i, g, w)
		}
	}
	if want := []string{"t/one:true", "t/two:true", "t/three:true"}; !slices.Equal(rec.steps, want) {
		t.Errorf("observer %v", rec.steps)
	}
}

// Templates keep namespaces right wherever nodes land, and escape values.
func TestTemplates(t *testing.T) {
	input := `<b:Req xmlns:b="urn:bank" xmlns:x="urn:x"><b:Id>7</b:Id><b:Name>a &lt;b&gt; &amp; "c" Zoë</b:Name>` +
		`<Plain attr="1 &amp; 2"><Inner x:flag="yes">t</Inner></Plain><b:Note xml:lang="en">hi<!-- comment --></b:Note></b:Req>`
	tests := []struct {
		name, reply, want string
	}{
		{"value-of escapes", `<b:Resp><value-of select="$input/b:Name"/></b:Resp>`,
			`<b:Resp xmlns:b="urn:bank">a &lt;b&gt; &amp; "c" Zoë</b:Resp>`},
		{"copy-of into a default namespace undeclares it", `<Resp xmlns="urn:bank"><o:copy-of xmlns:o="urn:gatehouse:orchestration:1" select="$input/Plain"/></Resp>`,
			`<Resp xmlns="urn:bank"><Plain xmlns="" attr="1 &amp; 2"><Inner xmlns:x="urn:x" x:flag="yes">t</Inner></Plain></Resp>`},
		{"copy-of keeps prefixes and declares them", `<b:Resp><copy-of select="$input/b:Id"/></b:Resp>`,
			`<b:Resp xmlns:b="urn:bank"><b:Id>7</b:Id></b:Resp>`},
		{"copy-of redeclares a prefix bound to another namespace", `<b:Resp xmlns:b="urn:bank"><p:Wrap xmlns:p="urn:p"><copy-of select="$input/Plain/Inner"/></p:Wrap></b:Resp>`,
			`<b:Resp xmlns:b="urn:bank"><p:Wrap xmlns:p="urn:p"><Inner xmlns:x="urn:x" x:flag="yes">t</Inner></p:Wrap></b:Resp>`},
		{"copy-of drops comments, keeps xml:lang", `<b:Resp><copy-of select="$input/b:Note"/></b:Resp>`,
			`<b:Resp xmlns:b="urn:bank"><b:Note xml:lang="en">hi</b:Note></b:Resp>`},
		{"copy-of of text and of a number", `<b:Resp><copy-of select="$input/b:Id/text()"/>-<copy-of select="1 div 4"/></b:Resp>`,
			`<b:Resp xmlns:b="urn:bank">7-0.25</b:Resp>`},
		{"literal attributes and white space", `<b:Resp kind="a&amp;b" xmlns:q="urn:q" q:x="1">
      <b:A>  padded  </b:A>
      <b:B/>
    </b:Resp>`,
			`<b:Resp xmlns:b="urn:bank" xmlns:q="urn:q" kind="a&amp;b" q:x="1"><b:A>  padded  </b:A><b:B/></b:Resp>`},
		{"numbers and booleans as strings", `<b:Resp><value-of select="count($input/*)"/>,<value-of select="$input/b:Id * 1.5"/>,<value-of select="1 = 1"/>,<value-of select="0 div 0"/></b:Resp>`,
			`<b:Resp xmlns:b="urn:bank">4,10.5,true,NaN</b:Resp>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, def(`<reply>`+tt.reply+`</reply>`))
			out, err := c.Run(t.Context(), []byte(input), newInvoker(nil))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("\n got %s\nwant %s", out, tt.want)
			}
			if _, err := checkPayload(out, soap.DefaultLimits()); err != nil {
				t.Errorf("reply is not a permitted payload: %v", err)
			}
		})
	}

	c := mustLoad(t, def(`<reply><b:Resp><copy-of select="$input/Plain/@attr"/></b:Resp></reply>`))
	_, err := c.Run(t.Context(), []byte(input), newInvoker(nil))
	if err == nil || !strings.Contains(err.Error(), "cannot copy attribute attr as content") {
		t.Errorf("copy-of an attribute: %v", err)
	}
}

// An Invoker that panics fails the run; it does not crash the process.
func TestInvokerPanic(t *testing.T) {
	c := mustLoad(t, def(`<sequence>
  <parallel>
    <invoke name="a" service="svc" operation="{urn:svc}A"><request><s:A/></request></invoke>
    <invoke name="b" service="svc" operation="{urn:svc}B"><request><s:B/></request></invoke>
  </parallel>
  `+replyOK+`
</sequence>`))
	_, err := c.Run(t.Context(), []byte(inputReq), panicker{})
	if f := asFault(t, err); f.Code != soap.Receiver || !strings.Contains(f.Reason(), "invoker panic") {
		t.Errorf("fault %v %q", f.Code, f.Reason())
	}
}

type panicker struct{}

func (panicker) Invoke(context.Context, Call) ([]byte, error) { panic("bug") }

// Many concurrent runs of one composite share its compiled expressions.
func TestConcurrentRuns(t *testing.T) {
	c, err := Load("testdata/open-account.xml", exampleCatalog{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	input, err := os.ReadFile("testdata/open-account-input.xml")
	if err != nil {
		t.Fatal(err)
	}
	inv := newInvoker(map[string]behaviour{
		"lookup":    {resp: `<c:Customer xmlns:c="urn:gatehouse:demo:customers"><c:Name>Ann</c:Name></c:Customer>`},
		"kyc":       {resp: `<k:Result xmlns:k="urn:gatehouse:demo:kyc"><k:Status>passed</k:Status></k:Result>`},
		"create":    {resp: `<a:Created xmlns:a="urn:gatehouse:demo:accounts"><a:AccountId>AC-1</a:AccountId></a:Created>`},
		"add-owner": {resp: `<a:OwnerAdded xmlns:a="urn:gatehouse:demo:accounts"/>`},
	})
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			for range 10 {
				if _, err := c.Run(t.Context(), input, inv); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// An expression that would visit too many nodes is stopped by libxml2's
// operation limit, well within the deadline: nothing else can interrupt
// an evaluation in C.
func TestXPathOpLimit(t *testing.T) {
	c := mustLoad(t, def(`<reply><b:Resp><value-of select="count($input/b:Item[count(../b:Item[count(../b:Item) &gt; 0]) &gt; 0])"/></b:Resp></reply>`))
	var in strings.Builder
	in.WriteString(`<b:Req xmlns:b="urn:bank">`)
	for range 3000 {
		in.WriteString("<b:Item/>")
	}
	in.WriteString(`</b:Req>`)
	start := time.Now()
	_, err := c.Run(t.Context(), []byte(in.String()), newInvoker(nil))
	if err == nil || !strings.Contains(err.Error(), "operation limit exceeded") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	// The pooled context is usable again.
	c2 := mustLoad(t, def(`<reply><b:Resp><value-of select="count($input/b:Item)"/></b:Resp></reply>`))
	out, err := c2.Run(t.Context(), []byte(in.String()), newInvoker(nil))
	if err != nil || string(out) != `<b:Resp xmlns:b="urn:bank">3000</b:Resp>` {
		t.Fatalf("%s %v", out, err)
	}
	for range 3 {
		if _, err := c.Run(t.Context(), []byte(`<b:Req xmlns:b="urn:bank"><b:Item/><b:Item/></b:Req>`), newInvoker(nil)); err != nil {
			t.Fatalf("small input after the limit: %v", err)
		}
	}
}
