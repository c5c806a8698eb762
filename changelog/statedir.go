package changelog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/kafki/kafki/state"
)

// LockFileName is the name of the lock file in a task directory.
const LockFileName = ".lock"

// ErrStateDirLocked is wrapped by the error LockTask returns when another
// opener, in this process or another one on the machine, holds the task's
// directory. The error is a *LockedError naming the lock file and, when it
// could be read, the holder.
var ErrStateDirLocked = errors.New("changelog: task state directory is locked")

// ErrStateDirInUse is wrapped by the error StateDir.Lock returns when
// another instance, in this process or another one on the machine, runs
// with the same application id and state directory. Two such instances
// would share task directories (Kafka Streams refuses it too); each needs a
// state directory of its own. The error is a *LockedError.
var ErrStateDirInUse = errors.New("changelog: application state directory is in use by another instance")

// LockedError tells which lock file is held, and by whom.
type LockedError struct {
	// Path is the lock file that is held.
	Path string
	// Holder is what the holder wrote in the lock file (process id and
	// host), or empty.
	Holder string
	// App is true for the lock of the whole application directory
	// (StateDir.Lock, ErrStateDirInUse), false for a task's.
	App bool
}

func (e *LockedError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "another opener"
	}
	if e.App {
		return fmt.Sprintf("%v: %s is locked by %s; give each instance of the application its own state directory",
			ErrStateDirInUse, filepath.Dir(e.Path), holder)
	}
	return fmt.Sprintf("%v: %s is held by %s", ErrStateDirLocked, e.Path, holder)
}

func (e *LockedError) Unwrap() error {
	if e.App {
		return ErrStateDirInUse
	}
	return ErrStateDirLocked
}

// StateDir is the local state directory of one application:
// <state.dir>/<application.id>. It holds one directory per task, each with
// one directory per persistent store, a checkpoint file and a lock file:
//
//	<state.dir>/<application.id>/<task>/.lock
//	<state.dir>/<application.id>/<task>/.checkpoint
//	<state.dir>/<application.id>/<task>/<store>/
type StateDir struct {
	path   string
	logger *slog.Logger
	lock   *os.File // the application lock, held between Lock and Unlock
}

// StateDirOption configures OpenStateDir.
type StateDirOption func(*StateDir)

// WithLogger sets the logger of the state directory and of the task
// directories it locks (slog.Default() otherwise).
func WithLogger(l *slog.Logger) StateDirOption {
	return func(d *StateDir) {
		if l != nil {
			d.logger = l
		}
	}
}

// OpenStateDir creates (if needed) and opens <root>/<appID>.
func OpenStateDir(root, appID string, opts ...StateDirOption) (*StateDir, error) {
	if root == "" {
		return nil, errors.New("changelog: empty state directory")
	}
	if err := validName("application id", appID); err != nil {
		return nil, err
	}
	d := &StateDir{path: filepath.Join(root, appID), logger: slog.Default()}
	for _, o := range opts {
		o(d)
	}
	if err := os.MkdirAll(d.path, 0o755); err != nil {
		return nil, fmt.Errorf("changelog: create state directory: %w", err)
	}
	return d, nil
}

// Path is <state.dir>/<application.id>.
func (d *StateDir) Path() string { return d.path }

// Lock takes the exclusive lock of the application's state directory,
// <state.dir>/<application.id>/.lock, for one running instance: without it
// a second instance with the same state directory would start and share
// the task directories with the first. It does not wait; when the lock is
// held the error wraps ErrStateDirInUse and names the directory and the
// holding process. As with task locks, the lock goes away with the process.
func (d *StateDir) Lock() error {
	if d.lock != nil {
		return nil
	}
	lockPath := filepath.Join(d.path, LockFileName)
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("changelog: open lock file: %w", err)
	}
	if err := flock(f); err != nil {
		holder, _ := os.ReadFile(lockPath)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return &LockedError{Path: lockPath, Holder: strings.TrimSpace(string(holder)), App: true}
		}
		return fmt.Errorf("changelog: lock %s: %w", lockPath, err)
	}
	host, _ := os.Hostname()
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d on %s\n", os.Getpid(), host)
	}
	d.lock = f
	return nil
}

// Unlock releases the lock Lock took, if any.
func (d *StateDir) Unlock() error {
	if d == nil || d.lock == nil {
		return nil
	}
	f := d.lock
	d.lock = nil
	return f.Close()
}

