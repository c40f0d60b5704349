package wssec

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/soap"
)

// UserStore finds the credential of a UsernameToken user.
type UserStore interface {
	// Lookup returns the user's credential and true. For a name it does not
	// know it returns false and a decoy: a credential that never matches but
	// costs as much to check as a real one, so that the time of the answer
	// does not tell which user names exist. (A nil decoy is allowed and gives
	// that away.)
	Lookup(username string) (Credential, bool)
}

// Credential checks a password. PasswordText can be checked against a hash;
// PasswordDigest needs the secret itself, so only a SecretCredential
// supports it.
type Credential interface {
	CheckPassword(password string) bool
	// Secret returns the retrievable secret, or false when only a hash is kept.
	Secret() ([]byte, bool)
}

// Users is a UserStore in memory. Password hashing is expensive on purpose;
// Users bounds how many checks run at once so that a flood of wrong
// passwords cannot take every core and all memory (argon2id with 64 MiB
// each): callers beyond the bound wait.
//
// An unknown user name is checked against a decoy hash with the parameters
// most of the store's hashes have (kind and cost), so that it takes as long
// as a wrong password of a known user. A store that mixes hash costs still
// tells a user of another cost from an unknown name.
type Users struct {
	byName map[string]Credential
	slots  chan struct{}
	decoy  Credential
	// hashed, when set, is called with each hash about to be computed: a
	// test seam that sees the decoy's work without timing it.
	hashed func(*hashCredential)
}

// NewUsers returns a store of the given credentials, checking at most
// concurrent password hashes at a time.
func NewUsers(creds map[string]Credential, concurrent int) *Users {
	if concurrent < 1 {
		concurrent = 1
	}
	u := &Users{byName: creds, slots: make(chan struct{}, concurrent)}
	u.decoy = decoy{u.bound(newDecoy(creds))}
	return u
}

// Lookup implements UserStore.
func (u *Users) Lookup(name string) (Credential, bool) {
	c, ok := u.byName[name]
	if !ok {
		return u.decoy, false
	}
	return u.bound(c), true
}

// bound makes a hash credential wait for a hashing slot.
func (u *Users) bound(c Credential) Credential {
	if h, isHash := c.(*hashCredential); isHash {
		return &boundedHash{h, u}
	}
	return c
}

type boundedHash struct {
	*hashCredential
	users *Users
}

func (b *boundedHash) CheckPassword(pw string) bool {
	b.users.slots <- struct{}{}
	defer func() { <-b.users.slots }()
	if b.users.hashed != nil {
		b.users.hashed(b.hashCredential)
	}
	return b.hashCredential.CheckPassword(pw)
}

// decoy is checked for an unknown user: it does the work of its credential
// and never matches.
type decoy struct{ c Credential }

func (d decoy) CheckPassword(pw string) bool {
	d.c.CheckPassword(pw)
	return false
}

func (d decoy) Secret() ([]byte, bool) { return nil, false }

// newDecoy returns a credential of random content with the hash parameters
// most of creds' hashes share (ties: the first in the order of hashClass),
// or a random secret when creds holds no hash.
func newDecoy(creds map[string]Credential) Credential {
	count := map[string]int{}
	sample := map[string]*hashCredential{}
	for _, c := range creds {
		if h, ok := c.(*hashCredential); ok {
			k := h.class()
			count[k]++
			sample[k] = h
		}
	}
	best := ""
	for k, n := range count {
		if best == "" || n > count[best] || n == count[best] && k < best {
			best = k
		}
	}
	random := randomBytes(32)
	h := sample[best]
	switch {
	case h == nil:
		return secretCredential(random)
	case h.bcrypt != nil:
		cost, _ := bcrypt.Cost(h.bcrypt) // parsed by HashCredential
		hash, err := bcrypt.GenerateFromPassword(random, cost)
		if err != nil { // cost out of range: HashCredential refused it already
			return secretCredential(random)
		}
		return &hashCredential{bcrypt: hash}
	}
	d := *h
	d.salt, d.sum = randomBytes(len(h.salt)), randomBytes(len(h.sum))
	return &d
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

// SecretCredential keeps a retrievable secret (from a secret file); it
// allows PasswordDigest.
func SecretCredential(secret []byte) Credential { return secretCredential(secret) }

type secretCredential []byte

func (s secretCredential) CheckPassword(pw string) bool {
	return subtle.ConstantTimeCompare([]byte(pw), s) == 1
}

func (s secretCredential) Secret() ([]byte, bool) { return s, true }

// HashCredential parses an argon2id PHC string
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or a bcrypt hash ($2a$, $2b$, $2y$).
func HashCredential(hash string) (Credential, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return parseArgon2id(hash)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("bcrypt hash: %w", err)
		}
		return &hashCredential{bcrypt: []byte(hash)}, nil
	}
	return nil, errors.New("password hash is neither argon2id nor bcrypt")
}

type hashCredential struct {
	bcrypt []byte
	// argon2id parameters
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	sum     []byte
}

func (h *hashCredential) Secret() ([]byte, bool) { return nil, false }

// class names what a check of h costs: the kind and its parameters.
func (h *hashCredential) class() string {
	if h.bcrypt != nil {
		cost, _ := bcrypt.Cost(h.bcrypt)
		return fmt.Sprintf("bcrypt cost=%02d", cost)
	}
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d,len=%d", h.memory, h.time, h.threads, len(h.sum))
}

func (h *hashCredential) CheckPassword(pw string) bool {
	if h.bcrypt != nil {
		return bcrypt.CompareHashAndPassword(h.bcrypt, []byte(pw)) == nil
	}
	got := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.sum)))
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}

