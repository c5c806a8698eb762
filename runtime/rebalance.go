package runtime

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The rebalance callbacks of a stream thread's group client. They only do
// bookkeeping: new tasks are created and handed to the state updater,
// which restores them off the callbacks (updater.go).

// onAssigned makes the thread's tasks match its new assignment: it closes
// standbys that went away (including those promoted to active), creates and
// restores new active tasks, and opens new standbys.
func (th *streamThread) onAssigned(ctx context.Context, _ *kgo.Client, _ map[string][]int32) {
	if !th.waitReady() {
		return
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	a := th.bal.lastAssignment()
	th.app.metrics.rebalances.Add(1)
	if a.Shutdown {
		th.sawShutdown.Store(true)
		if th.fatal == nil {
			th.fatal = ErrApplicationShutdown
		}
		return
	}
	if th.failed.Load() || th.fatal != nil {
		return
	}
	th.logger.Info("assigned", "active", taskStrings(a.Active), "standby", taskStrings(a.Standby))
	for id, t := range th.tasks {
		if !slices.Contains(a.Active, id) {
			// Not revoked first (an eager client revokes everything, a
			// cooperative one what it lost): commit before letting go.
			if err := th.commitAll(ctx); err != nil {
				if th.eos() {
					th.fatal = th.eosCommitFailed(ctx, err)
					return
				}
				th.logger.Warn("commit before closing task", "task", id.String(), "err", err)
				th.closeTask(t, false)
				continue
			}
			th.closeTask(t, true)
		}
	}
	for id, r := range th.restoring {
		if !slices.Contains(a.Active, id) {
			th.closeAnyTask(r.t, false)
		}
	}
	for id, s := range th.standbys {
		if !slices.Contains(a.Standby, id) {
			if err := th.closeStandby(s); err != nil {
				th.logger.Warn("closing standby", "task", id.String(), "err", err)
			}
		}
	}
	if err := th.eosCommitBeforeRestore(ctx, a.Active); err != nil {
		th.fatal = err
		return
	}
	// New tasks go to the state updater; the callback returns without
	// restoring anything (updater.go).
	var created []*activeTask
	for _, id := range a.Active {
		if _, ok := th.tasks[id]; ok || th.restoring[id] != nil {
			continue
		}
		t, err := th.newActiveTask(ctx, id)
		if err != nil {
			th.fatal = err
			break
		}
		for _, q := range t.queues {
			th.byTP[tp{q.topic, q.partition}] = t
		}
		created = append(created, t)
	}
	for _, r := range th.updater.add(created) {
		th.restoring[r.t.id] = r
	}
	th.publish()
	if th.fatal != nil {
		return
	}
	for _, id := range a.Standby {
		if _, ok := th.standbys[id]; ok {
			continue
		}
		s, err := th.newStandby(ctx, id)
		if err != nil {
			th.fatal = err
			return
		}
		th.standbys[id] = s
		th.updater.addStandby(s)
		th.app.local.addTask(id, nil, s.stores, true)
		th.publish()
	}
	// Running (for the App's state) once nothing is left to restore.
	th.assigned.Store(len(th.restoring) == 0)
	th.app.updateState()
	if th.bal.takeFollowUp() {
		// The owners of the tasks held back revoke them and rejoin; the
		// leader rejoins too, a moment later, in case an owner's claim was
		// stale and nobody else would.
		time.AfterFunc(500*time.Millisecond, th.cl.ForceRebalance)
	}
}

// onRevoked commits everything and closes the tasks that lost partitions.
func (th *streamThread) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if !th.waitReady() {
		return
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	var affected []*activeTask
	for topic, ps := range revoked {
		for _, p := range ps {
			if t := th.byTP[tp{topic, p}]; t != nil && !slices.Contains(affected, t) {
				affected = append(affected, t)
			}
		}
	}
	if len(affected) == 0 {
		return
	}
	th.assigned.Store(false)
	th.app.updateState()
	clean := !th.failed.Load()
	if clean {
		if err := th.commitAll(ctx); err != nil {
			if th.eos() {
				th.fatal = th.eosCommitFailed(ctx, err)
				return
			}
			th.logger.Warn("commit on revocation failed; closing tasks without commit", "err", err)
			clean = false
		}
	}
	for _, t := range affected {
		th.closeAnyTask(t, clean)
	}
}

// onLost closes every task without committing: the group has moved on and
// another member may own the partitions already.
func (th *streamThread) onLost(ctx context.Context, _ *kgo.Client, _ map[string][]int32) {
	if !th.waitReady() {
		return
	}
	th.mu.Lock()
	defer th.mu.Unlock()
	th.assigned.Store(false)
	th.app.updateState()
	th.app.metrics.lost.Add(1)
	if err := th.eosAbort(ctx, errors.New("partitions lost")); err != nil && th.fatal == nil {
		th.fatal = taskMigrated(err)
	}
	for _, t := range th.tasks {
		th.closeTask(t, false)
	}
	for _, r := range th.restoring {
		th.closeAnyTask(r.t, false)
	}
}

// waitReady waits until the thread is built and reports false when it
// never will be (see abandoned).
func (th *streamThread) waitReady() bool {
	select {
	case <-th.ready:
		return true
	case <-th.abandoned:
		return false
	}
}
