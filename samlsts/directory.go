package samlsts

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"time"

	"github.com/crewjam/saml"

	"github.com/gatehouse/gatehouse/internal/dn"
)

// DirectoryEntry is one subject of a file-backed directory and how
// requesters authenticate as it.
type DirectoryEntry struct {
	Identity
	Username string // UsernameToken user, "" if none
	Workload string // mTLS caller id, "" if none
}

// MemoryDirectory is a Directory held in memory (loaded from the directory
// file by the configuration).
type MemoryDirectory struct {
	byName, byUser, byWorkload map[string]Identity
}

var _ Directory = (*MemoryDirectory)(nil)

// NewDirectory indexes entries; the configuration has already refused
// duplicates.
func NewDirectory(entries []DirectoryEntry) *MemoryDirectory {
	d := &MemoryDirectory{byName: map[string]Identity{}, byUser: map[string]Identity{}, byWorkload: map[string]Identity{}}
	for _, e := range entries {
		d.byName[e.NameID] = e.Identity
		if e.Username != "" {
			d.byUser[e.Username] = e.Identity
		}
		if e.Workload != "" {
			d.byWorkload[dn.Key(e.Workload)] = e.Identity // a DN however spelled
		}
	}
	return d
}

// ByUsername implements Directory.
func (d *MemoryDirectory) ByUsername(u string) (Identity, bool) {
	i, ok := d.byUser[u]
	return i, ok
}

// ByWorkload implements Directory.
func (d *MemoryDirectory) ByWorkload(w string) (Identity, bool) {
	i, ok := d.byWorkload[dn.Key(w)]
	return i, ok
}

// ByNameID implements Directory.
func (d *MemoryDirectory) ByNameID(n string) (Identity, bool) {
	i, ok := d.byName[n]
	return i, ok
}

// Metadata returns SAML 2.0 metadata for the STS: its entityID and every
// certificate relying parties should trust for its signatures (the current
// one first, then those kept for rotation).
func Metadata(entityID string, certs []*x509.Certificate, validUntil time.Time) ([]byte, error) {
	idp := saml.IDPSSODescriptor{}
	idp.ProtocolSupportEnumeration = "urn:oasis:names:tc:SAML:2.0:protocol"
	for _, c := range certs {
		idp.KeyDescriptors = append(idp.KeyDescriptors, saml.KeyDescriptor{
			Use: "signing",
			KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{X509Certificates: []saml.X509Certificate{
				{Data: base64.StdEncoding.EncodeToString(c.Raw)},
			}}},
		})
	}
	ed := saml.EntityDescriptor{EntityID: entityID, ValidUntil: validUntil.UTC(), IDPSSODescriptors: []saml.IDPSSODescriptor{idp}}
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), out...), nil
}
