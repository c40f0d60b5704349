package conf

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/schemas"
)

// UsersNamespace is the XML namespace of a user store file.
const UsersNamespace = "urn:gatehouse:users:1"

// UsersSchemaName is the embedded XSD (schemas/std) a user store file is
// validated against.
const UsersSchemaName = "gatehouse-users.xsd"

// maxUserName is the longest user name, in characters.
const maxUserName = 128

// Bounds for argon2id parameters: below the minimums the hash is not
// argon2id as specified (RFC 9106); above the maximums one login would
// cost the gateway more than a second or a gibibyte, which an attacker
// could repeat at will.
const (
	argon2MaxMemoryKiB = 1 << 20 // 1 GiB
	argon2MaxTime      = 16
	argon2MaxThreads   = 16
	argon2MinSalt      = 8
	argon2MaxSalt      = 64
	argon2MinKey       = 16
	argon2MaxKey       = 64
	argon2Version      = 19 // 0x13, the only version golang.org/x/crypto/argon2 computes
)

// bcrypt costs accepted: below 10 a hash is cheap to crack, above 16 one
// login costs the gateway seconds.
const (
	bcryptMinCost = 10
	bcryptMaxCost = 16
)

// Users is the user store for WS-Security UsernameToken, kept in its own
// file (namespace UsersNamespace). Load makes File absolute, validates the
// file against its schema, and reads it and every secret file it names.
type Users struct {
	Pos
	File string `xml:"file,attr"`

	list *userList // nil until Load has read the file
}

type userList struct{ entries []UserEntry }

// Entries returns the users in file order, in a new slice with copies of
// the secrets; nil for a nil Users (no user store).
func (u *Users) Entries() []UserEntry {
	if u == nil || u.list == nil {
		return nil
	}
	entries := slices.Clone(u.list.entries)
	for i := range entries {
		entries[i].Secret = bytes.Clone(entries[i].Secret)
	}
	return entries
}

// entries returns the users without copying them; nil for a nil Users.
func (u *Users) entries() []UserEntry {
	if u == nil || u.list == nil {
		return nil
	}
	return u.list.entries
}

// UserEntry is one user of the user store. Exactly one of PasswordHash and
// Secret is set.
type UserEntry struct {
	Name string
	// PasswordHash is an argon2id hash in PHC form or a bcrypt hash ($2a$,
	// $2b$, $2y$, cost 10 to 16), checked by Load. Such a user can only
	// send PasswordText.
	PasswordHash string
	// Secret is the content of the user's secretFile without trailing line
	// ends, nil for a user with a PasswordHash. Such a user can send
	// PasswordText and PasswordDigest.
	Secret []byte
	Line   int // the user element's line in Users.File
}

// String names the user and the kind of credential, never the credential.
func (e UserEntry) String() string {
	kind := "secret"
	switch {
	case strings.HasPrefix(e.PasswordHash, "$argon2id$"):
		kind = "argon2id hash"
	case e.PasswordHash != "":
		kind = "bcrypt hash"
	}
	return fmt.Sprintf("user %q (%s)", e.Name, kind)
}

// Format prints String for every verb, so that no verb (%+v, %#v, %x)
// prints the hash or the secret.
func (e UserEntry) Format(f fmt.State, verb rune) { fmt.Fprint(f, e.String()) }

// MarshalText returns String, so that encoding/json and log/slog do not
// write the hash or the secret either.
func (e UserEntry) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// Format prints the file and the number of users for every verb: fmt
// would otherwise print the unexported entries, secrets included, for
// verbs such as %s.
func (u Users) Format(f fmt.State, verb rune) {
	n := 0
	if u.list != nil {
		n = len(u.list.entries)
	}
	fmt.Fprintf(f, "users file=%s (%s)", u.File, plural(n, "user"))
}

func (u *Users) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain Users
	*u = Users{Pos: Pos{Line: startLine(d)}}
	return d.DecodeElement((*plain)(u), &start)
}

// userElement is a user element of the user store file.
type userElement struct {
	Line         int
	Name         string `xml:"name,attr"`
	PasswordHash string `xml:"passwordHash,attr"`
	SecretFile   string `xml:"secretFile,attr"`
}

func (e *userElement) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain userElement
	*e = userElement{Line: startLine(d)}
	return d.DecodeElement((*plain)(e), &start)
}

// Checks.

