package main

import (
	"errors"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// Alert says a device came online or went offline: the output, keyed by
// device id.
type Alert struct {
	Online   bool
	LastSeen time.Time // the device's latest heartbeat
}

// lastSeenStore holds each device's latest heartbeat time (epoch ms).
const lastSeenStore = "last-seen"

// monitor is the processor: one per task, so its fields need no locking.
type monitor struct {
	ctx      topology.ProcessorContext[string, Alert]
	lastSeen *state.TypedKeyValueStore[string, int64]
	silence  time.Duration
}

func (m *monitor) Init(ctx topology.ProcessorContext[string, Alert]) (err error) {
	m.ctx = ctx
	if m.lastSeen, err = topology.KeyValueStore(ctx, lastSeenStore, serde.String(), serde.Int64()); err != nil {
		return err
	}
	// Checking four times per timeout reports a silent device at most a
	// quarter of the timeout late.
	_, err = ctx.Schedule(m.silence/4, topology.WallClockTime, m.sweep)
	return err
}

// Process records a heartbeat; a device not in the store comes online.
func (m *monitor) Process(rec topology.Record[string, string]) error {
	if rec.NullKey {
		m.ctx.RecordDropped("null-key")
		return nil
	}
	ts := rec.Timestamp.UnixMilli()
	last, known, err := m.lastSeen.Get(rec.Key)
	if err != nil || ts <= last {
		return err // a heartbeat older than the latest changes nothing
	}
	if !known {
		alert := Alert{Online: true, LastSeen: rec.Timestamp.UTC()}
		if err := m.ctx.Forward(topology.Record[string, Alert]{Key: rec.Key, Value: alert, Timestamp: rec.Timestamp}); err != nil {
			return err
		}
	}
	return m.lastSeen.Put(rec.Key, ts)
}

// sweep reports and forgets the devices silent for longer than m.silence.
func (m *monitor) sweep(now time.Time) error {
	it, err := m.lastSeen.All()
	if err != nil {
		return err
	}
	var silent []topology.Record[string, Alert]
	for it.Next() {
		if now.Sub(time.UnixMilli(it.Value())) > m.silence {
			silent = append(silent, topology.Record[string, Alert]{Key: it.Key(), Value: Alert{LastSeen: time.UnixMilli(it.Value()).UTC()}, Timestamp: now})
		}
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return err
	}
	for _, rec := range silent {
		if err := m.ctx.Forward(rec); err != nil {
			return err
		}
		if _, _, err := m.lastSeen.Delete(rec.Key); err != nil {
			return err
		}
	}
	return nil
}

func (m *monitor) Close() error { return nil }

// buildTopology reads heartbeats (key device id, value anything) from
// cfg.heartbeats and writes alerts to cfg.alerts.
func buildTopology(cfg config) (*topology.Topology, error) {
	b := topology.NewBuilder()
	topology.AddSource(b, "heartbeats", serde.String(), serde.String(), cfg.heartbeats)
	topology.AddProcessor(b, "monitor", func() topology.Processor[string, string, string, Alert] {
		return &monitor{silence: cfg.silence}
	}, "heartbeats")
	b.AddStateStore(state.Spec{Name: lastSeenStore, Kind: state.KindKeyValue}, "monitor")
	topology.AddSink(b, "alerts", cfg.alerts, serde.String(), serde.JSON[Alert](), "monitor")
	return b.Build()
}
