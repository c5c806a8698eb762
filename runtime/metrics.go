package runtime

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Snapshot is a point-in-time copy of an instance's metrics, returned by
// App.Metrics. Counters only grow over the life of the instance; per-task
// entries stay after a task moves away so that totals never shrink.
type Snapshot struct {
	// State is the instance state when the snapshot was taken.
	State State
	// Rebalances counts the assignments the stream threads received.
	Rebalances int64
	// Commits counts successful commits, over all threads.
	Commits int64
	// CommitLatency is the time a commit takes: flushing tasks, waiting for
	// produce acknowledgements, writing checkpoints, committing offsets.
	CommitLatency Latency
	// Tasks are the per-task counters, by task id ("1_3"), active and
	// standby.
	Tasks map[string]TaskMetrics
	// Lag is the consumer lag of every input partition the instance
	// consumes now.
	Lag []PartitionLag
	// Restores is the restoration progress of every changelog partition
	// restored or applied by a standby since the instance started.
	Restores []RestoreProgress
	// RestoreLag is the changelog records active tasks still have to
	// restore before they run, over all restorations in progress (Kafka
	// Streams' restore-remaining-records-total).
	RestoreLag int64
	// Lost counts the times a stream thread lost its partitions without
	// revoking them: the group moved on without it (a missed session or
	// rebalance timeout).
	Lost int64
	// Dropped counts skipped records by reason (DropDeserialization, ...).
	Dropped map[string]int64
	// StoreResets counts stores wiped and restored from the beginning
	// because their checkpoint was outside their changelog.
	StoreResets int64
	// CleanedTaskDirs counts the directories of tasks no longer assigned
	// here that the state cleanup removed (see StateCleanupDelay).
	CleanedTaskDirs int64
	// Pauses and Resumes count how often a stream thread stopped fetching
	// an input partition because its task had buffered more than
	// BufferedRecordsPerPartition records of it, and started again.
	Pauses, Resumes int64
}

// Reasons a record is dropped, the keys of Snapshot.Dropped.
const (
	DropDeserialization = "deserialization-error"
	DropProcessing      = "processing-error"
	DropProduction      = "production-error"
)

// TaskMetrics are the counters of one task.
type TaskMetrics struct {
	// Standby is set for a standby task.
	Standby bool
	// Consumed counts records fetched for the task.
	Consumed int64
	// Processed counts records the task processed (skipped ones included).
	Processed int64
	// Produced counts records the task sent, changelog records included.
	Produced int64
	// ProcessLatency is the time per processed record, measured per batch
	// of records taken together (timing every record would cost more than
	// processing a simple one).
	ProcessLatency Latency
}

// Latency summarises durations.
type Latency struct {
	Count int64
	Min   time.Duration
	Max   time.Duration
	Avg   time.Duration
}

// PartitionLag is the lag of one input partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	// Position is the offset of the next record to process.
	Position int64
	// HighWatermark is the end of the partition as of the last fetch.
	HighWatermark int64
	// Lag is HighWatermark - Position.
	Lag int64
}

// RestoreProgress is the restoration of one changelog partition.
type RestoreProgress struct {
	Task      string
	Store     string
	Topic     string
	Partition int32
	// Start and End are the offsets restoration started at and must reach.
	Start, End int64
	// Position is the next changelog offset to apply. Compaction leaves
	// gaps, so Position - Start may exceed Restored.
	Position int64
	// Restored counts the changelog records applied.
	Restored int64
	// Done is set when the store reached End (always false for standbys,
	// which keep applying).
	Done bool
	// Standby is set when a standby task applies the changelog.
	Standby bool
}

// latency is a concurrency-safe Latency accumulator.
type latency struct {
	mu    sync.Mutex
	count int64
	sum   time.Duration
	min   time.Duration
	max   time.Duration
}

// observe records n events that took d in total.
func (l *latency) observe(d time.Duration, n int64) {
	if n <= 0 {
		return
	}
	per := d / time.Duration(n)
	l.mu.Lock()
	if l.count == 0 || per < l.min {
		l.min = per
	}
	if per > l.max {
		l.max = per
	}
	l.count += n
	l.sum += d
	l.mu.Unlock()
}

