package samlsts

import "testing"

// TestDirectoryWorkloadDN: an mTLS caller known by its RFC 4514 subject
// finds the directory subject whose workload is the same DN spelled
// otherwise; a SPIFFE ID is looked up exactly.
func TestDirectoryWorkloadDN(t *testing.T) {
	d := NewDirectory([]DirectoryEntry{
		{Identity: Identity{NameID: "batch"}, Workload: "cn=Batch, O=demo bank"},
		{Identity: Identity{NameID: "teller"}, Workload: "spiffe://example.org/teller"},
	})
	for w, want := range map[string]string{
		"CN=batch,O=Demo Bank":        "batch",
		"O=Demo Bank,CN=batch":        "",
		"spiffe://example.org/teller": "teller",
		"spiffe://example.org/Teller": "",
	} {
		id, ok := d.ByWorkload(w)
		if got := map[bool]string{true: id.NameID}[ok]; got != want {
			t.Errorf("ByWorkload(%q) = %q, want %q", w, got, want)
		}
	}
}
