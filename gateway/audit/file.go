package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero FileOptions.
const (
	DefaultSyncEvery    = 100
	DefaultSyncInterval = time.Second
)

// FileOptions tunes a file sink. The zero value syncs every DefaultSyncEvery
// records or DefaultSyncInterval, whichever comes first, and never rotates.
type FileOptions struct {
	// SyncEvery wakes the background flusher once this many records are
	// written but not yet synced; default DefaultSyncEvery. The fsync runs
	// off the writers' path, so more records may be written while it runs.
	SyncEvery int
	// SyncInterval bounds how long a non-durable record stays unsynced
	// (plus the time of one fsync); default DefaultSyncInterval.
	SyncInterval time.Duration
	// MaxBytes rotates the file before a record would make it larger; zero
	// never rotates. A record larger than MaxBytes is written alone to a
	// fresh file.
	MaxBytes int64
	// MaxBackups is how many rotated files are kept: path.1 (newest) to
	// path.MaxBackups (oldest). Required, at least 1, when MaxBytes is set:
	// keeping none would delete audit records on every rotation.
	MaxBackups int
}

func (o FileOptions) withDefaults() (FileOptions, error) {
	if o.SyncEvery < 0 || o.SyncInterval < 0 || o.MaxBytes < 0 || o.MaxBackups < 0 {
		return o, errors.New("audit: file options may not be negative")
	}
	if o.MaxBytes > 0 && o.MaxBackups == 0 {
		return o, errors.New("audit: MaxBackups must be at least 1 when MaxBytes is set")
	}
	if o.SyncEvery == 0 {
		o.SyncEvery = DefaultSyncEvery
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	return o, nil
}

// File opens (creating, appending) a JSON-lines file sink with the default
// FileOptions: batched fsync, no rotation.
func File(path string) (Sink, error) { return FileWithOptions(path, FileOptions{}) }

// FileWithOptions opens (creating, appending) a JSON-lines file sink. The
// sink implements Syncer; Close stops its flusher and syncs.
func FileWithOptions(path string, o FileOptions) (Sink, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	f, size, err := openAppend(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	// The file may have just been created: make its name durable too.
	if err := syncDir(path); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	s := &fileSink{
		path: path, opts: o, f: f, size: size,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go s.flusher()
	return s, nil
}

// fileSink appends records to one file, rotating it by size.
//
// Records are counted: written is the number accepted so far (across
// rotations), synced the number known to be on stable storage. Sync waits
// for synced to reach the written count at its call. fsync runs under
// syncMu, not mu, so writers keep appending while it runs, and a caller
// whose records an fsync already covered returns without another one.
// Lock order: syncMu before mu.
type fileSink struct {
	path string
	opts FileOptions

	syncMu sync.Mutex    // serialises fsync of the current file
	synced atomic.Uint64 // records 1..synced are on stable storage

	mu       sync.Mutex
	f        *os.File // nil once closed
	size     int64    // bytes in f
	written  uint64   // records accepted so far
	renamed  bool     // rotation moved f to path.1 but could not open a new path
	deferred error    // background failure, reported by the next WriteRecord or Close

	kick      chan struct{} // wakes the flusher early (SyncEvery)
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ Syncer = (*fileSink)(nil)

func openAppend(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// syncDir makes renames and creations in path's directory durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteRecord appends line with one write. A failed or pending rotation and
// a background sync failure are reported here, after line is written.
func (s *fileSink) WriteRecord(line []byte) error {
	s.mu.Lock()
	if s.f == nil {
		s.mu.Unlock()
		return fmt.Errorf("audit: file %s: %w", s.path, os.ErrClosed)
	}
	var errs []error
	if s.deferred != nil {
		errs = append(errs, s.deferred)
		s.deferred = nil
	}
	if s.opts.MaxBytes > 0 && s.size > 0 && s.size+int64(len(line)) > s.opts.MaxBytes {
		if err := s.rotate(); err != nil {
			errs = append(errs, err)
		}
	}
	n, err := s.f.Write(line)
	if err != nil {
		// Never leave half a record for the next one to be glued to.
		if n > 0 && s.f.Truncate(s.size) != nil {
			s.size += int64(n)
		}
		errs = append(errs, fmt.Errorf("audit: file %s: record not written: %w", s.path, err))
	} else {
		s.size += int64(n)
		s.written++
	}
	unsynced := s.written - s.synced.Load()
	s.mu.Unlock()
	if unsynced >= uint64(s.opts.SyncEvery) {
		select {
		case s.kick <- struct{}{}:
		default: // the flusher is already due
		}
	}
	return errors.Join(errs...)
}

// Sync returns once every record written before the call is on stable
// storage.
func (s *fileSink) Sync() error {
	s.mu.Lock()
	target := s.written
	s.mu.Unlock()
	return s.syncTo(target)
}

func (s *fileSink) syncTo(target uint64) error {
	if s.synced.Load() >= target {
		return nil
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced.Load() >= target {
		return nil // an fsync that started after our records were written covered them
	}
	s.mu.Lock()
	f, upto := s.f, s.written
	s.mu.Unlock()
	if f == nil {
		return fmt.Errorf("audit: file %s: sync: %w", s.path, os.ErrClosed)
	}
	if err := f.Sync(); err != nil {
		// Rotation or Close may have closed f meanwhile; both sync it first
		// and count what they synced.
		if errors.Is(err, os.ErrClosed) && s.synced.Load() >= target {
			return nil
		}
		return fmt.Errorf("audit: file %s: sync: %w", s.path, err)
	}
	s.markSynced(upto)
	return nil
}

// markSynced raises synced to n; a slower fsync never lowers it.
func (s *fileSink) markSynced(n uint64) {
	for {
		cur := s.synced.Load()
		if cur >= n || s.synced.CompareAndSwap(cur, n) {
			return
		}
	}
}

// rotate moves the current file to path.1 and opens a new one; s.mu is held.
// On failure the current file stays in use, so nothing is lost; the next
// write tries again (after a rename, only what is left to do).
func (s *fileSink) rotate() error {
	if !s.renamed {
		if err := s.shiftBackups(); err != nil {
			return fmt.Errorf("audit: rotate %s: %w (still writing to the current file)", s.path, err)
		}
		if err := os.Rename(s.path, s.backup(1)); err != nil {
			return fmt.Errorf("audit: rotate %s: %w (still writing to the current file)", s.path, err)
		}
		s.renamed = true // the open file is path.1 now
	}
	f, size, err := openAppend(s.path)
	if err != nil {
		return fmt.Errorf("audit: rotate %s: %w (still writing to %s)", s.path, err, s.backup(1))
	}
	// The records in the old file must be on disk before it is let go:
	// synced counts records, and later fsyncs reach only the new file.
	if err := s.f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit: rotate %s: sync: %w (still writing to %s)", s.path, err, s.backup(1))
	}
	s.markSynced(s.written)
	old := s.f
	s.f, s.size, s.renamed = f, size, false
	if err := errors.Join(old.Close(), syncDir(s.path)); err != nil {
		return fmt.Errorf("audit: rotate %s: %w", s.path, err)
	}
	return nil
}

func (s *fileSink) backup(i int) string { return s.path + "." + strconv.Itoa(i) }

// shiftBackups frees path.1 by renaming path.i to path.i+1, oldest first,
// for the run of backups that starts at path.1; path.MaxBackups is
// overwritten, which drops the oldest. A gap in the run stops the shift, so a
// rotation that failed half-way and is retried never drops another backup.
// Backups beyond MaxBackups (left by a larger setting) are removed.
func (s *fileSink) shiftBackups() error {
	n := s.opts.MaxBackups
	run := 0
	for run < n {
		if _, err := os.Lstat(s.backup(run + 1)); errors.Is(err, fs.ErrNotExist) {
			break
		} else if err != nil {
			return err
		}
		run++
	}
	if run == n {
		run = n - 1 // path.n is overwritten by path.n-1 (or by path when n is 1)
	}
	for i := run; i >= 1; i-- {
		if err := os.Rename(s.backup(i), s.backup(i+1)); err != nil {
			return err
		}
	}
	for i := n + 1; ; i++ {
		err := os.Remove(s.backup(i))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// flusher syncs every SyncInterval, or sooner when woken by a writer.
func (s *fileSink) flusher() {
	defer close(s.done)
	t := time.NewTicker(s.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.Sync(); err != nil {
			s.mu.Lock()
			if s.deferred == nil { // one pending report is enough; the next fsync retries
				s.deferred = fmt.Errorf("%w (background sync; records since the last sync may not be durable)", err)
			}
			s.mu.Unlock()
		}
	}
}

// Close stops the flusher, syncs and closes the file. Later writes fail.
func (s *fileSink) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.syncMu.Lock()
		defer s.syncMu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		errs := []error{s.deferred}
		s.deferred = nil
		if err := s.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("audit: file %s: sync: %w", s.path, err))
		} else {
			s.markSynced(s.written)
		}
		if err := s.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("audit: file %s: %w", s.path, err))
		}
		s.f = nil
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
