package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kafki/kafki/changelog"
)

// The state updater (Kafka Streams' StateUpdater) restores the stores of a
// stream thread's new active tasks and keeps its standby tasks up to date,
// on its own goroutine with one long-lived restore consumer
// (changelog.RestoreConsumer), so that the rebalance callbacks only do
// bookkeeping and return at once, and the thread keeps processing its
// running tasks meanwhile. A task's life:
//
//	Created (newActiveTask, in the callback: state directory locked, stores open)
//	  -> Restoring (handed here; every restoring task's changelog partitions
//	     are assigned to the restore consumer at once and read together, in
//	     large batches written with batched store writes)
//	  -> Running (handed back; the thread makes its topology task: startTask)
//	  -> Closed (revoked, lost or shut down; a restoring task is cancelled)
//
// A standby task is created the same way (newStandby) and then owned by
// the updater until it is closed: the restore consumer follows its
// changelog partitions, and the updater applies and checkpoints them.
// Records fetched for a restoring task wait in its queues; backpressure
// pauses its partitions when they fill.

// restoring is a task handed to the state updater.
type restoring struct {
	t *activeTask
	// Set by the updater before it closes done.
	restored changelog.Offsets
	err      error
	done     chan struct{}
	// phase is guarded by stateUpdater.mu.
	phase int
	// rs, resets and the retry state belong to the updater goroutine.
	rs     *changelog.Restoration
	resets int
	// A restoration that failed with a retriable error (the broker is
	// unreachable) is started again at retryAt, until restoreRetryTimeout
	// has passed since failingSince.
	retryAt      time.Time
	failingSince time.Time
	backoff      time.Duration
}

const (
	phaseQueued = iota
	phaseRestoring
	phaseFinished
)

// standbyRemoval asks the updater to let go of a standby.
type standbyRemoval struct {
	s    *standbyTask
	done chan error
}

// updaterPoll bounds how long the updater waits in a poll, hence how long
// a callback that takes a task back from it waits.
const updaterPoll = 100 * time.Millisecond

// restoreRetryTimeout is how long a restoration keeps retrying retriable
// errors (a broker outage) before the task fails: Kafka Streams'
// task.timeout.ms default.
const restoreRetryTimeout = 5 * time.Minute

// stateUpdater is one stream thread's restoration goroutine and the
// queues between it and the thread.
type stateUpdater struct {
	th *streamThread

	mu       sync.Mutex
	queue    []*restoring
	cancels  []*restoring
	finished []*restoring
	addSB    []*standbyTask
	removeSB []standbyRemoval
	fatal    error
	stopped  bool
	wake     chan struct{}

	// Owned by the updater goroutine.
	cons      *changelog.RestoreConsumer
	active    map[*changelog.Restoration]*restoring
	standbys  map[*standbyTask]bool
	followers map[changelog.TopicPartition]*standbyTask
	taskOf    map[changelog.TopicPartition]string // for the restore metrics
	lastCP    time.Time
	retrying  []*restoring // waiting to start again after a retriable error
}

func newStateUpdater(th *streamThread) *stateUpdater {
	return &stateUpdater{th: th, wake: make(chan struct{}, 1),
		active: map[*changelog.Restoration]*restoring{}, standbys: map[*standbyTask]bool{},
		followers: map[changelog.TopicPartition]*standbyTask{}, taskOf: map[changelog.TopicPartition]string{},
		lastCP: time.Now()}
}

func (u *stateUpdater) poke() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// add hands the created tasks of one assignment to the updater.
func (u *stateUpdater) add(ts []*activeTask) []*restoring {
	out := make([]*restoring, len(ts))
	u.mu.Lock()
	for i, t := range ts {
		r := &restoring{t: t, done: make(chan struct{})}
		if u.stopped {
			r.phase, r.err = phaseFinished, context.Canceled
			close(r.done)
			u.finished = append(u.finished, r)
		} else {
			u.queue = append(u.queue, r)
		}
		out[i] = r
	}
	u.mu.Unlock()
	u.poke()
	return out
}

// takeFinished returns the tasks restored (or failed) since the last call,
// and the error that stopped a standby, if any.
func (u *stateUpdater) takeFinished() ([]*restoring, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	out, err := u.finished, u.fatal
	u.finished, u.fatal = nil, nil
	return out, err
}

