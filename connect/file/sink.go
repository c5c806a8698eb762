package file

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kafki/kafki/connect"
)

// SinkClass is the connector class name; FileStreamSink and
// FileStreamSinkConnector are accepted too, as Kafka's file sink is
// configured with the same "file" setting.
const SinkClass = "io.kafki.connect.file.JsonLinesSinkConnector"

func init() {
	connect.RegisterConnector(func() connect.Connector { return &SinkConnector{} },
		SinkClass, "JsonLinesSink", "FileStreamSink", "FileStreamSinkConnector",
		"org.apache.kafka.connect.file.FileStreamSinkConnector")
}

// SinkConnector writes every record of its topics as one JSON line.
//
// Settings:
//   - file: the path; with rolling, segments are <file>.<n> (n from 0),
//     each complete once the next one starts.
//   - rotate.size.bytes: start a new segment once this many bytes are in
//     the current one (0: never).
//   - rotate.interval.ms: start a new segment once the current one is this
//     old (0: never).
//   - format: "value" (default: the value as JSON, null for tombstones) or
//     "record" ({"topic","partition","offset","timestamp","key","value"}).
//
// One task: lines go to one file in the order the task receives them.
type SinkConnector struct{ cfg map[string]string }

// Start implements connect.Connector.
func (c *SinkConnector) Start(cfg map[string]string) error {
	if _, err := connect.Config(cfg).Required("file"); err != nil {
		return err
	}
	c.cfg = cfg
	return nil
}

// TaskConfigs implements connect.Connector: always one task.
func (c *SinkConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.cfg}, nil
}

// Stop implements connect.Connector.
func (c *SinkConnector) Stop() error { return nil }

// NewTask implements connect.SinkConnector.
func (c *SinkConnector) NewTask() connect.SinkTask { return &SinkTask{} }

// SinkTask is the file sink's task.
type SinkTask struct {
	path      string
	maxBytes  int64
	maxAge    time.Duration
	record    bool
	rolling   bool
	seq       int
	f         *os.File
	w         *bufio.Writer
	size      int64
	opened    time.Time
	buf       bytes.Buffer
	converter *connect.JSONConverter
}

// Start implements connect.SinkTask.
func (t *SinkTask) Start(_ connect.SinkTaskContext, config map[string]string) error {
	cfg := connect.Config(config)
	var err error
	if t.path, err = cfg.Required("file"); err != nil {
		return err
	}
	size, err := cfg.Int("rotate.size.bytes", 0)
	if err != nil {
		return err
	}
	t.maxBytes = int64(size)
	if t.maxAge, err = cfg.Millis("rotate.interval.ms", 0); err != nil {
		return err
	}
	format, err := cfg.OneOf("format", "value", "value", "record")
	if err != nil {
		return err
	}
	t.record = format == "record"
	t.rolling = t.maxBytes > 0 || t.maxAge > 0
	t.converter = connect.NewJSONConverter(false)
	if t.rolling {
		// Continue after the highest segment already there.
		matches, _ := filepath.Glob(t.path + ".*")
		for _, m := range matches {
			if n, err := strconv.Atoi(m[len(t.path)+1:]); err == nil && n >= t.seq {
				t.seq = n + 1
			}
		}
	}
	return t.open()
}

func (t *SinkTask) open() error {
	name := t.path
	if t.rolling {
		name = t.path + "." + strconv.Itoa(t.seq)
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("file sink: %w", err)
	}
	t.f, t.w, t.size, t.opened = f, bufio.NewWriterSize(f, 64<<10), st.Size(), time.Now()
	return nil
}

func (t *SinkTask) roll() error {
	if err := t.sync(); err != nil {
		return err
	}
	if err := t.f.Close(); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	t.seq++
	return t.open()
}

func (t *SinkTask) due() bool {
	return t.rolling && t.size > 0 &&
		(t.maxBytes > 0 && t.size >= t.maxBytes || t.maxAge > 0 && time.Since(t.opened) >= t.maxAge)
}

// Put implements connect.SinkTask.
func (t *SinkTask) Put(records []connect.SinkRecord) error {
	for i := range records {
		if t.due() {
			if err := t.roll(); err != nil {
				return err
			}
		}
		line, err := t.line(&records[i])
		if err != nil {
			return err
		}
		n, err := t.w.Write(line)
		t.size += int64(n)
		if err != nil {
			return fmt.Errorf("file sink: %w", err)
		}
	}
	return nil
}

func (t *SinkTask) line(r *connect.SinkRecord) ([]byte, error) {
	t.buf.Reset()
	val, err := t.json(r.Topic, r.ValueSchema, r.Value)
	if err != nil {
		return nil, fmt.Errorf("file sink: value of %s[%d]@%d: %w", r.Topic, r.Partition, r.KafkaOffset, err)
	}
	if !t.record {
		t.buf.Write(val)
	} else {
		key, err := t.json(r.Topic, r.KeySchema, r.Key)
		if err != nil {
			return nil, fmt.Errorf("file sink: key of %s[%d]@%d: %w", r.Topic, r.Partition, r.KafkaOffset, err)
		}
		topic, _ := json.Marshal(r.Topic)
		fmt.Fprintf(&t.buf, `{"topic":%s,"partition":%d,"offset":%d,"timestamp":%d,"key":%s,"value":%s}`,
			topic, r.Partition, r.KafkaOffset, r.Timestamp.UnixMilli(), key, val)
	}
	t.buf.WriteByte('\n')
	return t.buf.Bytes(), nil
}

func (t *SinkTask) json(topic string, s *connect.Schema, v any) ([]byte, error) {
	if v == nil {
		return []byte("null"), nil
	}
	return t.converter.FromConnectData(topic, nil, s, v)
}

func (t *SinkTask) sync() error {
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	return nil
}

// Flush implements connect.SinkTask: the lines are on disk (fsync) when
// it returns; an old enough segment is rolled here too, so that time-based
// rolling happens on idle topics.
func (t *SinkTask) Flush(map[connect.TopicPartition]int64) error {
	if err := t.sync(); err != nil {
		return err
	}
	if t.due() && t.maxAge > 0 && time.Since(t.opened) >= t.maxAge {
		return t.roll()
	}
	return nil
}

// Stop implements connect.SinkTask.
func (t *SinkTask) Stop() error {
	if t.f == nil {
		return nil
	}
	err := t.sync()
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	t.f = nil
	return err
}
