package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/internal/redistest"
)

// BenchmarkProxy measures a request end to end on loopback: mTLS (kept-alive
// connections), parse, XSD validation, proxy to the demo backend and back.
// The signed+redis variant adds WS-Security verification and the replay
// round trip to a real redis-server; every request carries its own fresh
// signature, made before the timer starts.
func BenchmarkProxy(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		e := newEnv(b, envOptions{})
		body := envelope11(getBalance)
		runProxyBench(b, e, accountsPath, func(int) string { return body })
	})
	b.Run("signed+redis", func(b *testing.B) {
		srv := redistest.Start(b)
		e := newEnv(b, envOptions{store: redisStore(srv, "gh-bench:"), trust: trustInternal, security: signingPolicy})
		msgs := make([]string, b.N)
		for i := range msgs {
			msgs[i] = signedRequest(b, e.dir)
		}
		runProxyBench(b, e, accountsPath, func(i int) string { return msgs[i] })
	})
}

func runProxyBench(b *testing.B, e *env, path string, body func(i int) string) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req, _ := http.NewRequest(http.MethodPost, e.base+path, strings.NewReader(body(i)))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `""`)
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkCompositeThreeInvokes measures a composite request end to end on
// loopback, like BenchmarkProxy/plain: mTLS, parse, XSD validation,
// authorization, then three GetBalance hops to the demo backend in
// sequence, each authorized, proxied, validated and audited on its own,
// and the reply built from their answers.
func BenchmarkCompositeThreeInvokes(b *testing.B) {
	e := compositeServiceEnv(b, "balances", threeXSD, threeComposite, envOptions{policy: threePolicy})
	body := envelope11(`<t:Balances xmlns:t="urn:gatehouse:test:three"><t:Account>17</t:Account><t:Account>23</t:Account><t:Account>42</t:Account></t:Balances>`)
	runProxyBench(b, e, "/services/balances", func(int) string { return body })
	if n := e.backend.Calls(); n != int64(3*b.N) {
		b.Fatalf("backend calls %d, want %d", n, 3*b.N)
	}
}

const threeXSD = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:gatehouse:test:three" elementFormDefault="qualified">
  <xs:element name="Balances"><xs:complexType><xs:sequence>
    <xs:element name="Account" type="xs:int" minOccurs="3" maxOccurs="3"/>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="BalancesResponse"><xs:complexType><xs:sequence>
    <xs:element name="Balance" type="xs:string" minOccurs="3" maxOccurs="3"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>`

const threeComposite = `<composite xmlns="urn:gatehouse:orchestration:1" xmlns:t="urn:gatehouse:test:three" xmlns:a="urn:gatehouse:demo:accounts"
    name="three-balances" deadline="5s">
  <input element="{urn:gatehouse:test:three}Balances"/>
  <output element="{urn:gatehouse:test:three}BalancesResponse"/>
  <sequence>
    <invoke name="one" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance" result="one" timeout="2s">
      <request><a:GetBalance><a:AccountId><value-of select="$input/t:Account[1]"/></a:AccountId></a:GetBalance></request>
    </invoke>
    <invoke name="two" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance" result="two" timeout="2s">
      <request><a:GetBalance><a:AccountId><value-of select="$input/t:Account[2]"/></a:AccountId></a:GetBalance></request>
    </invoke>
    <invoke name="three" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance" result="three" timeout="2s">
      <request><a:GetBalance><a:AccountId><value-of select="$input/t:Account[3]"/></a:AccountId></a:GetBalance></request>
    </invoke>
    <reply><t:BalancesResponse><t:Balance><value-of select="$one/a:Balance"/></t:Balance><t:Balance><value-of select="$two/a:Balance"/></t:Balance><t:Balance><value-of select="$three/a:Balance"/></t:Balance></t:BalancesResponse></reply>
  </sequence>
</composite>`

const threePolicy = `<policy>
    <consumer name="demo-workloads" prefix="spiffe://demo.gatehouse.internal/"/>
    <composite name="three-balances"/>
    <flow from="demo-workloads" to="balances"/>
    <flow from="three-balances" to="accounts"/>
    <rule id="balances" effect="allow" service="balances" operation="*"><caller prefix="spiffe://demo.gatehouse.internal/"/></rule>
    <rule id="balances-hops" effect="allow" service="accounts" operation="{urn:gatehouse:demo:accounts}GetBalance">
      <caller prefix="spiffe://demo.gatehouse.internal/"/><position composite="three-balances"/>
    </rule>
  </policy>`
