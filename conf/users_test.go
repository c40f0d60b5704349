package conf

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestCheckPasswordHash(t *testing.T) {
	h := loadTestHashes(t)
	const key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 32 zero bytes
	argon := func(params, salt, hash string) string {
		return "$argon2id$v=19$" + params + "$" + salt + "$" + hash
	}
	for _, tc := range []struct {
		name, hash, wantErr string
	}{
		{"argon2id generated", h.Argon2id, ""},
		{"argon2id written", argon("m=65536,t=3,p=2", "c2FsdHNhbHQ", key), ""},
		{"argon2id 1 GiB", argon("m=1048576,t=1,p=1", "c2FsdHNhbHQ", key), ""},
		{"argon2id minimum memory", argon("m=32,t=1,p=4", "c2FsdHNhbHQ", key), ""},
		{"bcrypt $2a$", h.Bcrypt, ""},
		{"bcrypt $2b$", "$2b$" + h.Bcrypt[4:], ""},
		{"bcrypt $2y$", "$2y$" + h.Bcrypt[4:], ""},
		{"bcrypt cost 16", h.Bcrypt[:4] + "16" + h.Bcrypt[6:], ""},

		{"argon2id memory above 1 GiB", argon("m=1048577,t=1,p=1", "c2FsdHNhbHQ", key), "argon2id: m=1048577 (KiB) is outside 8×p=8 to 1048576 (1 GiB)"},
		{"argon2id memory below 8×p", argon("m=31,t=1,p=4", "c2FsdHNhbHQ", key), "argon2id: m=31 (KiB) is outside 8×p=32 to 1048576 (1 GiB)"},
		{"argon2id memory beyond 32 bits", argon("m=4294967296,t=1,p=1", "c2FsdHNhbHQ", key), "argon2id: parameters must be"},
		{"argon2id t=0", argon("m=65536,t=0,p=1", "c2FsdHNhbHQ", key), "argon2id: t=0 is outside 1 to 16"},
		{"argon2id p=17", argon("m=65536,t=1,p=17", "c2FsdHNhbHQ", key), "argon2id: p=17 is outside 1 to 16"},
		{"argon2id sign", argon("m=+65536,t=1,p=1", "c2FsdHNhbHQ", key), "argon2id: parameters must be"},
		{"argon2id keyid parameter", argon("m=65536,t=1,p=1,keyid=x", "c2FsdHNhbHQ", key), "argon2id: parameters must be"},
		{"argon2id empty salt", argon("m=65536,t=1,p=1", "", key), "argon2id: salt of 0 bytes is outside 8 to 64"},
		{"argon2id URL base64", argon("m=65536,t=1,p=1", "c2FsdHNhbHQ", strings.Repeat("_", 43)), "argon2id: hash is not unpadded base64"},
		{"argon2id line end in hash", argon("m=65536,t=1,p=1", "c2FsdHNhbHQ", key[:20]+"\r\n"+key[20:]), "argon2id: hash is not unpadded base64"},
		{"argon2id non-canonical base64", argon("m=65536,t=1,p=1", "c2FsdHNhbHR", key), "argon2id: salt is not unpadded base64"},
		{"argon2id long hash", argon("m=65536,t=1,p=1", "c2FsdHNhbHQ", strings.Repeat("A", 87)), "argon2id: hash of 65 bytes is outside 16 to 64"},
		{"argon2id trailing field", argon("m=65536,t=1,p=1", "c2FsdHNhbHQ", key) + "$", `argon2id: want "$argon2id$v=19$m=…,t=…,p=…$salt$hash"`},
		{"argon2id version 0x13", "$argon2id$v=0x13$m=65536,t=1,p=1$c2FsdHNhbHQ$" + key, "argon2id: version must be v=19"},
		{"argon2d", "$argon2d$v=19$m=65536,t=1,p=1$c2FsdHNhbHQ$" + key, "argon2i and argon2d are not supported: use argon2id"},
		{"bcrypt cost 9", h.Bcrypt[:4] + "09" + h.Bcrypt[6:], "bcrypt: cost 9 is outside 10 to 16"},
		{"bcrypt cost 4", h.BcryptCost4, "bcrypt: cost 4 is outside 10 to 16"},
		{"bcrypt cost not digits", h.Bcrypt[:4] + "+9" + h.Bcrypt[6:], "bcrypt: want"},
		{"bcrypt bad character", h.Bcrypt[:59] + "!", "bcrypt: want"},
		{"bcrypt too long", h.Bcrypt + "A", "bcrypt: want"},
		{"bcrypt $2x$", "$2x$" + h.Bcrypt[4:], "not an argon2id hash"},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHQ$" + key, "not an argon2id hash"},
		{"plain text", "hunter2", "not an argon2id hash"},
		{"empty", "", "not an argon2id hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPasswordHash(tc.hash)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			// No message quotes the hash or a part of it.
			if err != nil {
				for _, part := range strings.Split(tc.hash, "$") {
					if len(part) >= 8 && part != "argon2id" && strings.Contains(err.Error(), part) {
						t.Errorf("error %q quotes %q", err, part)
					}
				}
			}
		})
	}
}

