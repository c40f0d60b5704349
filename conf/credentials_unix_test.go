//go:build unix

package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPassTicketKeyFileMode: a secured signon key that group or others may
// read (or write) is refused, as mapped users' password files are; the
// owner's modes load.
func TestPassTicketKeyFileMode(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, false}, {0o604, false}, {0o620, false}, {0o644, false}} {
		dir, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <credentialMap name="racf" domain="RACF-PROD">
    <serviceAccount user="BATCH01"/>
    <passTicket algorithm="enhanced" keyFile="racf.key" application="CICSPROD"/>
  </credentialMap>
</gatehouse>`)
		keyFile := filepath.Join(dir, "racf.key")
		writeFile(t, keyFile, []byte(key+"\n"))
		if err := os.Chmod(keyFile, tc.mode); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		if tc.ok {
			if err != nil {
				t.Errorf("mode %04o: %v", tc.mode, err)
				continue
			}
			if got := cfg.CredentialMapNamed("racf").PassTicket.Key(); len(got) != 32 {
				t.Errorf("mode %04o: key of %d bytes, want 32", tc.mode, len(got))
			}
			cfg.Close()
			continue
		}
		if err == nil {
			cfg.Close()
			t.Errorf("mode %04o: loaded", tc.mode)
			continue
		}
		want := ":7: credentialMap name=\"racf\"/passTicket: keyFile " + keyFile + ": permissions "
		if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, "give access to group or others") || strings.Contains(msg, key) {
			t.Errorf("mode %04o: %v\nwant an error containing %q", tc.mode, err, want)
		}
	}
}
