package orchestration

import (
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/libxml2/xpath"
)

func TestScanXPath(t *testing.T) {
	tests := []struct {
		expr     string
		vars     []string
		prefixes []string
		wantErr  string
	}{
		{expr: "$input/b:CustomerId", vars: []string{"input"}, prefixes: []string{"b"}},
		{expr: "$kyc/k:Status = 'passed' and $a-b", vars: []string{"kyc", "a-b"}, prefixes: []string{"k"}},
		{expr: "$x - 1", vars: []string{"x"}},
		{expr: "$x -1 div 2 mod $x*3", vars: []string{"x"}},
		{expr: "count($a | $b) * 2", vars: []string{"a", "b"}},
		{expr: "$a/*/p:*", vars: []string{"a"}, prefixes: []string{"p"}},
		{expr: "$a/child::p:x/attribute::q:y", vars: []string{"a"}, prefixes: []string{"p", "q"}},
		{expr: "$a/@p:y[. != 'q:z and $c']", vars: []string{"a"}, prefixes: []string{"p"}},
		{expr: `$a[@and = "or"]/or/and`, vars: []string{"a"}},
		{expr: "$a/text() | $a/comment() | $a/node() | $a/processing-instruction('p')", vars: []string{"a"}},
		{expr: "not(true()) or false()"},
		{expr: "1.5 + .5 - 2."},
		{expr: "$a//p:b/../.", vars: []string{"a"}, prefixes: []string{"p"}},
		{expr: "document('x')", wantErr: "function document(): only the XPath 1.0 core functions"},
		{expr: "  document\t('x')", wantErr: "function document()"},
		{expr: "fn:doc('x')", wantErr: "function fn:doc(): extension functions"},
		{expr: "system-property('x')", wantErr: "function system-property()"},
		{expr: "$p:v", wantErr: "variable names have no prefix"},
		{expr: "$", wantErr: "'$' without a variable name"},
		{expr: "'open", wantErr: "unterminated string literal"},
		{expr: "$a ! 1", wantErr: "'!' without '='"},
		{expr: "$a foo $b", wantErr: `unexpected name "foo"`},
		{expr: "a:", wantErr: "unexpected ':'"},
		{expr: "#", wantErr: "unexpected character '#'"},
		{expr: strings.Repeat("1+", 600) + "1", wantErr: "longer than 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := scanXPath(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.vars, tt.vars) || !slices.Equal(got.prefixes, tt.prefixes) {
				t.Errorf("vars %v prefixes %v, want %v %v", got.vars, got.prefixes, tt.vars, tt.prefixes)
			}
		})
	}
}

func TestCheckXPath(t *testing.T) {
	if err := checkXPath("$a/b:c[1]"); err != nil {
		t.Fatal(err)
	}
	err := checkXPath("$a/b:c[")
	if err == nil || !strings.Contains(err.Error(), "at offset") {
		t.Fatalf("error %v", err)
	}
}

// What the scanner accepts and libxml2 compiles must evaluate without
// meeting a function, a variable or a prefix the scanner did not report:
// each would be a way around the load-time checks.
func FuzzScanXPath(f *testing.F) {
	for _, s := range []string{"$input/b:x", "count($a) > 1", "document('x')", "'a", "a::b", "$a[@b='c']", "$a/b:c[d:e = $f]", "x:y(1)", "node()|text()"} {
		f.Add(s)
	}
	c := mustLoad(f, def(replyOK))
	f.Fuzz(func(t *testing.T, s string) {
		names, err := scanXPath(s)
		if err != nil || checkXPath(s) != nil {
			return
		}
		comp, err := xpath.NewExpression(s)
		if err != nil {
			return
		}
		e := &expr{src: s, names: names}
		for _, p := range names.prefixes {
			e.ns = append(e.ns, nsBinding{p, "urn:" + p})
		}
		e.setCompiled(comp)
		defer e.free()
		r := &run{c: c}
		defer r.free()
		_, doc, root, err := r.parsePayload([]byte(inputReq))
		if err != nil {
			t.Fatal(err)
		}
		r.input = doc
		fr := newFrame(nil, true)
		for _, v := range names.vars {
			fr.vars[v] = value{nodes: []uintptr{root}}
		}
		err = r.eval(e, fr, func(result) error { return nil })
		for _, missed := range []string{"unregistered function", "undefined variable", "undefined namespace prefix"} {
			if err != nil && strings.Contains(err.Error(), missed) {
				t.Fatalf("%q: scanner found %+v, libxml2: %v", s, names, err)
			}
		}
	})
}
