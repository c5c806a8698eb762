package runtime

import (
	"slices"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

// KeyQueryMetadata says where a key of a store lives (Kafka Streams'
// KeyQueryMetadata): the application server of the instance running its
// active task, those holding standbys of it, and its partition.
type KeyQueryMetadata struct {
	ActiveHost   string   `json:"active_host"`
	StandbyHosts []string `json:"standby_hosts,omitempty"`
	Partition    int32    `json:"partition"`
}

// StreamsMetadata describes one instance of the application (Kafka
// Streams' StreamsMetadata): its application server and what it hosts.
type StreamsMetadata struct {
	Host string `json:"host"`
	// Stores and StandbyStores name the stores of its active and standby
	// tasks.
	Stores        []string `json:"stores,omitempty"`
	StandbyStores []string `json:"standby_stores,omitempty"`
	// Tasks and StandbyTasks are its tasks ("1_3").
	Tasks        []string `json:"tasks,omitempty"`
	StandbyTasks []string `json:"standby_tasks,omitempty"`
}

// hosts returns the tasks by application server of the last assignment.
// Every member gets the same map; the threads of this instance may be a
// rebalance apart, so the first one that has one answers.
func (a *App) hosts() []hostTasks {
	for _, th := range a.threadList() {
		if h := th.bal.lastHosts(); h != nil {
			return h
		}
	}
	return nil
}

// AllMetadata lists the instances of the application that advertise an
// application server (ApplicationServer or AdminAddr), with their stores
// and tasks, as of the last rebalance this instance took part in.
func (a *App) AllMetadata() []StreamsMetadata {
	var out []StreamsMetadata
	for _, h := range a.hosts() {
		m := StreamsMetadata{Host: h.Endpoint, Tasks: h.Active, StandbyTasks: h.Standby}
		m.Stores = a.storesOfTasks(h.Active)
		m.StandbyStores = a.storesOfTasks(h.Standby)
		out = append(out, m)
	}
	return out
}

// AllMetadataForStore lists the instances hosting some partition of store,
// active or standby.
func (a *App) AllMetadataForStore(store string) []StreamsMetadata {
	var out []StreamsMetadata
	for _, m := range a.AllMetadata() {
		if slices.Contains(m.Stores, store) || slices.Contains(m.StandbyStores, store) {
			out = append(out, m)
		}
	}
	return out
}

func (a *App) storesOfTasks(tasks []string) []string {
	var out []string
	for _, s := range tasks {
		id, err := parseTask(s)
		if err != nil {
			continue
		}
		for _, spec := range a.subByID[id.SubTopology].Stores {
			out = append(out, spec.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// QueryMetadataForKey returns where key of store lives, finding its
// partition with the topology's partitioner (the key serialized by keys,
// murmur2, as the records were partitioned). Before the first assignment,
// or while the key's task is between instances, ActiveHost is empty and
// the error is a retryable *StoreError (ErrStoreMigrated).
func QueryMetadataForKey[K any](a *App, store string, key K, keys serde.Serde[K]) (KeyQueryMetadata, error) {
	t, err := a.target(store, -1, nil)
	if err != nil {
		return KeyQueryMetadata{Partition: -1}, err
	}
	kb, err := keyBytes(t, keys, key)
	if err != nil {
		return KeyQueryMetadata{Partition: -1}, err
	}
	return a.metadataForKeyBytes(t, kb)
}

func (a *App) metadataForKeyBytes(t *storeTarget, kb []byte) (KeyQueryMetadata, error) {
	global, n, err := t.resolve()
	if err != nil {
		return KeyQueryMetadata{Partition: -1}, err
	}
	if global != nil {
		// Every instance has the whole global store.
		return KeyQueryMetadata{ActiveHost: a.cfg.appServer, Partition: -1}, nil
	}
	p := partitionOf(kb, n)
	md := KeyQueryMetadata{Partition: p}
	task := taskString(topology.TaskID{SubTopology: t.sub, Partition: p})
	for _, h := range a.hosts() {
		if slices.Contains(h.Active, task) {
			md.ActiveHost = h.Endpoint
		}
		if slices.Contains(h.Standby, task) {
			md.StandbyHosts = append(md.StandbyHosts, h.Endpoint)
		}
	}
	if md.ActiveHost == "" {
		return md, storeErr(t.name, p, ErrStoreMigrated)
	}
	return md, nil
}