// readDocument reads and validates a file the configuration names (the
// user store, the directory) against the embedded schema schemaName of
// namespace ns. It makes *path absolute and returns the file's name for
// messages: relative to the configuration's as given to Load. Schema
// problems carry that name and the file's lines; only a file that cannot
// be read at all is reported at the configuration's element el.
func (c *checker) readDocument(p Pos, el string, path *string, schemaName, ns string) (file string, data []byte, ok bool) {
	file = *path
	if !filepath.IsAbs(file) {
		file = filepath.Join(filepath.Dir(c.file), file)
	}
	*path = c.resolve(*path)
	data, err := readFile(*path)
	if err != nil {
		c.errorf(p, el, "file %s: %v", *path, err)
		return "", nil, false
	}
	set, err := schemas.CompileEmbedded(schemaName)
	if err != nil {
		c.errorf(p, el, "compile %s: %v", schemaName, err)
		return "", nil, false
	}
	err = set.Validate(data)
	set.Close()
	if err != nil {
		var errs Errors
		if !errors.As(schemaErrors(file, ns, err), &errs) {
			c.errorf(p, el, "validate %s: %v", *path, err)
			return "", nil, false
		}
		c.errs = append(c.errs, errs...)
		return "", nil, false
	}
	return file, data, true
}

// checkUsers reads the user store file. Its problems are reported with
// the file's own name (relative to the configuration's as given to Load)
// and lines; only a file that cannot be read at all is reported at the
// users element.
func (c *checker) checkUsers(u *Users) {
	if u == nil {
		return
	}
	file, data, ok := c.readDocument(u.Pos, "users", &u.File, UsersSchemaName, UsersNamespace)
	if !ok {
		return
	}
	var doc struct {
		Users []userElement `xml:"user"`
	}
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		c.errs = append(c.errs, &Error{File: file, Msg: err.Error()})
		return
	}

	dir := filepath.Dir(u.File)
	list := &userList{}
	names := map[string]int{}
	for _, ue := range doc.Users {
		el := fmt.Sprintf("user name=%q", ue.Name)
		errorf := func(format string, args ...any) {
			c.errs = append(c.errs, &Error{File: file, Line: ue.Line, Element: el, Msg: fmt.Sprintf(format, args...)})
		}
		if err := checkUserName(ue.Name); err != nil {
			errorf("%v", err)
		}
		if line, dup := names[ue.Name]; dup {
			errorf("duplicate user name (first at line %d)", line)
		} else {
			names[ue.Name] = ue.Line
		}
		entry := UserEntry{Name: ue.Name, Line: ue.Line}
		switch {
		case ue.PasswordHash != "" && ue.SecretFile != "":
			errorf("passwordHash and secretFile exclude each other")
		case ue.PasswordHash != "":
			if err := checkPasswordHash(ue.PasswordHash); err != nil {
				errorf("passwordHash: %v", err)
			}
			entry.PasswordHash = ue.PasswordHash
		case ue.SecretFile != "":
			path := ue.SecretFile
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			path = filepath.Clean(path)
			secret, mode, err := readSecret(path)
			if err != nil {
				errorf("secretFile %s: %v", path, err)
				break
			}
			if exposed(mode) {
				c.warnings = append(c.warnings, &Error{File: file, Line: ue.Line, Element: el,
					Msg: fmt.Sprintf("secretFile %s can be read by group or others (mode %04o); make it readable by the gatehouse user only", path, mode.Perm())})
			}
			entry.Secret = secret
		default:
			errorf("one of passwordHash and secretFile is required")
		}
		list.entries = append(list.entries, entry)
	}
	u.list = list
}

// checkUserName checks what the schema checks too: 1 to maxUserName
// characters, none of them white space or a control character.
func checkUserName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return errors.New("name is empty")
	case n > maxUserName:
		return fmt.Errorf("name is longer than %d characters", maxUserName)
	case !utf8.ValidString(name):
		return errors.New("name is not valid UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return errors.New("name contains white space or a control character")
	}
	return nil
}