// remove takes a task away from the updater, cancelling its restoration
// and waiting until the updater lets go of it.
func (u *stateUpdater) remove(r *restoring) {
	u.mu.Lock()
	switch {
	case r.phase == phaseQueued:
		i := indexOf(u.queue, r)
		u.queue = append(u.queue[:i], u.queue[i+1:]...)
		r.phase, r.err = phaseFinished, context.Canceled
		close(r.done)
	case r.phase == phaseRestoring && !u.stopped:
		u.cancels = append(u.cancels, r)
	}
	u.mu.Unlock()
	u.poke()
	<-r.done
	u.mu.Lock()
	if i := indexOf(u.finished, r); i >= 0 {
		u.finished = append(u.finished[:i], u.finished[i+1:]...)
	}
	u.mu.Unlock()
}

func indexOf(rs []*restoring, r *restoring) int {
	for i, x := range rs {
		if x == r {
			return i
		}
	}
	return -1
}

// addStandby hands a created standby to the updater.
func (u *stateUpdater) addStandby(s *standbyTask) {
	u.mu.Lock()
	if !u.stopped {
		u.addSB = append(u.addSB, s)
	}
	u.mu.Unlock()
	u.poke()
}

// removeStandby takes a standby back from the updater, checkpointed.
func (u *stateUpdater) removeStandby(s *standbyTask) error {
	u.mu.Lock()
	if u.stopped {
		u.mu.Unlock()
		return s.checkpoint()
	}
	if i := slices.Index(u.addSB, s); i >= 0 {
		u.addSB = slices.Delete(u.addSB, i, i+1)
		u.mu.Unlock()
		return s.checkpoint()
	}
	done := make(chan error, 1)
	u.removeSB = append(u.removeSB, standbyRemoval{s: s, done: done})
	u.mu.Unlock()
	u.poke()
	return <-done
}

// run restores tasks and updates standbys until ctx ends; then it cancels
// what is left.
func (u *stateUpdater) run(ctx context.Context) {
	defer u.stop()
	for ctx.Err() == nil {
		u.handleRequests(ctx)
		u.startDueRetries(ctx)
		if !u.cons.Busy() {
			var retry <-chan time.Time
			var timer *time.Timer
			if next, ok := u.nextRetry(); ok {
				timer = time.NewTimer(time.Until(next))
				retry = timer.C
			}
			select {
			case <-ctx.Done():
			case <-u.wake:
			case <-retry:
			}
			if timer != nil {
				timer.Stop()
			}
			continue
		}
		done, ferrs, err := u.cons.Poll(ctx, updaterPoll)
		if err != nil {
			return
		}
		for _, rs := range done {
			if r := u.active[rs]; r != nil {
				delete(u.active, rs)
				u.restorationDone(ctx, r, rs)
			}
		}
		for _, fe := range ferrs {
			u.followFailed(fe)
		}
		if time.Since(u.lastCP) >= u.th.app.cfg.commitInterval {
			u.checkpointStandbys()
		}
	}
}

// handleRequests applies what the thread asked for since the last poll.
func (u *stateUpdater) handleRequests(ctx context.Context) {
	u.mu.Lock()
	queue, cancels, addSB, removeSB := u.queue, u.cancels, u.addSB, u.removeSB
	u.queue, u.cancels, u.addSB, u.removeSB = nil, nil, nil, nil
	for _, r := range queue {
		r.phase = phaseRestoring
	}
	u.mu.Unlock()
	for _, r := range cancels {
		if r.rs != nil {
			u.cons.Cancel(r.rs)
			delete(u.active, r.rs)
		}
		if i := indexOf(u.retrying, r); i >= 0 {
			u.retrying = slices.Delete(u.retrying, i, i+1)
		}
		u.finish(r, nil, context.Canceled)
	}
	for _, rm := range removeSB {
		rm.done <- u.dropStandby(rm.s)
	}
	for _, s := range addSB {
		u.followStandby(s)
	}
	for _, r := range queue {
		u.start(ctx, r)
	}
}

