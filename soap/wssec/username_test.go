package wssec

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/soap"
)

// usernameMessage builds a SOAP 1.1 message with a UsernameToken. With
// digest, the password field carries Base64(SHA-1(nonce+created+password)).
func usernameMessage(user, password string, digest bool, nonce []byte, created time.Time) string {
	createdText := created.UTC().Format(timeLayout)
	pwType, pw := passwordTextType, password
	if digest {
		h := sha1.New()
		h.Write(nonce)
		h.Write([]byte(createdText))
		h.Write([]byte(password))
		pwType, pw = passwordDigestTyp, base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	nonceEl := ""
	if nonce != nil {
		nonceEl = `<wsse:Nonce EncodingType="` + encodingBase64 + `">` + base64.StdEncoding.EncodeToString(nonce) + `</wsse:Nonce>`
	}
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<wsse:Security soap:mustUnderstand="1" xmlns:wsse="` + soap.NSWSSE + `" xmlns:wsu="` + soap.NSWSU + `">` +
		`<wsse:UsernameToken><wsse:Username>` + user + `</wsse:Username>` +
		`<wsse:Password Type="` + pwType + `">` + pw + `</wsse:Password>` + nonceEl +
		`<wsu:Created>` + createdText + `</wsu:Created></wsse:UsernameToken></wsse:Security></soap:Header>` +
		`<soap:Body>` + requestBody + `</soap:Body></soap:Envelope>`
}

func testUsers(t *testing.T) *Users {
	t.Helper()
	salt := []byte("0123456789abcdef")
	sum := argon2.IDKey([]byte("alice-pw"), salt, 1, 8*1024, 1, 32)
	argon := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", 8*1024, 1, 1,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
	alice, err := HashCredential(argon)
	if err != nil {
		t.Fatal(err)
	}
	bh, _ := bcrypt.GenerateFromPassword([]byte("bob-pw"), bcrypt.MinCost)
	bob, err := HashCredential(string(bh))
	if err != nil {
		t.Fatal(err)
	}
	return NewUsers(map[string]Credential{
		"alice":  alice,
		"bob":    bob,
		"legacy": SecretCredential([]byte("legacy-secret")),
	}, 2)
}

func TestUsernameToken(t *testing.T) {
	nonce := []byte("0123456789abcdef")
	pol := Policy{RequireUsernameToken: true}
	tests := []struct {
		name string
		msg  string
		want string
	}{
		{"argon2id text", usernameMessage("alice", "alice-pw", false, nonce, now), ""},
		{"bcrypt text", usernameMessage("bob", "bob-pw", false, nil, now), ""},
		{"secret text", usernameMessage("legacy", "legacy-secret", false, nonce, now), ""},
		{"secret digest", usernameMessage("legacy", "legacy-secret", true, nonce, now), ""},
		{"wrong text password", usernameMessage("alice", "guess", false, nonce, now), "FailedAuthentication"},
		{"unknown user", usernameMessage("mallory", "x", false, nonce, now), "FailedAuthentication"},
		{"digest with wrong password", usernameMessage("legacy", "guess", true, nonce, now), "FailedAuthentication"},
		{"digest for a hash-only user", usernameMessage("alice", "alice-pw", true, nonce, now), "FailedAuthentication"},
		{"digest without nonce", usernameMessage("legacy", "legacy-secret", true, nil, now), "InvalidSecurity"},
		{"stale created", usernameMessage("legacy", "legacy-secret", true, nonce, now.Add(-time.Hour)), "MessageExpired"},
		{"future created", usernameMessage("legacy", "legacy-secret", true, nonce, now.Add(time.Hour)), "InvalidSecurity"},
		{"short nonce", usernameMessage("legacy", "legacy-secret", true, []byte("abc"), now), "InvalidSecurity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vr := &Verifier{Users: testUsers(t), Clock: clock, Policy: pol}
			v, err := vr.Verify(parse(t, tt.msg))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if v.UsernameToken == nil || v.UsernameToken.Username == "" {
					t.Errorf("verified %+v", v)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if got := faultCode(t, err); got != tt.want {
				t.Errorf("fault %s (%v), want %s", got, err, tt.want)
			}
		})
	}
}

// TestNonceReplayKey: the nonce is a replay key bound to the user; the same
// token twice yields the same key (the store refuses the second), another
// nonce yields another key.
func TestNonceReplayKey(t *testing.T) {
	vr := &Verifier{Users: testUsers(t), Clock: clock, Policy: Policy{}}
	key := func(nonce []byte) ReplayKey {
		v, err := vr.Verify(parse(t, usernameMessage("legacy", "legacy-secret", true, nonce, now)))
		if err != nil {
			t.Fatal(err)
		}
		if len(v.ReplayKeys) != 1 || v.ReplayKeys[0].Kind != "nonce" {
			t.Fatalf("replay keys %+v", v.ReplayKeys)
		}
		return v.ReplayKeys[0]
	}
	a, b, c := key([]byte("nonce-number-one")), key([]byte("nonce-number-one")), key([]byte("nonce-number-two"))
	if !bytes.Equal(a.Value, b.Value) || bytes.Equal(a.Value, c.Value) {
		t.Error("nonce replay keys do not identify the nonce")
	}
	if a.TTL < 10*time.Minute {
		t.Errorf("nonce kept only %v; it must outlive the freshness window", a.TTL)
	}
}

func TestUsernamePeek(t *testing.T) {
	env := parse(t, usernameMessage("alice", "x", false, nil, now))
	if got := Username(env, ""); got != "alice" {
		t.Errorf("Username = %q", got)
	}
}

func TestHashCredentialRejects(t *testing.T) {
	for _, h := range []string{
		"plain",
		"$argon2i$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=65536,t=3,p=2$$aGFzaGhhc2hoYXNoaGFzaA",
		"$2b$99$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyzabcde",
	} {
		if _, err := HashCredential(h); err == nil {
			t.Errorf("accepted %q", h)
		}
	}
}

// TestUnknownUserHashesADecoy: a user name that does not exist costs one
// password hash, like a wrong password of a known user, with the
// parameters most of the store's users have; a store of secrets only needs
// no hash. (Counted through the hashing seam, not timed.)
func TestUnknownUserHashesADecoy(t *testing.T) {
	argonHash := func(pw string, m uint32) Credential {
		salt := []byte("0123456789abcdef")
		sum := argon2.IDKey([]byte(pw), salt, 1, m, 1, 32)
		c, err := HashCredential(fmt.Sprintf("$argon2id$v=19$m=%d,t=1,p=1$%s$%s", m,
			base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	bcryptHash := func(pw string, cost int) Credential {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
		if err != nil {
			t.Fatal(err)
		}
		c, err := HashCredential(string(h))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name  string
		creds map[string]Credential
		want  string // the class of the hash an unknown user costs; "" for none
	}{
		{"argon2id", map[string]Credential{"alice": argonHash("a", 8*1024), "carol": argonHash("c", 8*1024), "bob": bcryptHash("b", bcrypt.MinCost)},
			"argon2id m=8192,t=1,p=1,len=32"},
		{"bcrypt", map[string]Credential{"bob": bcryptHash("b", bcrypt.MinCost+1), "dave": bcryptHash("d", bcrypt.MinCost+1), "alice": argonHash("a", 8*1024)},
			fmt.Sprintf("bcrypt cost=%02d", bcrypt.MinCost+1)},
		{"secrets only", map[string]Credential{"legacy": SecretCredential([]byte("legacy-secret"))}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users := NewUsers(tt.creds, 1)
			var hashed []string
			users.hashed = func(h *hashCredential) { hashed = append(hashed, h.class()) }
			vr := &Verifier{Users: users, Clock: clock, Policy: Policy{RequireUsernameToken: true}}
			want := map[string]string{"mallory": tt.want} // user → class of the hash it costs
			for name, c := range tt.creds {
				want[name] = ""
				if h, isHash := c.(*hashCredential); isHash {
					want[name] = h.class()
				}
			}
			for name, class := range want {
				hashed = nil
				_, err := vr.Verify(parse(t, usernameMessage(name, "guess", false, nil, now)))
				if got := faultCode(t, err); got != "FailedAuthentication" {
					t.Fatalf("%s: fault %s (%v), want FailedAuthentication", name, got, err)
				}
				var wantHashed []string
				if class != "" {
					wantHashed = []string{class}
				}
				if fmt.Sprint(hashed) != fmt.Sprint(wantHashed) {
					t.Errorf("%s with a wrong password: hashed %q, want %q", name, hashed, wantHashed)
				}
			}
			if c, ok := users.Lookup("mallory"); ok || c == nil {
				t.Errorf("Lookup of an unknown user = %v, %v; want a decoy and false", c, ok)
			} else if c.CheckPassword("") || c.CheckPassword("guess") {
				t.Error("the decoy matched a password")
			}
		})
	}
}
