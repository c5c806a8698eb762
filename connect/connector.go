package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
)

// Connector is the part of a plugin that takes a configuration and splits
// the work into tasks, as org.apache.kafka.connect.connector.Connector.
type Connector interface {
	// Start validates and keeps the connector's configuration.
	Start(config map[string]string) error
	// TaskConfigs returns at most maxTasks configurations, one per task.
	TaskConfigs(maxTasks int) ([]map[string]string, error)
	// Stop releases what Start acquired.
	Stop() error
}

// SourceConnector is a connector whose tasks read from an outside system.
type SourceConnector interface {
	Connector
	// NewTask returns a task, not yet started.
	NewTask() SourceTask
}

// SinkConnector is a connector whose tasks write to an outside system.
type SinkConnector interface {
	Connector
	// NewTask returns a task, not yet started.
	NewTask() SinkTask
}

// OffsetReader gives a source task the offsets the worker stored for its
// source partitions.
type OffsetReader interface {
	// Offset returns the last stored offset of partition, or nil.
	Offset(partition map[string]any) (map[string]any, error)
}

// SourceTaskContext is what the worker gives a source task.
type SourceTaskContext interface {
	OffsetReader() OffsetReader
	// Logger is the worker's logger, naming the connector and task.
	Logger() *slog.Logger
}

// SourceTask reads records from an outside system.
//
// The worker calls Poll in a loop from one goroutine, and Commit from that
// same goroutine between Polls, after the offsets of every record returned
// so far have been stored. Stop may be called from another goroutine to
// wake a blocked Poll.
type SourceTask interface {
	Start(ctx SourceTaskContext, config map[string]string) error
	// Poll returns the next records, or none after waiting a short while
	// (well under a second) so that the worker can commit and stop.
	Poll(ctx context.Context) ([]SourceRecord, error)
	// Commit tells the task that the offsets of every record it returned
	// have been stored.
	Commit() error
	Stop() error
}

// SinkTaskContext is what the worker gives a sink task.
type SinkTaskContext interface {
	// Assignment returns the partitions the task currently owns.
	Assignment() []TopicPartition
	// Logger is the worker's logger, naming the connector and task.
	Logger() *slog.Logger
}

// SinkTask writes records to an outside system.
//
// The worker calls Put with each batch it reads, and Flush before it
// commits consumer offsets: when Flush returns nil every record Put so far
// must be durable in the outside system. All calls come from one
// goroutine.
type SinkTask interface {
	Start(ctx SinkTaskContext, config map[string]string) error
	Put(records []SinkRecord) error
	// Flush makes the records put so far durable. offsets are the next
	// offsets to read per partition, for tasks that keep their own.
	Flush(offsets map[TopicPartition]int64) error
	Stop() error
}

// ErrUnknownConnector is returned for a connector.class nothing registered.
var ErrUnknownConnector = errors.New("unknown connector class")

var (
	pluginsMu sync.RWMutex
	plugins   = map[string]func() Connector{}
)

// RegisterConnector makes a connector class available to workers under
// each of names (typically the Java class name Kafka Connect users know
// and a short alias). The factory must return a SourceConnector or a
// SinkConnector.
func RegisterConnector(factory func() Connector, names ...string) {
	pluginsMu.Lock()
	defer pluginsMu.Unlock()
	for _, n := range names {
		plugins[n] = factory
	}
}

// NewConnector returns a new connector of the registered class.
func NewConnector(class string) (Connector, error) {
	pluginsMu.RLock()
	f := plugins[class]
	pluginsMu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownConnector, class, ConnectorClasses())
	}
	c := f()
	switch c.(type) {
	case SourceConnector, SinkConnector:
		return c, nil
	}
	return nil, fmt.Errorf("connector class %q is neither a source nor a sink connector", class)
}

// ConnectorClasses lists the registered connector class names.
func ConnectorClasses() []string {
	pluginsMu.RLock()
	defer pluginsMu.RUnlock()
	out := make([]string, 0, len(plugins))
	for n := range plugins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
