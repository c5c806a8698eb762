package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// globalTaskDir is the directory of the global stores under the
// application's state directory, as Kafka Streams' "global".
const globalTaskDir = "global"

// globalStore is one global store and the topic that fills it.
type globalStore struct {
	g          topology.GlobalStore
	store      state.Store
	r          changelog.Restorable
	partitions []int32
}

// globalState is Kafka Streams' global thread: it owns the global stores
// (GlobalKTables), bootstraps them from all partitions of their topics
// before any task runs, then keeps tailing the topics in its own goroutine.
// The topic itself is the store's changelog: there is no consumer group,
// and progress is kept in the checkpoint file of the global directory.
//
// Task threads read the stores while the goroutine writes them: the
// engines (state's in-memory B-tree and RocksDB) are safe for that, each
// guarding itself with a read-write lock.
type globalState struct {
	app    *App
	logger *slog.Logger
	dir    *changelog.TaskDir
	stores []*globalStore
	// byTopic maps a global topic to its store.
	byTopic map[string]*globalStore
	// next is the next offset to apply, per partition of every topic.
	next   changelog.Offsets
	cl     *kgo.Client
	done   chan struct{}
	lastCP time.Time
	// restored counts records applied by the bootstrap, for tests and logs.
	restored atomic.Int64
	// applied counts records applied after the bootstrap.
	applied atomic.Int64
}

// globalRestorable applies a global topic's records to its store. Records
// without a key cannot be stored and are skipped, as Kafka Streams' global
// table source drops them.
type globalRestorable struct{ changelog.Restorable }

func (r globalRestorable) RestoreBatch(records []*kgo.Record) error {
	keep := records[:0:0]
	for i, rec := range records {
		if rec.Key == nil {
			if keep == nil {
				keep = append(make([]*kgo.Record, 0, len(records)), records[:i]...)
			}
			continue
		}
		if keep != nil {
			keep = append(keep, rec)
		}
	}
	if keep == nil {
		keep = records
	}
	if len(keep) == 0 {
		return nil
	}
	return r.Restorable.RestoreBatch(keep)
}

// startGlobal opens the global stores, bootstraps them to the end of their
// topics and starts the goroutine that keeps them up to date. It returns
// nil when the topology has no global stores.
func (a *App) startGlobal(ctx context.Context) (_ *globalState, err error) {
	specs := a.topo.GlobalStores()
	if len(specs) == 0 {
		return nil, nil
	}
	gs := &globalState{app: a, logger: a.cfg.logger.With("thread", "global"), byTopic: map[string]*globalStore{},
		next: changelog.Offsets{}, done: make(chan struct{})}
	if gs.dir, err = a.stateDir.LockTask(globalTaskDir); err != nil {
		return nil, fmt.Errorf("global stores: lock state directory: %w", err)
	}
	defer func() {
		if err != nil {
			gs.closeStores()
		}
	}()
	copts := append([]kgo.Opt{kgo.SeedBrokers(a.cfg.brokers...)}, a.cfg.clientOpts...)
	if err := gs.open(ctx, specs, copts); err != nil {
		return nil, err
	}
	if err := gs.bootstrap(ctx, copts); err != nil {
		return nil, err
	}
	consume := map[string]map[int32]kgo.Offset{}
	for tp, off := range gs.next {
		if consume[tp.Topic] == nil {
			consume[tp.Topic] = map[int32]kgo.Offset{}
		}
		consume[tp.Topic][tp.Partition] = kgo.NewOffset().At(off)
	}
	opts := []kgo.Opt{kgo.ConsumePartitions(consume), kgo.ClientID(a.appID + "-" + a.processID + "-GlobalStreamThread")}
	if a.cfg.guarantee == ExactlyOnceV2 {
		// As the stream threads: only committed records of transactional
		// producers, never aborted ones.
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	opts = append(opts, copts...)
	if gs.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("global stores: consumer: %w", err)
	}
	gs.lastCP = time.Now()
	return gs, nil
}

