package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Interactive queries read the stores of this instance's tasks while they
// run, as Kafka Streams' KafkaStreams.store does. A view (KeyValueView,
// WindowView, SessionView) is cheap and long-lived: every call finds the
// stores hosted here at that moment. A key lives on one partition, found
// with the topology's partitioner (murmur2 over the serialized key, as the
// records were partitioned): a key whose partition is not hosted here
// fails with a retryable *StoreError instead of reading as absent, so that
// a query never mistakes "elsewhere" for "missing".
//
// Reads see the task's record cache, like Kafka Streams' queries, so they
// may show updates not yet committed. The stream thread waits for running
// queries before closing a store; callbacks given to range queries should
// therefore return quickly.

// QueryOpt changes how a view finds its stores (Kafka Streams'
// StoreQueryParameters).
type QueryOpt func(*queryOpts)

type queryOpts struct {
	stale     bool
	partition int32
}

// StaleStores lets the view read standby replicas of partitions not active
// here (enableStaleStores): their data lags the active task's.
func StaleStores() QueryOpt { return func(o *queryOpts) { o.stale = true } }

// OnPartition limits the view to one partition (withPartition).
func OnPartition(p int32) QueryOpt { return func(o *queryOpts) { o.partition = p } }

// storeTarget is what a view needs to know about its store.
type storeTarget struct {
	app  *App
	name string
	spec state.Spec
	sub  int
	opts queryOpts
}

// target finds a store of the topology by name and kind.
func (a *App) target(name string, kind state.Kind, opts []QueryOpt) (*storeTarget, error) {
	t := &storeTarget{app: a, name: name, opts: queryOpts{partition: -1}}
	for _, o := range opts {
		o(&t.opts)
	}
	for _, g := range a.topo.GlobalStores() {
		if g.Spec.Name == name {
			t.spec = g.Spec
		}
	}
	if t.spec.Name == "" {
		for _, s := range a.subs {
			for _, spec := range s.Stores {
				if spec.Name == name {
					t.spec, t.sub = spec, s.ID
				}
			}
		}
	}
	if t.spec.Name == "" || (kind >= 0 && t.spec.Kind != kind) {
		return nil, storeErr(name, -1, ErrUnknownStateStore)
	}
	return t, nil
}

// resolve fails when the instance cannot serve queries at all, and
// otherwise returns the global store of that name (read directly) or the
// partition count of the store's sub-topology.
func (t *storeTarget) resolve() (global state.Store, partitions int32, err error) {
	switch t.app.State() {
	case Created:
		return nil, 0, storeErr(t.name, -1, ErrStreamsNotStarted)
	case PendingShutdown, NotRunning, PendingError, Error:
		return nil, 0, storeErr(t.name, -1, ErrStoreNotAvailable)
	}
	t.app.mu.Lock()
	defer t.app.mu.Unlock()
	if g := t.app.globalStores[t.name]; g != nil {
		return g, 0, nil
	}
	if sub, ok := t.app.subByID[t.sub]; ok && len(sub.SourceTopics) > 0 {
		partitions = t.app.partitions[sub.SourceTopics[0]]
	}
	if partitions <= 0 {
		return nil, 0, storeErr(t.name, -1, ErrStoreNotAvailable)
	}
	return nil, partitions, nil
}

// partitionOf returns the partition of a serialized key: Kafka's default
// partitioner, which the runtime uses for every keyed record.
func partitionOf(key []byte, n int32) int32 {
	return int32(keyPartitioner.Partition(&kgo.Record{Key: key}, int(n)))
}

var keyPartitioner = kgo.StickyKeyPartitioner(nil).ForTopic("")

// assignedActive reports whether a stream thread of this instance has task
// id among its active tasks (it may still be restoring).
func (a *App) assignedActive(id topology.TaskID) bool {
	for _, th := range a.threadList() {
		if slices.Contains(th.bal.lastAssignment().Active, id) {
			return true
		}
	}
	return false
}

// missing is the error for a partition with no queryable store here.
func (t *storeTarget) missing(p int32) error {
	if t.app.assignedActive(topology.TaskID{SubTopology: t.sub, Partition: p}) {
		return storeErr(t.name, p, ErrStoreRestoring)
	}
	return storeErr(t.name, p, ErrStoreMigrated)
}