func TestCheckUserName(t *testing.T) {
	for _, tc := range []struct {
		name, wantErr string
	}{
		{"alice", ""},
		{"CN=legacy,O=example", ""},
		{"jürgen@example.org", ""},
		{strings.Repeat("é", 128), ""},
		{"", "name is empty"},
		{strings.Repeat("a", 129), "name is longer than 128 characters"},
		{"carol smith", "name contains white space or a control character"},
		{"tab\there", "name contains white space or a control character"},
		{"nbsp\u00a0here", "name contains white space or a control character"},
		{"ideographic\u3000space", "name contains white space or a control character"},
		{"nel\u0085here", "name contains white space or a control character"},
		{"del\x7fhere", "name contains white space or a control character"},
		{"bad\xffutf8", "name is not valid UTF-8"},
	} {
		err := checkUserName(tc.name)
		if (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
			t.Errorf("checkUserName(%q) = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// Printing a user entry, a list of them or the user store shows neither a
// hash nor a secret, whatever the verb.
func TestUserEntriesDoNotPrintSecrets(t *testing.T) {
	_, path := setupWith(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <users file="users/users.xml"/>
</gatehouse>`, companionFiles(t, "valid"))
	cfg := mustLoad(t, path)
	entries := cfg.Users.Entries()
	if len(entries) != 3 {
		t.Fatalf("%d users, want 3", len(entries))
	}
	h := loadTestHashes(t)
	secrets := []string{
		legacySecret, fmt.Sprintf("%x", legacySecret), fmt.Sprint([]byte(legacySecret)),
		h.Argon2id, h.Argon2id[len(h.Argon2id)-20:], h.Bcrypt[7:],
	}
	check := func(what, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows a secret or hash: %s", what, out)
			}
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		for _, v := range []any{entries, entries[0], &entries[1], entries[2], *cfg.Users, cfg.Users, *cfg, cfg} {
			check(fmt.Sprintf("Sprintf(%q, %T)", verb, v), fmt.Sprintf(verb, v))
		}
	}
	for _, v := range []any{entries, cfg.Users, cfg} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("json.Marshal(%T)", v), string(b))
	}
	var log strings.Builder
	slog.New(slog.NewJSONHandler(&log, nil)).Info("users", "entries", entries, "entry", entries[2])
	slog.New(slog.NewTextHandler(&log, nil)).Info("users", "entries", entries, "entry", entries[2], "store", cfg.Users)
	check("slog", log.String())

	if got, want := fmt.Sprint(entries), `[user "alice" (argon2id hash) user "bob" (bcrypt hash) user "legacy-app" (secret)]`; got != want {
		t.Errorf("entries print as %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(cfg.Users), "users file="+cfg.Users.File+" (3 users)"; got != want {
		t.Errorf("Users prints as %s, want %s", got, want)
	}
}

// Problems in the user store name its file as the configuration's was
// named to Load: relative when that was relative.
func TestUsersFileRelativeName(t *testing.T) {
	dir, _ := setupWith(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <users file="users.xml"/>
</gatehouse>`, fstest.MapFS{"users.xml": {Data: []byte(`<users xmlns="urn:gatehouse:users:1">
  <user name="alice"/>
  <user name="bob">
</users>`)}})
	t.Chdir(filepath.Dir(dir))
	_, err := Load(filepath.Join(filepath.Base(dir), "gatehouse.xml"))
	want := filepath.Join(filepath.Base(dir), "users.xml") + ":4: not well-formed XML: Opening and ending tag mismatch: user line 3 and users"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v\nwant %s", err, want)
	}
}

// A user store that is not a user store (here: a configuration) is refused
// by its schema.
func TestUsersFileWrongDocument(t *testing.T) {
	dir, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <users file="gatehouse.xml"/>
</gatehouse>`)
	_, err := Load(path)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].File != filepath.Join(dir, "gatehouse.xml") || errs[0].Line != 1 ||
		!strings.Contains(errs[0].Msg, "No matching global declaration") {
		t.Errorf("Load = %v, want a schema error at line 1 of the users file", err)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want, wantErr string
	}{
		{"plain", "s3cret", "s3cret", ""},
		{"newline", "s3cret\n", "s3cret", ""},
		{"CRLF and blank lines", "s3cret\r\n\r\n", "s3cret", ""},
		{"inner spaces kept", " s3 cret ", " s3 cret ", ""},
		{"empty", "", "", "empty"},
		{"only newlines", "\n\n", "", "empty"},
		{"too large", strings.Repeat("x", maxSecretBytes+1), "", "larger than 4096 bytes"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, mode, err := readSecret(path)
		switch {
		case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || string(got) != tc.want || exposed(mode)):
			t.Errorf("%s: %q, mode %v, error %v; want %q", tc.name, got, mode, err, tc.want)
		}
	}
}

// FuzzCheckPasswordHash: never a panic, and an accepted argon2id hash is
// in canonical form (it re-encodes to itself), an accepted bcrypt hash
// has bcrypt's length.
func FuzzCheckPasswordHash(f *testing.F) {
	h, err := genHashes()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{h.Argon2id, h.Bcrypt, h.BcryptCost4, h.BcryptCost17, "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "$argon2id$", "$2b$", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, hash string) {
		if checkPasswordHash(hash) != nil {
			return
		}
		if strings.HasPrefix(hash, "$argon2id$") {
			p, err := parseArgon2id(hash)
			if err != nil {
				t.Fatalf("accepted but parseArgon2id: %v", err)
			}
			b64 := base64.RawStdEncoding
			again := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Time, p.Threads, b64.EncodeToString(p.Salt), b64.EncodeToString(p.Key))
			if again != hash {
				t.Fatalf("accepted %q, which re-encodes as %q", hash, again)
			}
			return
		}
		if len(hash) != 60 {
			t.Fatalf("accepted bcrypt hash %q of length %d", hash, len(hash))
		}
	})
}
