package conf

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults for the audit sinks.
const (
	DefaultAuditSyncEvery    = 100
	DefaultAuditSyncInterval = time.Second
	// DefaultAuditStream follows the store's key prefix to name the audit
	// stream when redisStream has no stream attribute.
	DefaultAuditStream = "audit"
)

// Bounds for the audit sinks.
const (
	// A smaller file is more likely a typo (bytes for megabytes) than a
	// need, and would rotate the records away within minutes.
	minAuditMaxBytes = 1 << 20
	// Each rotation renames every backup under the sink's lock.
	maxAuditBackups = 1000
	// Above these a value is more likely a typo than a need; a longer
	// interval also leaves more records to lose in a crash.
	maxAuditSyncEvery    = 100000
	maxAuditSyncInterval = time.Minute
	// Redis trims a stream approximately (whole nodes of, by default, 100
	// entries); below this a collector has little slack before records it
	// has not read are trimmed.
	minAuditStreamMaxLen = 1000
)

// Audit names the audit sinks; every record goes to each of them. Without
// an audit element Stdout is true and there is no other sink.
type Audit struct {
	Pos
	Stdout      bool
	Files       []AuditFile
	RedisStream *AuditRedisStream // nil: no stream

	dupStreams []Pos // redisStream elements after the first, for the checks
}

// AuditFile is an audit log file of JSON lines. Load makes Path absolute
// and fills in SyncEvery and SyncInterval.
type AuditFile struct {
	Pos
	Path string
	// MaxBytes rotates the file before a record would make it larger:
	// Path becomes Path.1, Path.1 becomes Path.2, and so on, and the
	// oldest beyond Path.MaxBackups is deleted. Zero never rotates;
	// otherwise at least 1 MiB, and MaxBackups is at least 1.
	MaxBytes   int64
	MaxBackups int
	// An fsync starts once SyncEvery records are unsynced (default 100),
	// and a record stays unsynced for at most SyncInterval (default 1s).
	SyncEvery    int
	SyncInterval time.Duration
}

// AuditRedisStream adds every record to a Redis stream in the store's
// Redis (XADD Stream MAXLEN ~ MaxLen), for central collection. Load
// requires a store element with redis.
type AuditRedisStream struct {
	Pos
	Stream string // the key, as written; default the store's prefix + DefaultAuditStream
	MaxLen int64  // the stream is trimmed to about this many entries; at least 1000
}

func (a *Audit) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Stdout       []struct{}          `xml:"stdout"`
		Files        []AuditFile         `xml:"file"`
		RedisStreams []*AuditRedisStream `xml:"redisStream"`
	}
	*a = Audit{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	// The schema allows the sinks in any order and number; a second
	// <stdout/> changes nothing, so it is not worth an error. A second
	// redisStream is: its records would go nowhere.
	a.Stdout = len(raw.Stdout) > 0
	a.Files = raw.Files
	for i, s := range raw.RedisStreams {
		if i == 0 {
			a.RedisStream = s
		} else {
			a.dupStreams = append(a.dupStreams, s.Pos)
		}
	}
	return nil
}

func (f *AuditFile) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Path         string `xml:"path,attr"`
		MaxBytes     int64  `xml:"maxBytes,attr"`
		MaxBackups   int    `xml:"maxBackups,attr"`
		SyncEvery    int    `xml:"syncEvery,attr"`
		SyncInterval string `xml:"syncInterval,attr"`
	}
	*f = AuditFile{Pos: Pos{Line: startLine(d)}, SyncEvery: DefaultAuditSyncEvery, SyncInterval: DefaultAuditSyncInterval}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	f.Path, f.MaxBytes, f.MaxBackups = raw.Path, raw.MaxBytes, raw.MaxBackups
	if raw.SyncEvery != 0 { // the schema refuses syncEvery="0"
		f.SyncEvery = raw.SyncEvery
	}
	return parseDuration(&f.SyncInterval, raw.SyncInterval, f.Line, "syncInterval")
}

func (s *AuditRedisStream) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var raw struct {
		Stream string `xml:"stream,attr"`
		MaxLen int64  `xml:"maxLen,attr"`
	}
	*s = AuditRedisStream{Pos: Pos{Line: startLine(d)}}
	if err := d.DecodeElement(&raw, &start); err != nil {
		return err
	}
	s.Stream, s.MaxLen = raw.Stream, raw.MaxLen
	return nil
}

// Checks.

