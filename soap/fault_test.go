package soap

import (
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

func TestFaultRendering(t *testing.T) {
	secret := errors.New("internal: password hunter2 did not match")
	tests := []struct {
		name     string
		f        *Fault
		v        Version
		status   int
		contains []string
	}{
		{"1.1 client", SenderFault("bad <request>", secret), V11, 500,
			[]string{`<faultcode>soap:Client</faultcode>`, `<faultstring>bad &lt;request&gt;</faultstring>`}},
		{"1.1 server", ReceiverFault("backend unavailable", secret), V11, 500,
			[]string{`<faultcode>soap:Server</faultcode>`}},
		{"1.1 wsse", SecurityFault(FaultInvalidSecurity, "security error", secret), V11, 500,
			[]string{`<faultcode xmlns:sc="` + NSWSSE + `">sc:InvalidSecurity</faultcode>`}},
		{"1.2 sender", SenderFault("bad request", secret), V12, 400,
			[]string{`<env:Value>env:Sender</env:Value>`, `<env:Text xml:lang="en">bad request</env:Text>`}},
		{"1.2 receiver", ReceiverFault("x", secret), V12, 500, []string{`<env:Value>env:Receiver</env:Value>`}},
		{"1.2 wsse subcode", SecurityFault(FaultFailedAuthentication, "auth", secret), V12, 400,
			[]string{`<env:Value>env:Sender</env:Value><env:Subcode><env:Value xmlns:sc="` + NSWSSE + `">sc:FailedAuthentication</env:Value></env:Subcode>`}},
		{"1.2 version mismatch", &Fault{Code: VersionMismatch, Public: "v"}, V12, 500, []string{`env:VersionMismatch`}},
		{"explicit status", ReceiverFault("timeout", secret).WithStatus(504), V12, 504, []string{`env:Receiver`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.f.Marshal(tt.v)
			for _, c := range tt.contains {
				if !strings.Contains(string(out), c) {
					t.Errorf("missing %q in\n%s", c, out)
				}
			}
			if strings.Contains(string(out), "hunter2") {
				t.Error("internal reason leaked into the fault")
			}
			if got := tt.f.HTTPStatus(tt.v); got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
			// The fault is itself a well-formed envelope of the right version.
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(out); err != nil {
				t.Fatalf("fault not well-formed: %v", err)
			}
			if ns := doc.Root().NamespaceURI(); ns != tt.v.Namespace() {
				t.Errorf("fault envelope namespace %q", ns)
			}
			if _, err := Parse(out, DefaultLimits()); err != nil {
				t.Errorf("our own parser refuses the fault: %v", err)
			}
		})
	}
}

func TestAsFault(t *testing.T) {
	f := SecurityFault(FaultFailedCheck, "x", errors.New("digest mismatch"))
	wrapped := errors.Join(errors.New("context"), f)
	if AsFault(wrapped) != f {
		t.Error("AsFault did not find the wrapped fault")
	}
	plain := errors.New("boom")
	g := AsFault(plain)
	if g.Code != Receiver || !errors.Is(g, plain) {
		t.Errorf("AsFault(plain) = %+v", g)
	}
}