func parseArgon2id(s string) (*hashCredential, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[2] != "v=19" {
		return nil, errors.New("argon2id hash: want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	h := &hashCredential{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("argon2id hash: parameter %q", kv)
		}
		switch k {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.time = uint32(n)
		case "p":
			if n > 255 {
				return nil, fmt.Errorf("argon2id hash: parameter %q", kv)
			}
			h.threads = uint8(n)
		default:
			return nil, fmt.Errorf("argon2id hash: unknown parameter %q", k)
		}
	}
	if h.memory < 8*1024 || h.memory > 1<<20 || h.time < 1 || h.time > 20 || h.threads < 1 {
		return nil, fmt.Errorf("argon2id hash: parameters m=%d t=%d p=%d out of range", h.memory, h.time, h.threads)
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errors.New("argon2id hash: bad salt")
	}
	if h.sum, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.sum) < 16 {
		return nil, errors.New("argon2id hash: bad hash")
	}
	return h, nil
}

// checkUsernameToken verifies a UsernameToken (UsernameToken Profile 1.1):
// PasswordText against the user's credential, PasswordDigest as
// Base64(SHA-1(nonce + created + secret)) for users with a retrievable
// secret. Created must be fresh and the nonce is returned as a replay key.
func (vr *Verifier) checkUsernameToken(el *etree.Element, now time.Time) (*UsernameToken, []ReplayKey, error) {
	var userEl, pwEl, nonceEl, createdEl *etree.Element
	for _, c := range el.ChildElements() {
		ns := c.NamespaceURI()
		var dst **etree.Element
		switch {
		case ns == soap.NSWSSE && c.Tag == "Username":
			dst = &userEl
		case ns == soap.NSWSSE && c.Tag == "Password":
			dst = &pwEl
		case ns == soap.NSWSSE && c.Tag == "Nonce":
			dst = &nonceEl
		case ns == soap.NSWSU && c.Tag == "Created":
			dst = &createdEl
		default:
			// wsse11:Salt/Iteration (key derivation) and anything else.
			return nil, nil, unsupportedToken("UsernameToken element {%s}%s", ns, c.Tag)
		}
		if *dst != nil {
			return nil, nil, invalid("repeated %s in UsernameToken", c.Tag)
		}
		*dst = c
	}
	if userEl == nil || pwEl == nil {
		return nil, nil, invalid("UsernameToken needs Username and Password")
	}
	name, _ := soap.Text(userEl)
	name = strings.TrimSpace(name)
	ut := &UsernameToken{Element: el, Username: name}
	password, err := soap.Text(pwEl)
	if err != nil {
		return nil, nil, invalid("Password: %v", err)
	}

	var nonce []byte
	if nonceEl != nil {
		if enc := attr(nonceEl, "EncodingType", encodingBase64); enc != encodingBase64 {
			return nil, nil, unsupportedToken("Nonce EncodingType %q", enc)
		}
		if nonce, err = decodeBase64Text(nonceEl); err != nil || len(nonce) < 8 {
			return nil, nil, invalid("Nonce must be Base64 of at least 8 bytes")
		}
	}
	var createdText string
	if createdEl != nil {
		createdText, _ = soap.Text(createdEl)
		createdText = strings.TrimSpace(createdText)
		if ut.Created, err = parseDateTime(createdEl); err != nil {
			return nil, nil, invalid("UsernameToken: %v", err)
		}
		skew, age := vr.Policy.skew(), vr.Policy.maxAge()
		if ut.Created.After(now.Add(skew)) {
			return nil, nil, invalid("UsernameToken Created is in the future")
		}
		if now.Sub(ut.Created) > age+skew {
			return nil, nil, expired("UsernameToken Created %s is older than %s", createdText, age)
		}
	}

	if vr.Users == nil {
		return nil, nil, failedAuthentication("no user store for UsernameToken %q", name)
	}
	cred, ok := vr.Users.Lookup(name)
	typ := attr(pwEl, "Type", passwordTextType)
	switch typ {
	case passwordTextType:
		// An unknown name is checked against the store's decoy, so that it
		// costs what a wrong password does (no user enumeration by timing).
		match := cred != nil && cred.CheckPassword(password)
		if !ok || !match {
			return nil, nil, failedAuthentication("wrong password or unknown user %q", name)
		}
	case passwordDigestTyp:
		ut.Digest = true
		if nonce == nil || createdEl == nil {
			return nil, nil, invalid("PasswordDigest needs Nonce and Created")
		}
		if !ok {
			return nil, nil, failedAuthentication("unknown user %q", name)
		}
		secret, retrievable := cred.Secret()
		if !retrievable {
			return nil, nil, failedAuthentication("user %q has only a password hash; PasswordDigest needs a secret file", name)
		}
		got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(password))
		if err != nil {
			return nil, nil, failedAuthentication("PasswordDigest of %q is not Base64", name)
		}
		h := sha1.New()
		h.Write(nonce)
		h.Write([]byte(createdText))
		h.Write(secret)
		if subtle.ConstantTimeCompare(h.Sum(nil), got) != 1 {
			return nil, nil, failedAuthentication("wrong password digest for %q", name)
		}
	default:
		return nil, nil, unsupportedToken("Password Type %q", typ)
	}

	var keys []ReplayKey
	if nonce != nil {
		v := make([]byte, 0, len(name)+1+len(nonce))
		v = append(append(append(v, name...), 0), nonce...)
		keys = append(keys, ReplayKey{Kind: "nonce", Value: v, TTL: vr.Policy.maxAge() + 2*vr.Policy.skew(), Since: ut.Created})
	}
	return ut, keys, nil
}