func (c *checker) checkAudit(cfg *Config) {
	a := &cfg.Audit
	seen := map[string]int{}
	for i := range a.Files {
		f := &a.Files[i]
		f.Path = c.resolve(f.Path)
		if line, dup := seen[f.Path]; dup {
			c.errorf(f.Pos, "audit/file", "%s is already an audit file (line %d)", f.Path, line)
			continue
		}
		seen[f.Path] = f.Line
		if fi, err := os.Stat(f.Path); err == nil && !fi.Mode().IsRegular() {
			c.errorf(f.Pos, "audit/file", "%s exists and is not a regular file", f.Path)
		}
		if fi, err := os.Stat(filepath.Dir(f.Path)); err != nil || !fi.IsDir() {
			c.errorf(f.Pos, "audit/file", "directory %s does not exist", filepath.Dir(f.Path))
		}
		c.checkAuditFile(f)
	}
	c.checkAuditBackupNames(a.Files)

	if s := a.RedisStream; s != nil {
		c.checkAuditRedisStream(s, cfg.Store)
		if !a.Stdout && len(a.Files) == 0 {
			c.warnf(a.Pos, "audit", "redisStream is the only audit sink: records written while Redis does not answer are lost; add a file or stdout")
		}
	}
	for _, p := range a.dupStreams {
		c.errorf(p, "audit/redisStream", "there is already a redisStream (line %d); give at most one", a.RedisStream.Line)
	}
}

// checkAuditFile checks the rotation and sync settings of an audit file.
func (c *checker) checkAuditFile(f *AuditFile) {
	const el = "audit/file"
	if f.MaxBytes > 0 && f.MaxBytes < minAuditMaxBytes {
		c.errorf(f.Pos, el, "maxBytes %d is below the minimum of %d", f.MaxBytes, minAuditMaxBytes)
	}
	switch {
	case f.MaxBytes > 0 && f.MaxBackups < 1:
		c.errorf(f.Pos, el, "maxBytes needs maxBackups of at least 1: rotation without a backup would delete audit records")
	case f.MaxBackups > maxAuditBackups:
		c.errorf(f.Pos, el, "maxBackups %d is above the maximum of %d", f.MaxBackups, maxAuditBackups)
	case f.MaxBytes == 0 && f.MaxBackups > 0:
		c.warnf(f.Pos, el, "maxBackups has no effect without maxBytes: the file is never rotated")
	}
	switch {
	case f.SyncEvery < 1: // the schema refuses it
		c.errorf(f.Pos, el, "syncEvery %d must be at least 1", f.SyncEvery)
	case f.SyncEvery > maxAuditSyncEvery:
		c.errorf(f.Pos, el, "syncEvery %d is above the maximum of %d", f.SyncEvery, maxAuditSyncEvery)
	}
	c.checkDuration(f.Pos, el, "syncInterval", f.SyncInterval)
	if f.SyncInterval > maxAuditSyncInterval {
		c.errorf(f.Pos, el, "syncInterval %s is above the maximum of %s", f.SyncInterval, maxAuditSyncInterval)
	}
}

// checkAuditBackupNames refuses an audit file named like a backup (PATH.N)
// of an audit file that rotates: rotation would rename it, and in the end
// delete it, under the other sink.
func (c *checker) checkAuditBackupNames(files []AuditFile) {
	for i := range files {
		rotating := &files[i]
		if rotating.MaxBytes == 0 {
			continue
		}
		for j := range files {
			f := &files[j]
			suffix, ok := strings.CutPrefix(f.Path, rotating.Path+".")
			if n, err := strconv.Atoi(suffix); ok && err == nil && n >= 1 && strconv.Itoa(n) == suffix {
				c.errorf(f.Pos, "audit/file", "%s is named like a backup of audit file %s (line %d), which rotation renames and deletes",
					f.Path, rotating.Path, rotating.Line)
			}
		}
	}
}

func (c *checker) checkAuditRedisStream(s *AuditRedisStream, store *Store) {
	const el = "audit/redisStream"
	switch {
	case store == nil || store.Redis == nil:
		c.errorf(s.Pos, el, "needs a store element with redis: the stream is written to the store's Redis")
	case s.Stream == "":
		s.Stream = store.Redis.Prefix + DefaultAuditStream
	}
	if s.MaxLen < minAuditStreamMaxLen {
		c.errorf(s.Pos, el, "maxLen %d is below the minimum of %d", s.MaxLen, minAuditStreamMaxLen)
	}
}
