package runtime

import (
	"slices"
	"sync"

	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// localStore is one store of one task (active or standby) that interactive
// queries and the metrics may read from other goroutines. The stream
// thread registers it once the task is ready and unregisters it before
// closing it; mu keeps a close from running under a query.
type localStore struct {
	name      string
	task      topology.TaskID
	standby   bool
	store     state.Store
	mu        sync.RWMutex
	closed    bool
	partition int32
}

// localTask is an active task as the metrics see it.
type localTask struct {
	id   topology.TaskID
	task *topology.Task
}

// localRegistry lists what this instance hosts now: the queryable stores
// of its tasks and standbys, and its running active tasks. The stream
// threads change it on rebalances (rarely); queries and scrapes read it.
type localRegistry struct {
	mu      sync.RWMutex
	active  map[string]map[int32]*localStore // store name -> partition
	standby map[string]map[int32]*localStore
	tasks   map[topology.TaskID]*localTask
}

func newLocalRegistry() *localRegistry {
	return &localRegistry{active: map[string]map[int32]*localStore{}, standby: map[string]map[int32]*localStore{},
		tasks: map[topology.TaskID]*localTask{}}
}

func (r *localRegistry) byKind(standby bool) map[string]map[int32]*localStore {
	if standby {
		return r.standby
	}
	return r.active
}

// addTask makes the stores of a task that finished restoring queryable
// (and, for an active task, its node counts visible).
func (r *localRegistry) addTask(id topology.TaskID, task *topology.Task, stores []*openedStore, standby bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.byKind(standby)
	for _, s := range stores {
		st := s.store
		if standby {
			st = s.inner
		}
		if m[s.spec.Name] == nil {
			m[s.spec.Name] = map[int32]*localStore{}
		}
		m[s.spec.Name][id.Partition] = &localStore{name: s.spec.Name, task: id, standby: standby, store: st, partition: id.Partition}
	}
	if !standby && task != nil {
		r.tasks[id] = &localTask{id: id, task: task}
	}
}

// removeTask takes a task's stores out before the thread closes them. It
// waits for queries running on them to finish; later ones see the store as
// migrated.
func (r *localRegistry) removeTask(id topology.TaskID, standby bool) {
	r.mu.Lock()
	m := r.byKind(standby)
	var gone []*localStore
	for name, parts := range m {
		if s := parts[id.Partition]; s != nil && s.task == id {
			gone = append(gone, s)
			delete(parts, id.Partition)
			if len(parts) == 0 {
				delete(m, name)
			}
		}
	}
	if !standby {
		delete(r.tasks, id)
	}
	r.mu.Unlock()
	for _, s := range gone {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
	}
}

// store returns the store name of partition p, active or (with standby)
// standby.
func (r *localRegistry) store(name string, p int32, standby bool) *localStore {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if s := r.active[name][p]; s != nil {
		return s
	}
	if standby {
		return r.standby[name][p]
	}
	return nil
}

// stores returns every local store named name, ordered by partition:
// active ones, and standbys of the partitions with no active one when
// standby is set.
func (r *localRegistry) stores(name string, standby bool) []*localStore {
	r.mu.RLock()
	var out []*localStore
	for _, s := range r.active[name] {
		out = append(out, s)
	}
	if standby {
		for p, s := range r.standby[name] {
			if r.active[name][p] == nil {
				out = append(out, s)
			}
		}
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b *localStore) int { return int(a.partition - b.partition) })
	return out
}

// taskList returns the running active tasks, ordered by id.
func (r *localRegistry) taskList() []*localTask {
	r.mu.RLock()
	out := make([]*localTask, 0, len(r.tasks))
	for _, t := range r.tasks {
		out = append(out, t)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b *localTask) int { return compareTasks(a.id, b.id) })
	return out
}

// storeNames returns the names of the stores hosted here, active and
// standby, sorted.
func (r *localRegistry) storeNames() (active, standby []string) {
	r.mu.RLock()
	for n := range r.active {
		active = append(active, n)
	}
	for n := range r.standby {
		standby = append(standby, n)
	}
	r.mu.RUnlock()
	slices.Sort(active)
	slices.Sort(standby)
	return active, standby
}