// start starts restoring a task's stores from their checkpoint (or the
// beginning). A store whose checkpoint is outside its changelog (records
// deleted by retention or DeleteRecords, a re-created topic) is wiped and
// restored from the beginning, as Kafka Streams does for a corrupted task:
// restoring from the log start over stale content would keep keys the
// changelog no longer has.
func (u *stateUpdater) start(ctx context.Context, r *restoring) {
	t := r.t
	if t.dir == nil {
		u.finish(r, changelog.Offsets{}, nil)
		return
	}
	cp := t.dir.ReadCheckpoint()
	for {
		jobs, err := restoreJobs(t.stores, cp)
		if err != nil {
			u.finish(r, nil, fmt.Errorf("task %s: %w", t.id, err))
			return
		}
		for _, j := range jobs {
			u.taskOf[j.Partition] = t.id.String()
		}
		rs, err := u.cons.Restore(ctx, jobs)
		if err != nil {
			if u.reset(r, err) {
				continue
			}
			if u.retryLater(r, err) {
				return
			}
			u.finish(r, nil, fmt.Errorf("task %s: restore: %w", t.id, err))
			return
		}
		r.rs, r.failingSince = rs, time.Time{}
		if rs.Done() {
			u.restorationDone(ctx, r, rs)
			return
		}
		u.active[rs] = r
		return
	}
}

// reset wipes the store an out-of-range error names, so that it is
// restored from the beginning, and reports whether it did.
func (u *stateUpdater) reset(r *restoring, err error) bool {
	var oor *changelog.OffsetOutOfRangeError
	t := r.t
	if !errors.As(err, &oor) || r.resets >= len(t.stores) {
		return false
	}
	i := slices.IndexFunc(t.stores, func(s *openedStore) bool { return s.spec.Name == oor.Store })
	if i < 0 {
		return false
	}
	r.resets++
	u.th.logger.Warn("checkpoint outside the changelog; wiping the store and restoring it from the beginning",
		"task", t.id.String(), "store", oor.Store, "err", err)
	if rerr := resetStore(t.dir, t.stores[i]); rerr != nil {
		u.th.logger.Warn("reset store", "task", t.id.String(), "err", rerr)
		return false
	}
	u.th.app.metrics.storeResets.Add(1)
	return true
}

// retryLater schedules a restoration that failed with a retriable error
// (the broker or the changelog's leader is unreachable) to start again
// from the task's checkpoint, with backoff, as Kafka Streams' state
// updater retries timeouts until task.timeout.ms. It reports false when
// err is not retriable or the task has been failing for too long.
func (u *stateUpdater) retryLater(r *restoring, err error) bool {
	now := time.Now()
	if !isRetriable(err) || errors.Is(err, context.Canceled) {
		return false
	}
	if r.failingSince.IsZero() {
		r.failingSince, r.backoff = now, 100*time.Millisecond
	} else if now.Sub(r.failingSince) >= restoreRetryTimeout {
		return false
	}
	u.th.logger.Warn("restore failed with a retriable error; retrying", "task", r.t.id.String(),
		"in", r.backoff, "failing_for", now.Sub(r.failingSince).Round(time.Millisecond), "err", err)
	r.rs, r.retryAt = nil, now.Add(r.backoff)
	r.backoff = min(2*r.backoff, 5*time.Second)
	u.retrying = append(u.retrying, r)
	return true
}

// startDueRetries starts again the restorations whose retry time came.
func (u *stateUpdater) startDueRetries(ctx context.Context) {
	now := time.Now()
	var due []*restoring
	u.retrying = slices.DeleteFunc(u.retrying, func(r *restoring) bool {
		if now.Before(r.retryAt) {
			return false
		}
		due = append(due, r)
		return true
	})
	for _, r := range due {
		u.start(ctx, r)
	}
}

// nextRetry returns the earliest retry time, if any restoration waits.
func (u *stateUpdater) nextRetry() (time.Time, bool) {
	var next time.Time
	for _, r := range u.retrying {
		if next.IsZero() || r.retryAt.Before(next) {
			next = r.retryAt
		}
	}
	return next, !next.IsZero()
}

// restorationDone hands a finished restoration's task back to the thread,
// or restarts it when a store had to be reset.
func (u *stateUpdater) restorationDone(ctx context.Context, r *restoring, rs *changelog.Restoration) {
	if rs.Err != nil {
		if u.reset(r, rs.Err) {
			u.start(ctx, r)
			return
		}
		if u.retryLater(r, rs.Err) {
			return
		}
		u.finish(r, nil, fmt.Errorf("task %s: restore: %w", r.t.id, rs.Err))
		return
	}
	out := changelog.Offsets{}
	for i, j := range rs.Jobs {
		out[j.Partition] = rs.Results[i].Next
	}
	u.finish(r, out, nil)
}

func (u *stateUpdater) finish(r *restoring, restored changelog.Offsets, err error) {
	u.mu.Lock()
	if r.phase == phaseFinished {
		u.mu.Unlock()
		return
	}
	r.phase, r.restored, r.err = phaseFinished, restored, err
	u.finished = append(u.finished, r)
	u.mu.Unlock()
	close(r.done)
}

