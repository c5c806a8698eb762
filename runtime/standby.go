package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// standbyTask keeps a copy of an active task's stores on another instance
// by applying their changelogs as they grow. When the task moves here, the
// active task restores only what the standby has not applied yet.
type standbyTask struct {
	id       topology.TaskID
	dir      *changelog.TaskDir
	stores   []*openedStore
	byTP     map[changelog.TopicPartition]changelog.Restorable
	next     changelog.Offsets // next changelog offset to apply, per partition
	counters *taskCounters
	progress map[changelog.TopicPartition]*RestoreProgress
}

// newStandby opens the stores of task id without logging (Created); the
// state updater then follows their changelog partitions from the
// checkpoint (addStandby) until the standby is closed.
func (th *streamThread) newStandby(ctx context.Context, id topology.TaskID) (_ *standbyTask, err error) {
	sub, ok := th.app.subByID[id.SubTopology]
	if !ok {
		return nil, fmt.Errorf("standby %s: no sub-topology %d", id, id.SubTopology)
	}
	s := &standbyTask{id: id, byTP: map[changelog.TopicPartition]changelog.Restorable{}, next: changelog.Offsets{},
		counters: th.app.metrics.task(id.String()), progress: map[changelog.TopicPartition]*RestoreProgress{}}
	s.counters.standby.Store(true)
	if s.dir, err = lockTaskDir(ctx, th.app.stateDir, id, th.app.cfg.rebalanceTimeout/2); err != nil {
		return nil, fmt.Errorf("standby %s: lock state directory: %w", id, err)
	}
	defer func() {
		if err != nil {
			for _, st := range s.stores {
				st.inner.Close()
			}
			s.dir.Close()
		}
	}()
	if th.eos() {
		// The directory may hold a task closed dirty here: see eos.go.
		if err = eosPrepareTaskDir(s.dir, th.app.appID, id, sub.Stores); err != nil {
			return nil, fmt.Errorf("standby %s: %w", id, err)
		}
	}
	if s.stores, err = openStores(sub.Stores, th.app.appID, id, s.dir, nil, nil, nil); err != nil {
		return nil, fmt.Errorf("standby %s: %w", id, err)
	}
	cp := s.dir.ReadCheckpoint()
	if err = th.resetStaleStandbyStores(ctx, s, cp); err != nil {
		return nil, err
	}
	for _, st := range s.stores {
		if st.spec.LoggingDisabled {
			continue
		}
		r, err := changelog.NewRestorable(st.inner)
		if err != nil {
			return nil, fmt.Errorf("standby %s: %w", id, err)
		}
		s.byTP[st.logTP] = r
		if start, ok := cp[st.logTP]; ok && st.trusted && start > 0 {
			s.next[st.logTP] = start
		}
		p := &RestoreProgress{Task: id.String(), Store: st.spec.Name, Topic: st.logTP.Topic, Partition: st.logTP.Partition,
			Start: s.next[st.logTP], Position: s.next[st.logTP], Standby: true}
		s.progress[st.logTP] = p
		th.app.metrics.restore(*p)
	}
	return s, nil
}

// resetStaleStandbyStores wipes the standby stores whose checkpoint is
// outside their changelog (records deleted by retention or DeleteRecords
// while the instance was away, a re-created topic): applying the changelog
// from its start over their stale content would keep keys it no longer
// has. They then apply the changelog from the beginning, as active tasks
// do (streamThread.restore).
func (th *streamThread) resetStaleStandbyStores(ctx context.Context, s *standbyTask, cp changelog.Offsets) error {
	var check []*openedStore
	var topics []string
	for _, st := range s.stores {
		if off, ok := cp[st.logTP]; ok && !st.spec.LoggingDisabled && st.trusted && off > 0 {
			check = append(check, st)
			topics = append(topics, st.logTP.Topic)
		}
	}
	if len(check) == 0 {
		return nil
	}
	adm := th.restorer.Admin()
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("standby %s: list changelog start offsets: %w", s.id, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("standby %s: list changelog end offsets: %w", s.id, err)
	}
	for _, st := range check {
		start, sok := starts.Lookup(st.logTP.Topic, st.logTP.Partition)
		end, eok := ends.Lookup(st.logTP.Topic, st.logTP.Partition)
		if !sok || !eok || start.Err != nil || end.Err != nil {
			continue // unknown: the consumer finds out
		}
		if off := cp[st.logTP]; off >= start.Offset && off <= end.Offset {
			continue
		}
		th.logger.Warn("standby checkpoint outside the changelog; wiping the store and applying it from the beginning",
			"task", s.id.String(), "store", st.spec.Name, "checkpoint", cp[st.logTP], "start", start.Offset, "end", end.Offset)
		if err := resetStore(s.dir, st); err != nil {
			return fmt.Errorf("standby %s: %w", s.id, err)
		}
		delete(cp, st.logTP)
		th.app.metrics.storeResets.Add(1)
	}
	return nil
}

