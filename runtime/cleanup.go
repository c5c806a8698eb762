package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kafki/kafki/changelog"
)

// ErrAppRunning is returned by CleanUp while the instance runs.
var ErrAppRunning = errors.New("runtime: the application instance is running")

// startCleaner starts the goroutine that deletes the state of tasks this
// instance no longer has (Kafka Streams' state.cleanup.delay.ms): a task
// directory nobody has locked and that nothing touched for the cleanup
// delay is removed. A task that comes back later restores from its
// changelog. Called by Start with mu held.
func (a *App) startCleaner() {
	if a.cfg.cleanupDelay <= 0 {
		return
	}
	a.cleanerStop = make(chan struct{})
	a.cleanerDone = make(chan struct{})
	// Checking twice per delay keeps a directory at most 1.5 delays past
	// its last use, at the cost of a directory listing.
	every := max(a.cfg.cleanupDelay/2, 10*time.Millisecond)
	go func() {
		defer close(a.cleanerDone)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-a.cleanerStop:
				return
			case <-tick.C:
				a.cleanRemovedTasks(time.Now().Add(-a.cfg.cleanupDelay))
			}
		}
	}()
}

// stopCleaner stops the cleaner goroutine and waits for it.
func (a *App) stopCleaner() {
	if a.cleanerStop == nil {
		return
	}
	close(a.cleanerStop)
	<-a.cleanerDone
}

// cleanRemovedTasks removes the task directories last modified before
// cutoff that no thread of this process (and no other process) has locked.
// A directory's modification time moves whenever its checkpoint is
// rewritten or a store directory created, so a task in use is never
// old; the lock protects the rest.
func (a *App) cleanRemovedTasks(cutoff time.Time) {
	ids, err := a.stateDir.TaskIDs()
	if err != nil {
		a.cfg.logger.Warn("state cleanup: list task directories", "err", err)
		return
	}
	for _, id := range ids {
		fi, err := os.Stat(filepath.Join(a.stateDir.Path(), id))
		if err != nil || fi.ModTime().After(cutoff) {
			continue
		}
		if !a.taskDirUnused(id) {
			continue
		}
		switch err := a.stateDir.RemoveTask(id); {
		case err == nil:
			a.cfg.logger.Info("state cleanup: removed the directory of a task no longer assigned here", "task", id,
				"last_modified", fi.ModTime())
			a.metrics.cleanedTasks.Add(1)
		case errors.Is(err, changelog.ErrStateDirLocked):
			// In use: a task or standby opened it since the check.
		default:
			a.cfg.logger.Warn("state cleanup: remove task directory", "task", id, "err", err)
		}
	}
}

// taskDirUnused reports whether no thread of this instance has task id as
// an active task or a standby now (its lock says the same, but a task
// closed and reopened between two steps of a rebalance is better left
// alone).
func (a *App) taskDirUnused(id string) bool {
	for _, th := range a.threadList() {
		m := th.meta.Load()
		if m == nil {
			continue
		}
		for _, t := range m.Active {
			if t.String() == id {
				return false
			}
		}
		for _, t := range m.Standby {
			if t.String() == id {
				return false
			}
		}
	}
	return true
}

// CleanUp deletes the local state of the application (Kafka Streams'
// KafkaStreams.cleanUp): every task directory under
// <StateDir>/<application id>, so that the next start restores every store
// from its changelog. It may be called before Start or after the instance
// stopped; while it runs it returns ErrAppRunning. A task directory locked
// by another process (another instance on the same state directory) makes
// it fail with an error wrapping changelog.ErrStateDirLocked.
func (a *App) CleanUp() error {
	a.mu.Lock()
	running := a.started && !isDone(a.done)
	a.mu.Unlock()
	if running {
		return ErrAppRunning
	}
	dir := filepath.Join(a.cfg.stateDir, a.appID)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	sd, err := changelog.OpenStateDir(a.cfg.stateDir, a.appID, changelog.WithLogger(a.cfg.logger))
	if err != nil {
		return fmt.Errorf("runtime: clean up: %w", err)
	}
	// Not under a running instance of the same application.
	if err := sd.Lock(); err != nil {
		return fmt.Errorf("runtime: clean up: %w", err)
	}
	defer sd.Unlock()
	ids, err := sd.TaskIDs()
	if err != nil {
		return fmt.Errorf("runtime: clean up: %w", err)
	}
	for _, id := range ids {
		if err := sd.RemoveTask(id); err != nil {
			return fmt.Errorf("runtime: clean up task %s: %w", id, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("runtime: clean up: %w", err)
	}
	return nil
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