// stop cancels what is left when the updater ends.
func (u *stateUpdater) stop() {
	u.mu.Lock()
	u.stopped = true
	pending := append(u.queue, u.cancels...)
	removeSB := u.removeSB
	u.queue, u.cancels, u.addSB, u.removeSB = nil, nil, nil, nil
	u.mu.Unlock()
	for rs, r := range u.active {
		u.cons.Cancel(rs)
		pending = append(pending, r)
	}
	clear(u.active)
	pending = append(pending, u.retrying...)
	u.retrying = nil
	for _, r := range pending {
		u.finish(r, nil, context.Canceled)
	}
	for _, rm := range removeSB {
		rm.done <- u.dropStandby(rm.s)
	}
}

// adoptRestored starts the tasks the updater finished and makes them
// running. Called on the thread's goroutine with th.mu held.
func (th *streamThread) adoptRestored() {
	rs, err := th.updater.takeFinished()
	if err != nil && th.fatal == nil {
		th.fatal = err
	}
	if len(rs) == 0 {
		return
	}
	for _, r := range rs {
		t := r.t
		if th.restoring[t.id] != r {
			continue // closed meanwhile
		}
		delete(th.restoring, t.id)
		if r.err != nil {
			if !errors.Is(r.err, context.Canceled) && th.fatal == nil {
				th.fatal = r.err
			}
			th.dropTask(t, false)
			continue
		}
		t.restored = r.restored
		if err := th.startTask(t); err != nil {
			if th.fatal == nil {
				th.fatal = err
			}
			th.dropTask(t, false)
			continue
		}
		th.addTask(t)
	}
	th.publish()
	if len(th.restoring) == 0 && !th.assigned.Load() && th.fatal == nil {
		th.assigned.Store(true)
		th.app.updateState()
	}
}

// closeAnyTask closes an active task, running or restoring.
func (th *streamThread) closeAnyTask(t *activeTask, clean bool) {
	if r := th.restoring[t.id]; r != nil && r.t == t {
		th.updater.remove(r)
		delete(th.restoring, t.id)
		th.dropTask(t, false)
		return
	}
	th.closeTask(t, clean)
}

// dropTask closes a task that never ran (restoring, or failed to start).
func (th *streamThread) dropTask(t *activeTask, clean bool) {
	th.resumeAll(t)
	if err := t.close(clean); err != nil {
		th.logger.Warn("closing task", "task", t.id.String(), "err", err)
	}
	for _, q := range t.queues {
		if th.byTP[tp{q.topic, q.partition}] == t {
			delete(th.byTP, tp{q.topic, q.partition})
		}
	}
	th.publish()
}

// OnRestoreStart implements changelog.RestoreListener for metrics.
func (th *streamThread) OnRestoreStart(store string, p changelog.TopicPartition, start, end int64) {
	// Called on the state updater's goroutine, which owns taskOf.
	th.app.metrics.restore(RestoreProgress{Task: th.updater.taskOf[p], Store: store, Topic: p.Topic,
		Partition: p.Partition, Start: start, Position: start, End: end})
	if l := th.app.cfg.restoreListener; l != nil {
		l.OnRestoreStart(store, p, start, end)
	}
}

// OnBatchRestored implements changelog.RestoreListener.
func (th *streamThread) OnBatchRestored(store string, p changelog.TopicPartition, last int64, n int) {
	th.app.metrics.mu.Lock()
	if r := th.app.metrics.restores[tp{p.Topic, p.Partition}]; r != nil {
		r.Restored += int64(n)
		r.Position = last + 1
	}
	th.app.metrics.mu.Unlock()
	if l := th.app.cfg.restoreListener; l != nil {
		l.OnBatchRestored(store, p, last, n)
	}
}

// OnRestoreEnd implements changelog.RestoreListener.
func (th *streamThread) OnRestoreEnd(store string, p changelog.TopicPartition, total int64) {
	th.app.metrics.mu.Lock()
	if r := th.app.metrics.restores[tp{p.Topic, p.Partition}]; r != nil {
		r.Restored, r.Done, r.Position = total, true, r.End
	}
	th.app.metrics.mu.Unlock()
	if l := th.app.cfg.restoreListener; l != nil {
		l.OnRestoreEnd(store, p, total)
	}
}
