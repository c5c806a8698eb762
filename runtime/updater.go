package runtime

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/kafki/kafki/changelog"
)

// The state updater (Kafka Streams' StateUpdater) restores the stores of a
// stream thread's new active tasks on its own goroutine, so that the
// rebalance callbacks only do bookkeeping and return at once, and the
// thread keeps processing its running tasks meanwhile. A task's life:
//
//	Created (newActiveTask, in the callback: state directory locked, stores open)
//	  -> Restoring (queued here; restored one task at a time, in large batches)
//	  -> Running (handed back; the thread makes its topology task: startTask)
//	  -> Closed (revoked, lost or shut down; a restoring task is cancelled)
//
// Records fetched for a restoring task wait in its queues; backpressure
// pauses its partitions when they fill.

// restoring is a task handed to the state updater.
type restoring struct {
	t      *activeTask
	ctx    context.Context
	cancel context.CancelFunc
	// Set by the updater before it closes done.
	restored changelog.Offsets
	err      error
	done     chan struct{}
	// phase is guarded by stateUpdater.mu.
	phase int
}

const (
	phaseQueued = iota
	phaseRestoring
	phaseFinished
)

// stateUpdater is one stream thread's restoration goroutine and the
// queues between it and the thread.
type stateUpdater struct {
	th       *streamThread
	mu       sync.Mutex
	queue    []*restoring
	finished []*restoring
	stopped  bool
	wake     chan struct{}
}

func newStateUpdater(th *streamThread) *stateUpdater {
	return &stateUpdater{th: th, wake: make(chan struct{}, 1)}
}

// add queues the created tasks of one assignment for restoration, all at
// once so that the updater chooses among them (see next).
func (u *stateUpdater) add(ts []*activeTask) []*restoring {
	out := make([]*restoring, len(ts))
	u.mu.Lock()
	for i, t := range ts {
		ctx, cancel := context.WithCancel(context.Background())
		r := &restoring{t: t, ctx: ctx, cancel: cancel, done: make(chan struct{})}
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
	select {
	case u.wake <- struct{}{}:
	default:
	}
	return out
}

// takeFinished returns the tasks restored (or failed) since the last call.
func (u *stateUpdater) takeFinished() []*restoring {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.finished
	u.finished = nil
	return out
}

// remove takes a task away from the updater, cancelling its restoration
// and waiting until the updater lets go of it.
func (u *stateUpdater) remove(r *restoring) {
	u.mu.Lock()
	switch r.phase {
	case phaseQueued:
		i := indexOf(u.queue, r)
		u.queue = append(u.queue[:i], u.queue[i+1:]...)
		r.phase, r.err = phaseFinished, context.Canceled
		close(r.done)
	case phaseFinished:
		if i := indexOf(u.finished, r); i >= 0 {
			u.finished = append(u.finished[:i], u.finished[i+1:]...)
		}
	}
	u.mu.Unlock()
	r.cancel()
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

// run restores queued tasks, one at a time, until ctx ends; then it
// cancels what is left.
func (u *stateUpdater) run(ctx context.Context) {
	defer func() {
		u.mu.Lock()
		u.stopped = true
		for _, r := range u.queue {
			r.phase, r.err = phaseFinished, context.Canceled
			close(r.done)
			u.finished = append(u.finished, r)
		}
		u.queue = nil
		u.mu.Unlock()
	}()
	for {
		r := u.next(ctx)
		if r == nil {
			select {
			case <-ctx.Done():
				return
			case <-u.wake:
			}
			continue
		}
		stop := context.AfterFunc(ctx, r.cancel)
		t := r.t
		if t.dir != nil {
			r.restored, r.err = u.th.restore(r.ctx, t.id, t.dir, t.stores, false)
		}
		stop()
		u.mu.Lock()
		r.phase = phaseFinished
		u.finished = append(u.finished, r)
		u.mu.Unlock()
		close(r.done)
	}
}

// next takes the queued task with the fewest changelog records to
// restore, so that tasks with little or nothing to restore start at once
// instead of waiting behind a large restoration (Kafka Streams restores
// all its tasks together; one at a time, smallest first, comes close).
func (u *stateUpdater) next(ctx context.Context) *restoring {
	u.mu.Lock()
	queue := slices.Clone(u.queue)
	u.mu.Unlock()
	if len(queue) == 0 {
		return nil
	}
	var pick *restoring
	if len(queue) > 1 {
		lag := u.lags(ctx, queue)
		for _, r := range queue {
			if l, ok := lag[r]; ok && (pick == nil || l < lag[pick]) {
				pick = r
			}
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if pick == nil || indexOf(u.queue, pick) < 0 {
		if len(u.queue) == 0 {
			return nil
		}
		pick = u.queue[0]
	}
	i := indexOf(u.queue, pick)
	u.queue = append(u.queue[:i], u.queue[i+1:]...)
	pick.phase = phaseRestoring
	return pick
}

// lags estimates the records each queued task has to restore: from its
// checkpoint (or the beginning) to the end of its changelogs.
func (u *stateUpdater) lags(ctx context.Context, queue []*restoring) map[*restoring]int64 {
	var tps []changelog.TopicPartition
	for _, r := range queue {
		for _, s := range r.t.stores {
			if s.spec.Logging {
				tps = append(tps, s.logTP)
			}
		}
	}
	out := map[*restoring]int64{}
	if len(tps) == 0 {
		return out
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ends, err := u.th.restorer.EndOffsets(lctx, tps...)
	if err != nil {
		return out // restore in arrival order
	}
	for _, r := range queue {
		var cp changelog.Offsets
		if r.t.dir != nil {
			cp = r.t.dir.ReadCheckpoint()
		}
		var lag int64
		for _, s := range r.t.stores {
			if !s.spec.Logging {
				continue
			}
			start := int64(0)
			if s.trusted {
				start = cp[s.logTP]
			}
			lag += max(ends[s.logTP]-start, 0)
		}
		out[r] = lag
	}
	return out
}

// adoptRestored starts the tasks the updater finished and makes them
// running. Called on the thread's goroutine with th.mu held.
func (th *streamThread) adoptRestored() {
	rs := th.updater.takeFinished()
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