// checkPasswordHash checks that h is an argon2id hash in PHC form or a
// bcrypt hash, with sane parameters. Its errors never quote the hash.
func checkPasswordHash(h string) error {
	switch {
	case strings.HasPrefix(h, "$argon2id$"):
		_, err := parseArgon2id(h)
		return err
	case strings.HasPrefix(h, "$argon2i$"), strings.HasPrefix(h, "$argon2d$"):
		return errors.New("argon2i and argon2d are not supported: use argon2id")
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		return checkBcrypt(h)
	}
	return errors.New(`not an argon2id hash ("$argon2id$v=19$m=…,t=…,p=…$salt$hash") nor a bcrypt hash ("$2a$", "$2b$" or "$2y$")`)
}

// argon2Params are the parameters of an argon2id hash in PHC form.
type argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	Salt    []byte
	Key     []byte
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" (salt and
// hash in base64 without padding) and bounds its parameters.
func parseArgon2id(h string) (argon2Params, error) {
	var p argon2Params
	fields := strings.Split(h, "$")
	if len(fields) != 6 || fields[0] != "" || fields[1] != "argon2id" {
		return p, errors.New(`argon2id: want "$argon2id$v=19$m=…,t=…,p=…$salt$hash"`)
	}
	if v, ok := strings.CutPrefix(fields[2], "v="); !ok || v != strconv.Itoa(argon2Version) {
		return p, fmt.Errorf("argon2id: version must be v=%d", argon2Version)
	}
	params := strings.Split(fields[3], ",")
	if len(params) != 3 {
		return p, errors.New("argon2id: parameters must be m=…,t=…,p=… (in this order)")
	}
	var vals [3]uint64
	for i, key := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], key+"=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || (len(v) > 1 && v[0] == '0') {
			return p, errors.New("argon2id: parameters must be m=…,t=…,p=… (in this order) with decimal values")
		}
		vals[i] = n
	}
	m, t, threads := vals[0], vals[1], vals[2]
	switch {
	case threads < 1 || threads > argon2MaxThreads:
		return p, fmt.Errorf("argon2id: p=%d is outside 1 to %d", threads, argon2MaxThreads)
	case t < 1 || t > argon2MaxTime:
		return p, fmt.Errorf("argon2id: t=%d is outside 1 to %d", t, argon2MaxTime)
	case m < 8*threads || m > argon2MaxMemoryKiB:
		return p, fmt.Errorf("argon2id: m=%d (KiB) is outside 8×p=%d to %d (1 GiB)", m, 8*threads, argon2MaxMemoryKiB)
	}
	salt, err := decodeB64(fields[4])
	switch {
	case err != nil:
		return p, errors.New("argon2id: salt is not unpadded base64")
	case len(salt) < argon2MinSalt || len(salt) > argon2MaxSalt:
		return p, fmt.Errorf("argon2id: salt of %d bytes is outside %d to %d", len(salt), argon2MinSalt, argon2MaxSalt)
	}
	key, err := decodeB64(fields[5])
	switch {
	case err != nil:
		return p, errors.New("argon2id: hash is not unpadded base64")
	case len(key) < argon2MinKey || len(key) > argon2MaxKey:
		return p, fmt.Errorf("argon2id: hash of %d bytes is outside %d to %d", len(key), argon2MinKey, argon2MaxKey)
	}
	return argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(threads), Salt: salt, Key: key}, nil
}

// decodeB64 decodes canonical unpadded standard base64, as PHC strings
// use it. Unlike encoding/base64 alone, it refuses line ends inside.
func decodeB64(s string) ([]byte, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	if strings.Trim(s, alphabet) != "" {
		return nil, errors.New("not base64")
	}
	return base64.RawStdEncoding.Strict().DecodeString(s)
}

// checkBcrypt checks the form of a bcrypt hash ("$2b$CC$" and 53
// characters of salt and hash) and its cost.
func checkBcrypt(h string) error {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	digits := func(s string) bool { return strings.Trim(s, "0123456789") == "" }
	if len(h) != 60 || !digits(h[4:6]) || h[6] != '$' || strings.Trim(h[7:], alphabet) != "" {
		return errors.New(`bcrypt: want "$2b$" (or $2a$, $2y$), a two-digit cost, "$" and 53 characters of salt and hash`)
	}
	cost, err := bcrypt.Cost([]byte(h))
	if err != nil {
		return errors.New("bcrypt: cost is not a number from 4 to 31")
	}
	if cost < bcryptMinCost || cost > bcryptMaxCost {
		return fmt.Errorf("bcrypt: cost %d is outside %d to %d", cost, bcryptMinCost, bcryptMaxCost)
	}
	return nil
}