func (l *latency) snapshot() Latency {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := Latency{Count: l.count, Min: l.min, Max: l.max}
	if l.count > 0 {
		out.Avg = l.sum / time.Duration(l.count)
	}
	return out
}

// taskCounters are updated by the owning thread and read by snapshots.
type taskCounters struct {
	standby   atomic.Bool
	consumed  atomic.Int64
	processed atomic.Int64
	produced  atomic.Int64
	latency   latency
}

type lagEntry struct {
	position, hwm int64
}

type tp struct {
	topic     string
	partition int32
}

// metrics is the registry behind App.Metrics.
type metrics struct {
	rebalances   atomic.Int64
	commits      atomic.Int64
	commitLat    latency
	storeResets  atomic.Int64
	cleanedTasks atomic.Int64
	lost         atomic.Int64
	pauses       atomic.Int64
	resumes      atomic.Int64

	mu       sync.Mutex
	tasks    map[string]*taskCounters
	lag      map[tp]lagEntry
	restores map[tp]*RestoreProgress
	dropped  map[string]int64
}

func newMetrics() *metrics {
	return &metrics{
		tasks:    map[string]*taskCounters{},
		lag:      map[tp]lagEntry{},
		restores: map[tp]*RestoreProgress{},
		dropped:  map[string]int64{},
	}
}

// task returns the counters of a task, creating them.
func (m *metrics) task(id string) *taskCounters {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.tasks[id]
	if c == nil {
		c = &taskCounters{}
		m.tasks[id] = c
	}
	return c
}

func (m *metrics) drop(reason string) {
	m.mu.Lock()
	m.dropped[reason]++
	m.mu.Unlock()
}

// setLag records the position and high watermark of a partition; a
// negative hwm keeps the last known one.
func (m *metrics) setLag(topic string, partition int32, position, hwm int64) {
	m.mu.Lock()
	k := tp{topic, partition}
	e := m.lag[k]
	e.position = position
	if hwm >= 0 {
		e.hwm = hwm
	}
	m.lag[k] = e
	m.mu.Unlock()
}

func (m *metrics) removeLag(topic string, partition int32) {
	m.mu.Lock()
	delete(m.lag, tp{topic, partition})
	m.mu.Unlock()
}

// restore updates the restoration progress of a changelog partition.
func (m *metrics) restore(p RestoreProgress) {
	m.mu.Lock()
	k := tp{p.Topic, p.Partition}
	m.restores[k] = &p
	m.mu.Unlock()
}

func (m *metrics) snapshot() Snapshot {
	s := Snapshot{
		Rebalances:      m.rebalances.Load(),
		Commits:         m.commits.Load(),
		CommitLatency:   m.commitLat.snapshot(),
		Tasks:           map[string]TaskMetrics{},
		StoreResets:     m.storeResets.Load(),
		CleanedTaskDirs: m.cleanedTasks.Load(),
		Lost:            m.lost.Load(),
		Pauses:          m.pauses.Load(),
		Resumes:         m.resumes.Load(),
	}
	m.mu.Lock()
	tasks := maps.Clone(m.tasks)
	s.Dropped = maps.Clone(m.dropped)
	for k, e := range m.lag {
		lag := max(e.hwm-e.position, 0)
		s.Lag = append(s.Lag, PartitionLag{Topic: k.topic, Partition: k.partition, Position: e.position, HighWatermark: e.hwm, Lag: lag})
	}
	for _, r := range m.restores {
		s.Restores = append(s.Restores, *r)
		if !r.Standby && !r.Done {
			s.RestoreLag += max(r.End-r.Position, 0)
		}
	}
	m.mu.Unlock()
	for id, c := range tasks {
		s.Tasks[id] = TaskMetrics{
			Standby:        c.standby.Load(),
			Consumed:       c.consumed.Load(),
			Processed:      c.processed.Load(),
			Produced:       c.produced.Load(),
			ProcessLatency: c.latency.snapshot(),
		}
	}
	slices.SortFunc(s.Lag, func(a, b PartitionLag) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	slices.SortFunc(s.Restores, func(a, b RestoreProgress) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	return s
}