// open opens every global store and finds the partitions of its topic.
func (gs *globalState) open(ctx context.Context, specs []topology.GlobalStore, copts []kgo.Opt) error {
	cl, err := kgo.NewClient(copts...)
	if err != nil {
		return fmt.Errorf("global stores: admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cp := gs.dir.ReadCheckpoint()
	for _, g := range specs {
		ends, err := adm.ListEndOffsets(ctx, g.Topic)
		if err != nil {
			return fmt.Errorf("global store %s: list offsets of %s: %w", g.Spec.Name, g.Topic, err)
		}
		if err := ends.Error(); err != nil || len(ends[g.Topic]) == 0 {
			return fmt.Errorf("global store %s: %w: %s (%v)", g.Spec.Name, ErrMissingSourceTopics, g.Topic, err)
		}
		st, trusted, err := changelog.OpenStore(gs.dir, g.Spec, changelog.StoreOptions{})
		if err != nil {
			return fmt.Errorf("global store %s: %w", g.Spec.Name, err)
		}
		r, err := changelog.NewRestorable(st)
		if err != nil {
			st.Close()
			return fmt.Errorf("global store %s: %w", g.Spec.Name, err)
		}
		s := &globalStore{g: g, store: st, r: globalRestorable{r}}
		gs.stores = append(gs.stores, s)
		gs.byTopic[g.Topic] = s
		for p := range ends[g.Topic] {
			s.partitions = append(s.partitions, p)
		}
		sort.Slice(s.partitions, func(i, j int) bool { return s.partitions[i] < s.partitions[j] })
		for _, p := range s.partitions {
			tp := changelog.TopicPartition{Topic: g.Topic, Partition: p}
			if off, ok := cp[tp]; ok && trusted && st.Persistent() {
				gs.next[tp] = off
			} else {
				gs.next[tp] = 0
			}
		}
		if !trusted {
			// The store starts empty: its old offsets must not survive a
			// crash during the bootstrap.
			if err := gs.forget(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// forget drops the checkpoint entries of a store's topic.
func (gs *globalState) forget(s *globalStore) error {
	cp := gs.dir.ReadCheckpoint()
	n := len(cp)
	for tp := range cp {
		if tp.Topic == s.g.Topic {
			delete(cp, tp)
		}
	}
	if len(cp) == n {
		return nil
	}
	if err := gs.dir.WriteCheckpoint(cp); err != nil {
		return fmt.Errorf("global store %s: checkpoint: %w", s.g.Spec.Name, err)
	}
	return nil
}

// bootstrap reads every global topic from the checkpoint to its end. A
// checkpoint no longer in the topic (retention, deleted records) wipes that
// store and reads its topic from the beginning.
func (gs *globalState) bootstrap(ctx context.Context, copts []kgo.Opt) error {
	// The user's restore listener hears about global stores too, as Kafka
	// Streams' global thread calls its global state restore listener.
	restorer, err := changelog.NewRestorer(changelog.RestorerConfig{ClientOpts: copts, Logger: gs.logger,
		ReadCommitted: gs.app.cfg.guarantee == ExactlyOnceV2, Listener: gs.app.cfg.restoreListener})
	if err != nil {
		return fmt.Errorf("global stores: %w", err)
	}
	defer restorer.Close()
	for attempt := 0; ; attempt++ {
		var jobs []changelog.Job
		for _, s := range gs.stores {
			for _, p := range s.partitions {
				tp := changelog.TopicPartition{Topic: s.g.Topic, Partition: p}
				jobs = append(jobs, changelog.Job{Store: s.r, Partition: tp, Start: gs.next[tp]})
			}
		}
		results, err := restorer.RestoreAll(ctx, jobs)
		var oor *changelog.OffsetOutOfRangeError
		if errors.As(err, &oor) && attempt < len(gs.stores) {
			if err := gs.reset(oor); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("global stores: bootstrap: %w", err)
		}
		for i, j := range jobs {
			gs.next[j.Partition] = results[i].Next
			gs.restored.Add(results[i].Restored)
		}
		return gs.checkpoint()
	}
}

// reset wipes the store whose checkpoint is out of range and makes it start
// from the beginning of its topic.
func (gs *globalState) reset(oor *changelog.OffsetOutOfRangeError) error {
	for _, s := range gs.stores {
		if s.g.Spec.Name != oor.Store {
			continue
		}
		gs.logger.Warn("global store checkpoint outside its topic; rebuilding it from the beginning", "store", oor.Store, "err", oor)
		st, err := changelog.ResetStore(gs.dir, s.g.Spec, s.store, changelog.StoreOptions{})
		s.store = nil
		if err != nil {
			return fmt.Errorf("global store %s: reset: %w", oor.Store, err)
		}
		s.store = st
		r, err := changelog.NewRestorable(st)
		if err != nil {
			return fmt.Errorf("global store %s: %w", oor.Store, err)
		}
		s.r = globalRestorable{r}
		gs.app.metrics.storeResets.Add(1)
		for _, p := range s.partitions {
			gs.next[changelog.TopicPartition{Topic: s.g.Topic, Partition: p}] = 0
		}
		return gs.forget(s)
	}
	return fmt.Errorf("global stores: bootstrap: %w", oor)
}

// storesByName are the stores handed to tasks (TaskConfig.GlobalStores).
func (gs *globalState) storesByName() map[string]state.Store {
	if gs == nil {
		return nil
	}
	out := make(map[string]state.Store, len(gs.stores))
	for _, s := range gs.stores {
		out[s.g.Spec.Name] = s.store
	}
	return out
}

// run tails the global topics until ctx ends, applying every record and
// checkpointing every commit interval. It returns the error that stopped
// it, or nil when ctx ended.
func (gs *globalState) run(ctx context.Context) error {
	defer close(gs.done)
	for ctx.Err() == nil {
		fetches := gs.cl.PollFetches(ctx)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		if err := gs.apply(fetches); err != nil {
			return err
		}
		if time.Since(gs.lastCP) >= gs.app.cfg.commitInterval {
			if err := gs.checkpoint(); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply writes one fetch's records into their stores.
func (gs *globalState) apply(fetches kgo.Fetches) error {
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			gs.logger.Warn("global fetch error", "topic", topic, "partition", p, "err", err)
		}
	})
	var ferr error
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		s := gs.byTopic[p.Topic]
		if ferr != nil || s == nil || len(p.Records) == 0 {
			return
		}
		if err := s.r.RestoreBatch(p.Records); err != nil {
			ferr = fmt.Errorf("global store %s: apply %s/%d: %w", s.g.Spec.Name, p.Topic, p.Partition, err)
			return
		}
		gs.next[changelog.TopicPartition{Topic: p.Topic, Partition: p.Partition}] = p.Records[len(p.Records)-1].Offset + 1
		gs.applied.Add(int64(len(p.Records)))
	})
	return ferr
}

// checkpoint flushes the stores and records how far they are; only
// persistent stores are checkpointed, in-memory ones always bootstrap from
// the beginning.
func (gs *globalState) checkpoint() error {
	cp := changelog.Offsets{}
	for _, s := range gs.stores {
		if err := s.store.Flush(); err != nil {
			return fmt.Errorf("global store %s: flush: %w", s.g.Spec.Name, err)
		}
		if !s.store.Persistent() {
			continue
		}
		for _, p := range s.partitions {
			tp := changelog.TopicPartition{Topic: s.g.Topic, Partition: p}
			cp[tp] = gs.next[tp]
		}
	}
	gs.lastCP = time.Now()
	if err := gs.dir.WriteCheckpoint(cp); err != nil {
		return fmt.Errorf("global stores: checkpoint: %w", err)
	}
	return nil
}

// close stops consuming and, when clean, checkpoints; then closes the
// stores and releases the directory. It runs after every stream thread
// stopped, since tasks read the stores, and after run returned.
func (gs *globalState) close(clean bool) error {
	if gs.cl != nil {
		gs.cl.Close()
	}
	var err error
	if clean {
		err = gs.checkpoint()
	}
	return errors.Join(err, gs.closeStores())
}

func (gs *globalState) closeStores() error {
	var err error
	for _, s := range gs.stores {
		if s.store != nil {
			err = errors.Join(err, s.store.Close())
		}
	}
	gs.stores = nil
	return errors.Join(err, gs.dir.Close())
}
