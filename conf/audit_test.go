package conf

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestLoadValidAudit checks the audit sinks of
// testdata/valid-operations.xml: rotation and sync settings as written or
// the defaults, and the Redis stream.
func TestLoadValidAudit(t *testing.T) {
	dir, path := setup(t, readTestdata(t, "valid-operations.xml"))
	cfg := mustLoad(t, path)
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", cfg.Warnings)
	}
	at := func(line int) Pos { return Pos{path, line} }
	want := Audit{
		Pos: at(6),
		Files: []AuditFile{
			{at(7), filepath.Join(dir, "audit/audit.log"), 104857600, 10, 50, 250 * time.Millisecond},
			{at(9), filepath.Join(dir, "audit/plain.log"), 0, 0, DefaultAuditSyncEvery, DefaultAuditSyncInterval},
		},
		RedisStream: &AuditRedisStream{at(8), "central:audit", 100000},
	}
	if !reflect.DeepEqual(cfg.Audit, want) {
		t.Errorf("audit = %+v (redisStream %+v)\nwant %+v (redisStream %+v)", cfg.Audit, cfg.Audit.RedisStream, want, want.RedisStream)
	}
}

// A redisStream without a stream attribute writes to the store's prefix
// followed by "audit". As the only sink it draws a warning.
func TestAuditRedisStreamDefault(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <audit>
    <redisStream maxLen="1000"/>
  </audit>
  <store>
    <redis addresses="127.0.0.1:6379" prefix="gh-test:"/>
  </store>
</gatehouse>`)
	cfg := mustLoad(t, path)
	if s := cfg.Audit.RedisStream; s == nil || s.Stream != "gh-test:audit" || s.MaxLen != 1000 {
		t.Errorf("redisStream = %+v, want stream gh-test:audit, maxLen 1000", s)
	}
	want := []string{path + ":5: audit: redisStream is the only audit sink: records written while Redis does not answer are lost; add a file or stdout"}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("Warnings = %q\nwant %q", cfg.Warnings, want)
	}
}

// maxBackups without maxBytes does nothing, which is probably a mistake.
func TestAuditMaxBackupsWithoutRotationWarns(t *testing.T) {
	_, path := setup(t, `<gatehouse xmlns="urn:gatehouse:config:1">
  <listener name="edge" address="127.0.0.1:8443">
    <tls certificate="pki/server.crt" key="pki/server.key" clientCA="pki/ca.crt"/>
  </listener>
  <audit>
    <file path="audit/audit.log" maxBackups="5"/>
  </audit>
</gatehouse>`)
	cfg := mustLoad(t, path)
	if f := cfg.Audit.Files[0]; f.MaxBytes != 0 || f.MaxBackups != 5 {
		t.Errorf("audit file = %+v", f)
	}
	want := []string{path + ":6: audit/file: maxBackups has no effect without maxBytes: the file is never rotated"}
	if !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("Warnings = %q\nwant %q", cfg.Warnings, want)
	}
}