// readKey runs fn on the store holding key.
func (t *storeTarget) readKey(key []byte, fn func(state.Store) error) error {
	global, n, err := t.resolve()
	if err != nil {
		return err
	}
	if global != nil {
		if err := t.kindCheck(global); err != nil {
			return err
		}
		return fn(global)
	}
	p := partitionOf(key, n)
	if t.opts.partition >= 0 && t.opts.partition != p {
		return storeErr(t.name, t.opts.partition, ErrInvalidPartition)
	}
	return t.readPartition(p, fn)
}

func (t *storeTarget) readPartition(p int32, fn func(state.Store) error) error {
	ls := t.app.local.store(t.name, p, t.opts.stale)
	if ls == nil {
		return t.missing(p)
	}
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	if ls.closed {
		return storeErr(t.name, p, ErrStoreMigrated)
	}
	if err := t.kindCheck(ls.store); err != nil {
		return err
	}
	if err := fn(ls.store); err != nil {
		if errors.Is(err, state.ErrClosed) {
			return storeErr(t.name, p, ErrStoreMigrated)
		}
		return err
	}
	return nil
}

// readAll runs fn on every store of the view's partitions hosted here at
// once (held open for fn's duration), in partition order. A partition
// assigned here that is still restoring fails the read: its part of the
// answer would be missing.
func (t *storeTarget) readAll(fn func([]state.Store) error) error {
	global, n, err := t.resolve()
	if err != nil {
		return err
	}
	if global != nil {
		if err := t.kindCheck(global); err != nil {
			return err
		}
		return fn([]state.Store{global})
	}
	if t.opts.partition >= 0 {
		if t.opts.partition >= n {
			return storeErr(t.name, t.opts.partition, ErrInvalidPartition)
		}
		return t.readPartition(t.opts.partition, func(s state.Store) error { return fn([]state.Store{s}) })
	}
	for _, th := range t.app.threadList() {
		for _, id := range th.bal.lastAssignment().Active {
			if id.SubTopology == t.sub && t.app.local.store(t.name, id.Partition, false) == nil {
				return storeErr(t.name, id.Partition, ErrStoreRestoring)
			}
		}
	}
	locals := t.app.local.stores(t.name, t.opts.stale)
	stores := make([]state.Store, 0, len(locals))
	for _, ls := range locals {
		ls.mu.RLock()
		defer ls.mu.RUnlock()
		if ls.closed {
			return storeErr(t.name, ls.partition, ErrStoreMigrated)
		}
		if err := t.kindCheck(ls.store); err != nil {
			return err
		}
		stores = append(stores, ls.store)
	}
	err = fn(stores)
	if errors.Is(err, state.ErrClosed) {
		return storeErr(t.name, -1, ErrStoreMigrated)
	}
	return err
}

// kindCheck makes sure a store has the interface of its spec's kind, so
// that the views' type assertions cannot fail.
func (t *storeTarget) kindCheck(s state.Store) error {
	ok := false
	switch t.spec.Kind {
	case state.KindKeyValue:
		_, ok = s.(state.KeyValueStore)
	case state.KindWindow:
		_, ok = s.(state.WindowStore)
	case state.KindSession:
		_, ok = s.(state.SessionStore)
	}
	if !ok {
		return fmt.Errorf("runtime: store %q: a %T cannot be queried as its kind", t.name, s)
	}
	return nil
}

// cursor is a byte-level store iterator.
type cursor interface {
	Next() bool
	Err() error
	Close() error
}

// merge walks several sorted iterators as one: it emits the smallest head
// by cmp (after each Next) until emit returns false or all are done.
func merge[C cursor](its []C, cmp func(a, b C) int, emit func(C) bool) error {
	var live []C
	defer func() {
		for _, it := range its {
			it.Close()
		}
	}()
	for _, it := range its {
		if it.Next() {
			live = append(live, it)
		} else if err := it.Err(); err != nil {
			return err
		}
	}
	for len(live) > 0 {
		best := 0
		for i := 1; i < len(live); i++ {
			if cmp(live[i], live[best]) < 0 {
				best = i
			}
		}
		if !emit(live[best]) {
			return nil
		}
		if !live[best].Next() {
			if err := live[best].Err(); err != nil {
				return err
			}
			live = slices.Delete(live, best, best+1)
		}
	}
	return nil
}

func compareKV(reverse bool) func(a, b state.KeyValueIterator) int {
	return func(a, b state.KeyValueIterator) int {
		c := bytes.Compare(a.Key(), b.Key())
		if reverse {
			return -c
		}
		return c
	}
}
