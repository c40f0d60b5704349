package soap

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, answers every input with either
// an envelope or a *Fault, and that what it accepts survives a round trip
// through serialization with the same structure.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		env11, env12,
		wrap(`<x a="1" xmlns:p="urn:p" p:b="2">t<!--c--><![CDATA[d]]></x>`),
		`<!DOCTYPE x [<!ENTITY a "aa">]>` + wrap(`<x>&a;</x>`),
		wrap(`<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="x"/>`),
		wrap(`<x ID="a"/><y ID="a"/>`),
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/><s:Header/></s:Envelope>`,
	} {
		f.Add([]byte(s))
	}
	lim := DefaultLimits()
	lim.MaxBytes = 64 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Parse(data, lim)
		if err != nil {
			var fault *Fault
			if !errors.As(err, &fault) {
				t.Fatalf("error is not a fault: %v", err)
			}
			return
		}
		if env.Body == nil || env.Root == nil {
			t.Fatal("accepted envelope without Body")
		}
		out, err := env.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		env2, err := Parse(out, DefaultLimits())
		if err != nil {
			t.Fatalf("serialized envelope refused: %v\nin:  %q\nout: %q", err, data, out)
		}
		if env2.Version != env.Version || env2.Operation() != env.Operation() || (env2.Header == nil) != (env.Header == nil) {
			t.Fatalf("round trip changed the envelope\nin:  %q\nout: %q", data, out)
		}
	})
}
