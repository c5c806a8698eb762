package runtime

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics. Names follow Kafka Streams' metric names (group and
// name, dashes as underscores, "kafki_" in front) with Prometheus'
// conventions: counters end in _total, and Kafka Streams' -rate metrics
// are rate() over them; latencies are in seconds. Everything is read from
// the counters the stream threads keep anyway (atomics, per-batch
// copies), at scrape time: scraping adds nothing to the per-record path.

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("kafki_"+name, help, labels, nil)
}

var (
	descState = desc("stream_state", "1 for the instance's state (Kafka Streams' client state).", "state")
	descAlive = desc("stream_alive_stream_threads", "Stream threads running.")

	descTaskProcess    = desc("stream_task_process_total", "Records processed by the task (process-total; process-rate is rate() of it).", "task_id")
	descTaskConsumed   = desc("stream_task_consumed_total", "Records fetched for the task.", "task_id")
	descTaskProduced   = desc("stream_task_produced_total", "Records the task sent, changelog records included.", "task_id")
	descTaskLatencyAvg = desc("stream_task_process_latency_avg_seconds", "Average time to process a record (process-latency-avg).", "task_id")
	descTaskLatencyMax = desc("stream_task_process_latency_max_seconds", "Largest per-record processing time of a batch (process-latency-max).", "task_id")
	descNodeProcess    = desc("stream_processor_node_process_total", "Records a processor node took (process-total per node).", "task_id", "processor_node_id")

	descCommit        = desc("stream_thread_commit_total", "Commits, over all stream threads (commit-total).")
	descCommitLatAvg  = desc("stream_thread_commit_latency_avg_seconds", "Average commit time (commit-latency-avg).")
	descCommitLatMax  = desc("stream_thread_commit_latency_max_seconds", "Largest commit time (commit-latency-max).")
	descRebalances    = desc("stream_thread_rebalances_total", "Assignments the stream threads received.")
	descDropped       = desc("stream_task_dropped_records_total", "Records skipped, by reason (dropped-records-total).", "reason")
	descStoreResets   = desc("stream_state_store_resets_total", "Stores wiped and restored from the start because their checkpoint was outside their changelog.")
	descCacheHitRatio = desc("stream_record_cache_hit_ratio", "Hits over lookups of a task's record cache since it opened (hit-ratio).", "task_id", "record_cache_id")

	descRestoreTotal     = desc("stream_task_restore_total", "Changelog records restored into a store (restore-total; standbys: update-total).", "task_id", "store", "partition", "standby")
	descRestoreRemaining = desc("stream_task_restore_remaining_records_total", "Changelog records left to restore (restore-remaining-records-total).", "task_id", "store", "partition")
	descRecordsLag       = desc("consumer_records_lag", "Records between the position and the high watermark of an input partition (records-lag).", "topic", "partition")
	descRecordsLagPos    = desc("consumer_position", "Offset of the next record to process of an input partition.", "topic", "partition")
)

// promCollector turns App.Metrics into Prometheus metrics on each scrape.
type promCollector struct{ app *App }

// Describe implements prometheus.Collector.
func (c *promCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descAlive, descTaskProcess, descTaskConsumed, descTaskProduced,
		descTaskLatencyAvg, descTaskLatencyMax, descNodeProcess, descCommit, descCommitLatAvg, descCommitLatMax,
		descRebalances, descDropped, descStoreResets, descCacheHitRatio, descRestoreTotal, descRestoreRemaining,
		descRecordsLag, descRecordsLagPos} {
		ch <- d
	}
}

func promCounter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func promGauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// Collect implements prometheus.Collector.
func (c *promCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.app.Metrics()
	promGauge(ch, descState, 1, s.State.String())
	promGauge(ch, descAlive, float64(len(c.app.threadList())))
	for id, t := range s.Tasks {
		if t.Standby {
			continue
		}
		promCounter(ch, descTaskProcess, float64(t.Processed), id)
		promCounter(ch, descTaskConsumed, float64(t.Consumed), id)
		promCounter(ch, descTaskProduced, float64(t.Produced), id)
		promGauge(ch, descTaskLatencyAvg, t.ProcessLatency.Avg.Seconds(), id)
		promGauge(ch, descTaskLatencyMax, t.ProcessLatency.Max.Seconds(), id)
	}
	for _, lt := range c.app.local.taskList() {
		id := lt.id.String()
		lt.task.NodeCounts(func(node string, n int64) { promCounter(ch, descNodeProcess, float64(n), id, node) })
	}
	promCounter(ch, descCommit, float64(s.Commits))
	promGauge(ch, descCommitLatAvg, s.CommitLatency.Avg.Seconds())
	promGauge(ch, descCommitLatMax, s.CommitLatency.Max.Seconds())
	promCounter(ch, descRebalances, float64(s.Rebalances))
	for _, reason := range []string{DropDeserialization, DropProcessing, DropProduction} {
		promCounter(ch, descDropped, float64(s.Dropped[reason]), reason)
	}
	for reason, n := range s.Dropped {
		if reason != DropDeserialization && reason != DropProcessing && reason != DropProduction {
			promCounter(ch, descDropped, float64(n), reason)
		}
	}
	promCounter(ch, descStoreResets, float64(s.StoreResets))
	c.collectCaches(ch)
	for _, r := range s.Restores {
		p := strconv.Itoa(int(r.Partition))
		promCounter(ch, descRestoreTotal, float64(r.Restored), r.Task, r.Store, p, strconv.FormatBool(r.Standby))
		if !r.Standby {
			promGauge(ch, descRestoreRemaining, float64(max(r.End-r.Position, 0)), r.Task, r.Store, p)
		}
	}
	for _, l := range s.Lag {
		p := strconv.Itoa(int(l.Partition))
		promGauge(ch, descRecordsLag, float64(l.Lag), l.Topic, p)
		promGauge(ch, descRecordsLagPos, float64(l.Position), l.Topic, p)
	}
}

// cacheStats is what a caching store reports (state.CachingKeyValueStore).
type cacheStats interface {
	CacheStats() (bytes int64, entries int, hits, misses int64)
}

func (c *promCollector) collectCaches(ch chan<- prometheus.Metric) {
	active, _ := c.app.local.storeNames()
	for _, name := range active {
		for _, ls := range c.app.local.stores(name, false) {
			cs, ok := ls.store.(cacheStats)
			if !ok {
				continue
			}
			ls.mu.RLock()
			if !ls.closed {
				_, _, hits, misses := cs.CacheStats()
				if hits+misses > 0 {
					promGauge(ch, descCacheHitRatio, float64(hits)/float64(hits+misses), ls.task.String(), name)
				}
			}
			ls.mu.RUnlock()
		}
	}
}
