package orchestration

import (
	"context"
	"testing"
)

type nopInvoker struct{ resp []byte }

func (n nopInvoker) Invoke(context.Context, Call) ([]byte, error) { return n.resp, nil }

// BenchmarkEngineInvoke is the engine's own cost per run of a sequence of
// three invokes whose requests are filled from the input, the second
// reading the first's result: parsing the input, building requests,
// parsing responses, the reply. No network, no crypto.
func BenchmarkEngineInvoke(b *testing.B) {
	c := mustLoad(b, def(`<sequence>
  <invoke name="one" service="svc" operation="{urn:svc}A" result="r1"><request><s:A><s:Id><value-of select="$input/b:Id"/></s:Id></s:A></request></invoke>
  <invoke name="two" service="svc" operation="{urn:svc}B"><request><s:B><s:Ref><value-of select="$r1/r:Id"/></s:Ref><s:Name><value-of select="$input/b:Name"/></s:Name></s:B></request></invoke>
  <invoke name="three" service="svc" operation="{urn:svc}C"><request><s:C><s:Id><value-of select="$input/b:Id"/></s:Id></s:C></request></invoke>
  <reply><b:Resp><value-of select="$r1/r:Id"/></b:Resp></reply>
</sequence>`))
	inv := nopInvoker{resp: []byte(`<r:Ok xmlns:r="urn:resp"><r:Id>42</r:Id></r:Ok>`)}
	input := []byte(inputReq)
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := c.Run(ctx, input, inv); err != nil {
			b.Fatal(err)
		}
		n++
	}
	// The issue asks for the cost per invoke: a third of a run.
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(3*n), "ns/invoke")
}

// BenchmarkLoad is the cost of compiling the example definition, schema
// validation included.
func BenchmarkLoad(b *testing.B) {
	data := []byte(def(`<sequence>
  <invoke name="one" service="svc" operation="{urn:svc}A" result="r1"><request><s:A><s:Id><value-of select="$input/b:Id"/></s:Id></s:A></request></invoke>
  <reply><b:Resp><value-of select="$r1/r:Id"/></b:Resp></reply>
</sequence>`))
	b.ReportAllocs()
	for b.Loop() {
		c, err := LoadBytes("bench.xml", data, testCatalog{})
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
