package orchestration

import (
	"fmt"
	"os"
	"runtime"
	"testing"
)

// A thousand loads and runs, each with a failure and its compensation on
// every other turn: every libxml2 document, context, result and compiled
// expression is freed (run it under -race, and watch the heap and the RSS
// stay flat).
func TestLoadRunLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	data, err := os.ReadFile("testdata/open-account.xml")
	if err != nil {
		t.Fatal(err)
	}
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
		}
	}
	var before, after runtime.MemStats
	rssBefore := rss()
	for i := range 1000 {
		c, err := LoadBytes("open-account.xml", data, exampleCatalog{})
		if err != nil {
			t.Fatal(err)
		}
		kyc := "passed"
		if i%2 == 1 {
			kyc = "failed"
		}
		_, err = c.Run(t.Context(), input, newInvoker(answers(kyc)))
		if (err != nil) != (kyc == "failed") {
			t.Fatalf("run %d: %v", i, err)
		}
		c.Close()
		if i == 99 {
			runtime.GC()
			runtime.ReadMemStats(&before)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("Go heap after 100 runs %d KiB, after 1000 %d KiB; RSS %d → %d KiB", before.HeapAlloc>>10, after.HeapAlloc>>10, rssBefore, rss())
	if after.HeapAlloc > 2*before.HeapAlloc+8<<20 {
		t.Errorf("Go heap grew from %d to %d bytes", before.HeapAlloc, after.HeapAlloc)
	}
}

// rss is the resident set size in KiB (Linux), or 0.
func rss() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(data), &size, &resident); err != nil {
		return 0
	}
	return resident * int64(os.Getpagesize()) >> 10
}
