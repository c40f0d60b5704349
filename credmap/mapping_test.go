package credmap

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected errors in testdata/mapping/*.err")

func TestRACFUserID(t *testing.T) {
	tests := []struct {
		id      string
		wantErr bool
	}{
		{"A#$@1", false},
		{"ALICE", false},
		{"A", false},
		{"ABCDEFGH", false},
		{"1ALICE", false}, // RACF allows a leading digit
		{"", true},
		{"TOOLONGID", true}, // 9 characters
		{"AL ICE", true},
		{"ÄLICE", true},
		{"alice", true}, // lower case is not upper-cased by the rule
		{"AL-ICE", true},
		{"AL.ICE", true},
		{"ALICE\x00", true},
	}
	for _, tt := range tests {
		err := RACFUserID(tt.id)
		if (err != nil) != tt.wantErr {
			t.Errorf("RACFUserID(%q) = %v, wantErr %v", tt.id, err, tt.wantErr)
		}
	}
}

var racf = Domain{Name: "RACF", UserIDRule: RACFUserID}

func mustPattern(t testing.TB, rule string) Source {
	t.Helper()
	s, err := PatternSource(rule)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustTable(t testing.TB, path string) *Table {
	t.Helper()
	tb, err := LoadTable(path)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestAttributeSource(t *testing.T) {
	s := AttributeSource("racfUserId")
	tests := []struct {
		name    string
		attrs   map[string][]string
		want    string
		wantOK  bool
		wantErr bool
	}{
		{"single value", map[string][]string{"racfUserId": {"ALICE01"}}, "ALICE01", true, false},
		{"missing", map[string][]string{"mail": {"alice@example.com"}}, "", false, false},
		{"no attributes", nil, "", false, false},
		{"present without values", map[string][]string{"racfUserId": {}}, "", false, false},
		{"two values", map[string][]string{"racfUserId": {"ALICE01", "ADMIN01"}}, "", false, true},
		{"two equal values", map[string][]string{"racfUserId": {"ALICE01", "ALICE01"}}, "", false, true},
		{"empty value", map[string][]string{"racfUserId": {""}}, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := s.Map(Principal{Subject: "alice@example.com", Attributes: tt.attrs})
			if got != tt.want || ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Errorf("Map = %q, %v, %v; want %q, %v, wantErr %v", got, ok, err, tt.want, tt.wantOK, tt.wantErr)
			}
		})
	}
}

func TestPatternSource(t *testing.T) {
	tests := []struct {
		rule    string
		p       Principal
		want    string
		wantOK  bool
		wantErr bool // from Resolve with the RACF rule
	}{
		{"localpart-upper", Principal{Subject: "alice@example.com"}, "ALICE", true, false},
		{"localpart-upper", Principal{Subject: "alice@example.com", SubjectFormat: nameIDEmail}, "ALICE", true, false},
		{"localpart-upper", Principal{Subject: "alice@example.com", SubjectFormat: nameIDUnspecified}, "ALICE", true, false},
		{"localpart-upper", Principal{Subject: "alice@example.com", SubjectFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"}, "", false, false},
		{"localpart-upper", Principal{Subject: "alice"}, "", false, false},
		{"localpart-upper", Principal{Subject: "@example.com"}, "", false, false},
		{"localpart-upper", Principal{Subject: "alice@"}, "", false, false},
		{"localpart-upper", Principal{Subject: "a@b@example.com"}, "", false, false},
		{"localpart-upper", Principal{Workload: "spiffe://example.org/batch"}, "", false, false},
		// Only ASCII is upper-cased: a dotless i must not become "I".
		{"localpart-upper", Principal{Subject: "alıce@example.com"}, "ALıCE", true, true},
		{"localpart-upper", Principal{Subject: "alice.smith@example.com"}, "ALICE.SMITH", true, true},
		{"localpart-upper", Principal{Subject: "toolongname@example.com"}, "TOOLONGNAME", true, true},
		{"localpart-upper@example.com", Principal{Subject: "alice@EXAMPLE.com"}, "ALICE", true, false},
		{"localpart-upper@example.com", Principal{Subject: "alice@evil.example"}, "", false, false},
		{"upper", Principal{Subject: "alice"}, "ALICE", true, false},
		{"upper", Principal{Subject: "alice@example.com"}, "ALICE@EXAMPLE.COM", true, true},
		{"upper", Principal{}, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.rule+" "+tt.p.Subject, func(t *testing.T) {
			s := mustPattern(t, tt.rule)
			got, ok, err := s.Map(tt.p)
			if err != nil || got != tt.want || ok != tt.wantOK {
				t.Fatalf("Map = %q, %v, %v; want %q, %v", got, ok, err, tt.want, tt.wantOK)
			}
			if !ok {
				return
			}
			m := Map{Name: "m", Domain: racf, Sources: []Source{s}}
			if _, err := m.Resolve(tt.p); (err != nil) != tt.wantErr {
				t.Errorf("Resolve: %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
	for _, bad := range []string{"", "lower", "localpart-upper@", "localpart-upper@a@b", "UPPER"} {
		if _, err := PatternSource(bad); err == nil {
			t.Errorf("PatternSource(%q) accepted", bad)
		}
	}
}

func TestServiceAccountSource(t *testing.T) {
	s := ServiceAccountSource("BATCH01")
	if got, ok, err := s.Map(Principal{Workload: "spiffe://example.org/batch"}); got != "BATCH01" || !ok || err != nil {
		t.Errorf("workload-only call: %q, %v, %v", got, ok, err)
	}
	if _, ok, err := s.Map(Principal{Subject: "alice@example.com", Workload: "spiffe://example.org/batch"}); ok || err != nil {
		t.Errorf("call with a subject was mapped to the service account (ok=%v, err=%v)", ok, err)
	}
	if _, ok, err := s.Map(Principal{}); ok || err != nil {
		t.Errorf("call without subject and workload was mapped (ok=%v, err=%v)", ok, err)
	}
	if _, _, err := ServiceAccountSource("").Map(Principal{Workload: "w"}); err == nil {
		t.Error("empty service account user accepted")
	}
}

func TestTable(t *testing.T) {
	for _, file := range []string{"testdata/mapping/table.xml", "testdata/mapping/table.csv"} {
		t.Run(filepath.Ext(file), func(t *testing.T) {
			tb := mustTable(t, file)
			if tb.Len() != 3 {
				t.Errorf("Len = %d, want 3", tb.Len())
			}
			s := tb.Source()
			if got := fmt.Sprint(s); got != "table:"+file {
				t.Errorf("source name %q", got)
			}
			tests := []struct {
				name   string
				p      Principal
				want   string
				wantOK bool
			}{
				{"subject", Principal{Subject: "alice@example.com"}, "ALICE01", true},
				{"subject with workload", Principal{Subject: "bob@example.com", Workload: "spiffe://example.org/batch"}, "BOB01", true},
				{"workload", Principal{Workload: "spiffe://example.org/batch"}, "BATCH01", true},
				{"unknown subject", Principal{Subject: "carol@example.com"}, "", false},
				// The workload's entry is not used for a subject's call.
				{"unknown subject, known workload", Principal{Subject: "carol@example.com", Workload: "spiffe://example.org/batch"}, "", false},
				{"case matters", Principal{Subject: "Alice@example.com"}, "", false},
				{"subject is not a workload key", Principal{Workload: "alice@example.com"}, "", false},
				{"nothing", Principal{}, "", false},
			}
			for _, tt := range tests {
				got, ok, err := s.Map(tt.p)
				if got != tt.want || ok != tt.wantOK || err != nil {
					t.Errorf("%s: Map = %q, %v, %v; want %q, %v", tt.name, got, ok, err, tt.want, tt.wantOK)
				}
			}
		})
	}
}

func TestLoadTableErrors(t *testing.T) {
	for _, name := range []string{"missing.xml", "table.json"} {
		if _, err := LoadTable(filepath.Join(t.TempDir(), name)); err == nil {
			t.Errorf("LoadTable(%s) succeeded", name)
		}
	}
	const root = `<mappings xmlns="urn:gatehouse:credmap:1"><map subject="a" user="A"/></mappings>`
	for name, content := range map[string]string{
		"latin1.xml":      `<?xml version="1.0" encoding="ISO-8859-1"?>` + root,
		"invalid8.xml":    `<mappings xmlns="urn:gatehouse:credmap:1"><map subject="a` + "\xff" + `" user="A"/></mappings>`,
		"pi.xml":          `<?xml-stylesheet href="x"?>` + root,
		"two-roots.xml":   root + root,
		"entity.xml":      `<mappings xmlns="urn:gatehouse:credmap:1"><map subject="&ext;" user="A"/></mappings>`,
		"empty.xml":       ``,
		"empty.csv":       ``,
		"control.csv":     "kind,name,user\nsubject,\"a\x01\",A\n",
		"quoted-nl.csv":   "kind,name,user\nsubject,\"a\nb\",A\n",
		"bare-quote.csv":  "kind,name,user\nsubject,a\"b,A\n",
		"header-only.txt": "kind,name,user\n",
	} {
		path := filepath.Join(t.TempDir(), name)
		writeFile(t, path, content)
		_, err := LoadTable(path)
		t.Logf("%s: %v", name, err)
		if err == nil {
			t.Errorf("LoadTable(%s) succeeded", name)
		} else if !strings.HasPrefix(err.Error(), path) && !strings.Contains(err.Error(), path) {
			t.Errorf("LoadTable(%s): error does not name the file: %v", name, err)
		}
	}
	// An empty table is valid: it maps nobody.
	for name, content := range map[string]string{
		"empty.csv": "kind,name,user\n",
		"empty.xml": `<?xml version="1.0" encoding="UTF-8"?><mappings xmlns="urn:gatehouse:credmap:1"/>`,
		"bom.csv":   "\xef\xbb\xbfkind,name,user\nsubject,a,A\n",
	} {
		path := filepath.Join(t.TempDir(), name)
		writeFile(t, path, content)
		if _, err := LoadTable(path); err != nil {
			t.Errorf("LoadTable(%s): %v", name, err)
		}
	}
}

// TestTableGolden loads each testdata/mapping/bad-* file and compares the
// error with the .err file next to it (go test -update rewrites them).
func TestTableGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/mapping/bad-*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, file := range files {
		if strings.HasSuffix(file, ".err") {
			continue
		}
		n++
		t.Run(filepath.Base(file), func(t *testing.T) {
			_, err := LoadTable(file)
			if err == nil {
				t.Fatal("LoadTable succeeded")
			}
			got := err.Error() + "\n"
			if *update {
				if err := os.WriteFile(file+".err", []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file + ".err")
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if n < 8 {
		t.Fatalf("found %d bad-* fixtures, want at least 8", n)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTableReload(t *testing.T) {
	for _, ext := range []string{".xml", ".csv"} {
		t.Run(ext, func(t *testing.T) {
			v1, v2, broken := tableFiles(ext)
			path := filepath.Join(t.TempDir(), "map"+ext)
			writeFile(t, path, v1)
			tb := mustTable(t, path)
			s := tb.Source()
			alice := Principal{Subject: "alice@example.com"}
			if got, _, _ := s.Map(alice); got != "ALICE01" {
				t.Fatalf("before reload: %q", got)
			}

			writeFile(t, path, v2)
			if err := tb.Reload(); err != nil {
				t.Fatal(err)
			}
			if got, _, _ := s.Map(alice); got != "ALICE02" {
				t.Errorf("after reload: alice maps to %q, want ALICE02", got)
			}
			if got, ok, _ := s.Map(Principal{Subject: "bob@example.com"}); ok {
				t.Errorf("after reload: removed entry still maps to %q", got)
			}

			writeFile(t, path, broken)
			if err := tb.Reload(); err == nil {
				t.Fatal("reload of a broken file succeeded")
			}
			if got, _, _ := s.Map(alice); got != "ALICE02" {
				t.Errorf("after failed reload: alice maps to %q, want the old ALICE02", got)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := tb.Reload(); err == nil {
				t.Fatal("reload of a missing file succeeded")
			}
			if got, _, _ := s.Map(alice); got != "ALICE02" {
				t.Errorf("after reload of a missing file: alice maps to %q", got)
			}
		})
	}
}

func tableFiles(ext string) (v1, v2, broken string) {
	if ext == ".csv" {
		return "kind,name,user\nsubject,alice@example.com,ALICE01\nsubject,bob@example.com,BOB01\n",
			"kind,name,user\nsubject,alice@example.com,ALICE02\n",
			"kind,name,user\nsubject,alice@example.com,ALICE03\nsubject,alice@example.com,ALICE04\n"
	}
	const head = `<mappings xmlns="urn:gatehouse:credmap:1">`
	return head + `<map subject="alice@example.com" user="ALICE01"/><map subject="bob@example.com" user="BOB01"/></mappings>`,
		head + `<map subject="alice@example.com" user="ALICE02"/></mappings>`,
		head + `<map subject="alice@example.com" user="ALICE03"/><map subject="alice@example.com" user="ALICE04"/></mappings>`
}

// TestTableReloadConcurrent reloads while readers map; under -race it shows
// that readers and Reload share nothing unsynchronized, and every answer
// comes from one complete version: each version maps both subjects to users
// of that version.
func TestTableReloadConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "map.csv")
	version := func(v int) string {
		return fmt.Sprintf("kind,name,user\nsubject,alice@example.com,A%d\nsubject,bob@example.com,B%d\n", v, v)
	}
	writeFile(t, path, version(0))
	tb := mustTable(t, path)
	s := tb.Source()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, subj := range []string{"alice@example.com", "bob@example.com"} {
					got, ok, err := s.Map(Principal{Subject: subj})
					if !ok || err != nil || len(got) != 2 || got[0] != strings.ToUpper(subj[:1])[0] {
						t.Errorf("Map(%s) = %q, %v, %v", subj, got, ok, err)
						return
					}
				}
			}
		})
	}
	for v := 1; v < 50; v++ {
		tmp := path + ".tmp"
		writeFile(t, tmp, version(v%10))
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		if err := tb.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

// namedSource is a test source with a fixed answer.
type namedSource struct {
	name string
	id   string
	ok   bool
	err  error
	hits *int
}

func (s namedSource) String() string { return s.name }
func (s namedSource) Map(Principal) (string, bool, error) {
	if s.hits != nil {
		*s.hits++
	}
	return s.id, s.ok, s.err
}

func TestResolve(t *testing.T) {
	tb := mustTable(t, "testdata/mapping/table.xml")
	m := &Map{Name: "cics", Domain: racf, Sources: []Source{
		AttributeSource("racfUserId"),
		tb.Source(),
		mustPattern(t, "localpart-upper"),
		ServiceAccountSource("BATCH99"),
	}}
	tests := []struct {
		name    string
		p       Principal
		want    Mapping
		wantErr string
		noMap   bool
	}{
		{"attribute first", Principal{Subject: "alice@example.com", Attributes: map[string][]string{"racfUserId": {"ALICE99"}}},
			Mapping{"RACF", "ALICE99", "attribute:racfUserId"}, "", false},
		{"attribute missing: table", Principal{Subject: "alice@example.com"},
			Mapping{"RACF", "ALICE01", "table:testdata/mapping/table.xml"}, "", false},
		{"not in table: pattern", Principal{Subject: "carol@example.com"},
			Mapping{"RACF", "CAROL", "pattern:localpart-upper"}, "", false},
		{"workload in table", Principal{Workload: "spiffe://example.org/batch"},
			Mapping{"RACF", "BATCH01", "table:testdata/mapping/table.xml"}, "", false},
		{"workload not in table: service account", Principal{Workload: "spiffe://example.org/other"},
			Mapping{"RACF", "BATCH99", "service-account"}, "", false},
		{"two attribute values: refused, no fallback to the table", Principal{Subject: "alice@example.com", Attributes: map[string][]string{"racfUserId": {"ALICE01", "ADMIN01"}}},
			Mapping{}, `credmap "cics": attribute:racfUserId: attribute has 2 values; exactly one is required`, false},
		{"invalid attribute value: refused, no fallback", Principal{Subject: "alice@example.com", Attributes: map[string][]string{"racfUserId": {"alice01"}}},
			Mapping{}, `credmap "cics": attribute:racfUserId mapped to a user ID that domain "RACF" refuses: RACF user ID "alice01" contains a character outside A-Z 0-9 # $ @`, false},
		{"pattern result too long: refused, no service account", Principal{Subject: "christopher@example.com", Workload: "spiffe://example.org/other"},
			Mapping{}, `credmap "cics": pattern:localpart-upper mapped to a user ID that domain "RACF" refuses: RACF user ID "CHRISTOPHER" is longer than 8 characters`, false},
		{"subject matches nothing", Principal{Subject: "opaque-id-123", SubjectFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", Workload: "spiffe://example.org/batch"},
			Mapping{}, `credmap "cics": no mapping for principal`, true},
		{"nobody", Principal{}, Mapping{}, `credmap "cics": no mapping for principal`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Resolve(tt.p)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Resolve = %+v, %v; want error %q", got, err, tt.wantErr)
				}
				if errors.Is(err, ErrNoMapping) != tt.noMap {
					t.Errorf("errors.Is(err, ErrNoMapping) = %v, want %v", !tt.noMap, tt.noMap)
				}
				if got != (Mapping{}) {
					t.Errorf("a refused resolution returned %+v", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestResolveOrderAndStop(t *testing.T) {
	var first, second, third int
	m := &Map{Name: "m", Domain: racf, Sources: []Source{
		namedSource{name: "one", hits: &first},
		namedSource{name: "two", id: "TWO", ok: true, hits: &second},
		namedSource{name: "three", id: "THREE", ok: true, hits: &third},
	}}
	got, err := m.Resolve(Principal{Subject: "x"})
	if err != nil || got.UserID != "TWO" || got.Source != "two" {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}
	if first != 1 || second != 1 || third != 0 {
		t.Errorf("sources asked %d, %d, %d times; want 1, 1, 0", first, second, third)
	}

	boom := errors.New("boom")
	m.Sources = []Source{namedSource{name: "bad", err: boom}, namedSource{name: "three", id: "THREE", ok: true, hits: &third}}
	if _, err := m.Resolve(Principal{Subject: "x"}); !errors.Is(err, boom) || third != 0 {
		t.Errorf("source error: %v (later source asked %d times)", err, third)
	}
}

func TestResolveMisconfigured(t *testing.T) {
	p := Principal{Workload: "w"}
	if _, err := (&Map{Name: "m", Domain: Domain{Name: "none"}, Sources: []Source{ServiceAccountSource("X")}}).Resolve(p); err == nil {
		t.Error("a domain without a user ID rule mapped")
	}
	if _, err := (&Map{Name: "m", Domain: racf, Sources: []Source{nil}}).Resolve(p); err == nil || errors.Is(err, ErrNoMapping) {
		t.Errorf("nil source: %v", err)
	}
	if _, err := (&Map{Name: "m", Domain: racf}).Resolve(p); !errors.Is(err, ErrNoMapping) {
		t.Errorf("no sources: %v", err)
	}
	type unnamed struct{ Source }
	got, err := (&Map{Name: "m", Domain: racf, Sources: []Source{unnamed{ServiceAccountSource("X")}}}).Resolve(p)
	if err != nil || got.Source != "credmap.unnamed" {
		t.Errorf("unnamed source: %+v, %v", got, err)
	}
}

// FuzzParseTable: the table parsers never panic, and what they accept is
// well formed.
func FuzzParseTable(f *testing.F) {
	for _, file := range []string{"table.xml", "table.csv", "bad-structure.xml", "bad-fields.csv", "bad-doctype.xml", "bad-duplicate.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata/mapping", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func(string, []byte) (*tableData, error){parseXMLTable, parseCSVTable} {
			d, err := parse("fuzz", data)
			if err != nil {
				if d != nil {
					t.Fatal("table returned with an error")
				}
				continue
			}
			for _, m := range []map[string]string{d.subjects, d.workloads} {
				for k, v := range m {
					if checkTableValue(k) != nil || checkTableValue(v) != nil {
						t.Fatalf("accepted entry %q → %q", k, v)
					}
				}
			}
		}
	})
}

// TestIssuerSource: a source pinned to an issuer maps that issuer's
// subjects only; the same name from another issuer (or from none) falls
// through to the next source, and the mapping names the pin.
func TestIssuerSource(t *testing.T) {
	m := Map{Name: "m", Domain: racf, Sources: []Source{
		IssuerSource("urn:idp:a", mustPattern(t, "localpart-upper")),
		AttributeSource("racfUserId"),
	}}
	for _, tt := range []struct {
		issuer, want, source string
	}{
		{"urn:idp:a", "ALICE", "pattern:localpart-upper issuer=urn:idp:a"},
		{"urn:idp:b", "BOB01", "attribute:racfUserId"},
		{"", "BOB01", "attribute:racfUserId"},
	} {
		got, err := m.Resolve(Principal{Subject: "alice@example.com", Issuer: tt.issuer, Attributes: map[string][]string{"racfUserId": {"BOB01"}}})
		if err != nil || got.UserID != tt.want || got.Source != tt.source {
			t.Errorf("issuer %q: %+v, %v; want %s from %s", tt.issuer, got, err, tt.want, tt.source)
		}
	}
}

// TestTableWorkloadDN: a workload named by its certificate DN maps the
// caller whose RFC 4514 subject is the same DN, however the table spells
// it; two spellings of one DN are a duplicate.
func TestTableWorkloadDN(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "table.csv")
	if err := os.WriteFile(path, []byte("kind,name,user\nworkload,\"cn=Batch, ou=jobs, o=Demo  Bank\",BATCH01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := mustTable(t, path).Source()
	for w, want := range map[string]bool{
		"CN=batch,OU=Jobs,O=Demo Bank":  true,
		"O=Demo Bank,OU=Jobs,CN=batch":  false, // another order is another name
		"CN=batch,OU=Jobs,O=Demo Banks": false,
	} {
		if _, ok, err := s.Map(Principal{Workload: w}); ok != want || err != nil {
			t.Errorf("workload %q: mapped %v (%v), want %v", w, ok, err, want)
		}
	}
	if err := os.WriteFile(path, []byte("kind,name,user\nworkload,\"CN=batch,O=x\",A\nworkload,\"cn=BATCH, o=X\",B\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTable(path); err == nil || !strings.Contains(err.Error(), "duplicate workload") {
		t.Errorf("two spellings of one DN: %v", err)
	}
}