// followStandby makes the restore consumer follow a standby's changelog
// partitions. Runs on the updater goroutine, which owns the standby until
// dropStandby.
func (u *stateUpdater) followStandby(s *standbyTask) {
	u.standbys[s] = true
	for tp := range s.byTP {
		if err := u.cons.Follow(tp, s.next[tp], u.applyStandby(s, tp)); err != nil {
			u.setFatal(fmt.Errorf("standby %s: %w", s.id, err))
			continue
		}
		u.followers[tp] = s
	}
}

// applyStandby returns what applies the records of one standby changelog
// partition.
func (u *stateUpdater) applyStandby(s *standbyTask, tp changelog.TopicPartition) func([]*kgo.Record, int64, int64) error {
	return func(data []*kgo.Record, next, hwm int64) error {
		if len(data) > 0 {
			if err := s.byTP[tp].RestoreBatch(data); err != nil {
				return fmt.Errorf("standby %s: apply %s: %w", s.id, tp, err)
			}
		}
		s.counters.consumed.Add(next - s.next[tp])
		s.counters.processed.Add(int64(len(data)))
		s.next[tp] = next
		pr := s.progress[tp]
		pr.Restored += int64(len(data))
		pr.Position = next
		pr.End = hwm
		u.th.app.metrics.restore(*pr)
		return nil
	}
}

// followFailed handles a standby partition the restore consumer stopped
// following: one whose position left the changelog's range (records
// deleted by retention while it was behind) is followed again from the
// beginning, as the standby consumer's reset did; any other error stops
// the thread.
func (u *stateUpdater) followFailed(fe *changelog.FollowError) {
	s := u.followers[fe.Partition]
	delete(u.followers, fe.Partition)
	if s == nil {
		return
	}
	if errors.Is(fe.Err, changelog.ErrOffsetOutOfRange) {
		u.th.logger.Warn("standby changelog position out of range; applying the changelog from its start",
			"task", s.id.String(), "topic", fe.Partition.Topic, "partition", fe.Partition.Partition, "err", fe.Err)
		delete(s.next, fe.Partition)
		if err := u.cons.Follow(fe.Partition, 0, u.applyStandby(s, fe.Partition)); err == nil {
			u.followers[fe.Partition] = s
			return
		}
	}
	u.setFatal(fmt.Errorf("standby %s: %w", s.id, fe.Err))
}

func (u *stateUpdater) setFatal(err error) {
	u.mu.Lock()
	if u.fatal == nil {
		u.fatal = err
	}
	u.mu.Unlock()
}

// dropStandby stops following a standby's partitions and checkpoints it.
func (u *stateUpdater) dropStandby(s *standbyTask) error {
	var tps []changelog.TopicPartition
	for tp := range s.byTP {
		if u.followers[tp] == s {
			delete(u.followers, tp)
			tps = append(tps, tp)
		}
	}
	if u.cons != nil {
		u.cons.Unfollow(tps...)
	}
	delete(u.standbys, s)
	return s.checkpoint()
}

// checkpointStandbys records how far the standbys are, every commit
// interval, as the thread does for its active tasks.
func (u *stateUpdater) checkpointStandbys() {
	u.lastCP = time.Now()
	for s := range u.standbys {
		if err := s.checkpoint(); err != nil {
			u.setFatal(err)
			return
		}
	}
}

// checkpoint flushes the standby's stores and records how far they are.
func (s *standbyTask) checkpoint() error {
	for _, st := range s.stores {
		if err := st.inner.Flush(); err != nil {
			return fmt.Errorf("standby %s: flush %s: %w", s.id, st.spec.Name, err)
		}
	}
	cp := changelog.Offsets{}
	for _, st := range s.stores {
		if n, ok := s.next[st.logTP]; ok && st.persist {
			cp[st.logTP] = n
		}
	}
	return s.dir.WriteCheckpoint(cp)
}

// closeStandby takes a standby back from the state updater, checkpointed,
// and closes it.
func (th *streamThread) closeStandby(s *standbyTask) error {
	th.app.local.removeTask(s.id, true)
	err := th.updater.removeStandby(s)
	for _, st := range s.stores {
		err = errors.Join(err, st.inner.Close())
	}
	err = errors.Join(err, s.dir.Close())
	delete(th.standbys, s.id)
	th.publish()
	return err
}
