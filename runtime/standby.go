package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kadm"
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

// newStandby opens the stores of task id without logging and subscribes the
// thread's standby consumer to their changelog partitions, from the
// checkpoint.
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
	consume := map[string]map[int32]kgo.Offset{}
	for _, st := range s.stores {
		if !st.spec.Logging {
			continue
		}
		r, err := changelog.NewRestorable(st.inner)
		if err != nil {
			return nil, fmt.Errorf("standby %s: %w", id, err)
		}
		s.byTP[st.logTP] = r
		off := kgo.NewOffset().AtStart()
		if start, ok := cp[st.logTP]; ok && st.trusted && start > 0 {
			off = kgo.NewOffset().At(start)
			s.next[st.logTP] = start
		}
		if consume[st.logTP.Topic] == nil {
			consume[st.logTP.Topic] = map[int32]kgo.Offset{}
		}
		consume[st.logTP.Topic][st.logTP.Partition] = off
		p := &RestoreProgress{Task: id.String(), Store: st.spec.Name, Topic: st.logTP.Topic, Partition: st.logTP.Partition,
			Start: s.next[st.logTP], Position: s.next[st.logTP], Standby: true}
		s.progress[st.logTP] = p
		th.app.metrics.restore(*p)
	}
	th.standbyCl.AddConsumePartitions(consume)
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
		if off, ok := cp[st.logTP]; ok && st.spec.Logging && st.trusted && off > 0 {
			check = append(check, st)
			topics = append(topics, st.logTP.Topic)
		}
	}
	if len(check) == 0 {
		return nil
	}
	adm := kadm.NewClient(th.standbyCl)
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

// standbyLoop applies the changelog records the standby consumer fetches,
// until ctx ends. It runs next to the thread's loop and takes the thread's
// lock only to apply a fetch.
func (th *streamThread) standbyLoop(ctx context.Context) {
	for ctx.Err() == nil {
		fetches := th.standbyCl.PollFetches(ctx)
		if fetches.IsClientClosed() {
			return
		}
		th.mu.Lock()
		if err := th.applyStandby(fetches); err != nil && th.fatal == nil {
			th.fatal = err
		}
		th.mu.Unlock()
	}
}

// applyStandby applies one fetch of the standby consumer.
func (th *streamThread) applyStandby(fetches kgo.Fetches) error {
	var ferr error
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.Canceled) {
			th.logger.Warn("standby fetch", "topic", topic, "partition", p, "err", err)
		}
	})
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if ferr != nil || len(p.Records) == 0 {
			return
		}
		tp := changelog.TopicPartition{Topic: p.Topic, Partition: p.Partition}
		s := th.standbyByTP[tp]
		if s == nil {
			return // closed since it was fetched
		}
		data := make([]*kgo.Record, 0, len(p.Records))
		for _, r := range p.Records {
			if !r.Attrs.IsControl() && r.Offset >= s.next[tp] {
				data = append(data, r)
			}
		}
		if err := s.byTP[tp].RestoreBatch(data); err != nil {
			ferr = fmt.Errorf("standby %s: apply %s: %w", s.id, tp, err)
			return
		}
		s.next[tp] = p.Records[len(p.Records)-1].Offset + 1
		s.counters.consumed.Add(int64(len(p.Records)))
		s.counters.processed.Add(int64(len(data)))
		pr := s.progress[tp]
		pr.Restored += int64(len(data))
		pr.Position = s.next[tp]
		pr.End = p.HighWatermark
		th.app.metrics.restore(*pr)
	})
	return ferr
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

// closeStandby checkpoints and closes a standby and stops consuming its
// changelogs.
func (th *streamThread) closeStandby(s *standbyTask) error {
	th.app.local.removeTask(s.id, true)
	err := s.checkpoint()
	remove := map[string][]int32{}
	for tp := range s.byTP {
		remove[tp.Topic] = append(remove[tp.Topic], tp.Partition)
		delete(th.standbyByTP, tp)
	}
	th.standbyCl.RemoveConsumePartitions(remove)
	for _, st := range s.stores {
		err = errors.Join(err, st.inner.Close())
	}
	err = errors.Join(err, s.dir.Close())
	delete(th.standbys, s.id)
	th.publish()
	return err
}