// TaskIDs lists the tasks that have a directory, locked or not, in name
// order.
func (d *StateDir) TaskIDs() ([]string, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("changelog: list state directory: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// LockTask creates (if needed) and locks the directory of a task, so that
// no other opener on this machine uses it until the TaskDir is closed. The
// lock is flock(2) on <task>/.lock, taken without waiting: when it is held
// the error wraps ErrStateDirLocked (a *LockedError). The lock goes away
// with the process, so a crashed holder never leaves it behind.
func (d *StateDir) LockTask(taskID string) (*TaskDir, error) {
	if err := validName("task id", taskID); err != nil {
		return nil, err
	}
	dir := filepath.Join(d.path, taskID)
	lockPath := filepath.Join(dir, LockFileName)
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("changelog: create task directory: %w", err)
		}
		f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("changelog: open lock file: %w", err)
		}
		if err := flock(f); err != nil {
			holder, _ := os.ReadFile(lockPath)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, &LockedError{Path: lockPath, Holder: strings.TrimSpace(string(holder))}
			}
			return nil, fmt.Errorf("changelog: lock %s: %w", lockPath, err)
		}
		// The directory may have been removed (RemoveTask) between our
		// open and our lock: then we locked a file nobody else can see.
		if same, err := sameFile(f, lockPath); err != nil || !same {
			f.Close()
			if attempt < 3 {
				continue
			}
			return nil, fmt.Errorf("changelog: lock %s: lock file keeps disappearing", lockPath)
		}
		host, _ := os.Hostname()
		if err := f.Truncate(0); err == nil {
			fmt.Fprintf(f, "pid %d on %s\n", os.Getpid(), host)
		}
		return &TaskDir{id: taskID, path: dir, lock: f, logger: d.logger.With("task", taskID)}, nil
	}
}

// RemoveTask deletes the directory of a task that nobody holds: its stores
// and checkpoint. It returns an error wrapping ErrStateDirLocked when the
// task is locked.
func (d *StateDir) RemoveTask(taskID string) error {
	td, err := d.LockTask(taskID)
	if err != nil {
		return err
	}
	defer td.Close()
	entries, err := os.ReadDir(td.path)
	if err != nil {
		return fmt.Errorf("changelog: remove task %s: %w", taskID, err)
	}
	// Remove everything but the lock first, then the directory with the
	// lock in it: an opener that raced us re-creates the directory.
	for _, e := range entries {
		if e.Name() == LockFileName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(td.path, e.Name())); err != nil {
			return fmt.Errorf("changelog: remove task %s: %w", taskID, err)
		}
	}
	if err := os.RemoveAll(td.path); err != nil {
		return fmt.Errorf("changelog: remove task %s: %w", taskID, err)
	}
	return nil
}

// TaskDir is the locked directory of one task.
type TaskDir struct {
	id     string
	path   string
	lock   *os.File
	logger *slog.Logger

	mu sync.Mutex
	// segmented are the window and session stores opened through this
	// TaskDir, whose segment identities each checkpoint records
	// (identity.go).
	segmented map[string]state.Spec
}

// ID is the task id.
func (t *TaskDir) ID() string { return t.id }

// Path is <state.dir>/<application.id>/<task>.
func (t *TaskDir) Path() string { return t.path }

// StorePath is the directory of a persistent store of this task:
// <state.dir>/<application.id>/<task>/<store>.
func (t *TaskDir) StorePath(store string) string { return filepath.Join(t.path, store) }

// CheckpointPath is the task's checkpoint file.
func (t *TaskDir) CheckpointPath() string { return filepath.Join(t.path, CheckpointFileName) }

// Logger is the logger of this task directory.
func (t *TaskDir) Logger() *slog.Logger { return t.logger }

// ReadCheckpoint reads the task's checkpoint. A missing file is an empty
// checkpoint; a file that cannot be trusted (truncated, garbage, unknown
// version, unreadable) is logged as a warning and treated as missing, so
// that every store is restored from the beginning.
func (t *TaskDir) ReadCheckpoint() Offsets {
	offsets, err := ReadCheckpoint(t.CheckpointPath())
	if err != nil {
		t.logger.Warn("ignoring unreadable checkpoint file; stores will be restored from the beginning of their changelogs",
			"path", t.CheckpointPath(), "err", err)
		return Offsets{}
	}
	return offsets
}

// WriteCheckpoint replaces the task's checkpoint file atomically. It first
// records the current segments of the task's window and session stores
// (see StoreIdentityFileName), so that the checkpoint is trusted only for
// those databases.
func (t *TaskDir) WriteCheckpoint(offsets Offsets) error {
	if err := t.recordSegments(); err != nil {
		return err
	}
	return WriteCheckpoint(t.CheckpointPath(), offsets)
}

// RemoveCheckpoint deletes the task's checkpoint file. Kafka Streams does
// this under exactly-once when a task starts processing, so that a crash
// cannot leave a checkpoint that is ahead of uncommitted store contents.
func (t *TaskDir) RemoveCheckpoint() error {
	err := os.Remove(t.CheckpointPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("changelog: remove checkpoint: %w", err)
	}
	return nil
}

// WipeStore deletes the directory of one store, so that it is rebuilt from
// its changelog. It does not touch the checkpoint file: the caller must
// also forget the store's checkpointed offset.
func (t *TaskDir) WipeStore(store string) error {
	if err := validName("store name", store); err != nil {
		return err
	}
	t.untrack(store)
	if err := os.RemoveAll(t.StorePath(store)); err != nil {
		return fmt.Errorf("changelog: wipe store %s: %w", store, err)
	}
	return nil
}

// Close releases the lock. The directory and its contents stay.
func (t *TaskDir) Close() error {
	if t.lock == nil {
		return nil
	}
	f := t.lock
	t.lock = nil
	// Closing the descriptor releases the flock.
	return f.Close()
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			return err
		}
	}
}

func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// validName rejects names that are not a single path element.
func validName(what, name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.ContainsRune(name, 0) {
		return fmt.Errorf("changelog: invalid %s %q", what, name)
	}
	return nil
}
