package file_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/connect"
	_ "github.com/kafki/kafki/connect/file"
	"github.com/kafki/kafki/internal/kafkatest"
)

func lines(t *testing.T, pattern string) []string {
	t.Helper()
	files, _ := filepath.Glob(pattern)
	var out []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		fh.Close()
	}
	return out
}

// TestFileSinkWithDLQ runs the standalone worker with the file sink: good
// records land as JSON lines in rolled segments, the one record the JSON
// converter cannot read goes to the dead-letter queue with the error in
// its headers, and the consumer offsets are committed after the flush.
func TestFileSinkWithDLQ(t *testing.T) {
	c := kafkatest.New(t, 1)
	topic, dlq := c.Topic("orders"), c.Topic("orders-dlq")
	c.CreateTopic(topic, 2, nil)
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := 0; i < 40; i++ {
		v := fmt.Sprintf(`{"schema":{"type":"struct","fields":[{"type":"int32","field":"id"},{"type":"string","field":"name","optional":true}]},"payload":{"id":%d,"name":"n%d"}}`, i, i)
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: []byte(v)})
		if i == 20 {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte("bad"), Value: []byte(`{"id":`)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "orders.jsonl")
	worker := connect.Config{
		"bootstrap.servers":            strings.Join(c.Brokers, ","),
		"key.converter":                "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":              "org.apache.kafka.connect.json.JsonConverter",
		"offset.storage.file.filename": filepath.Join(dir, "offsets"),
		"offset.flush.interval.ms":     "100",
	}
	name := c.Topic("files")
	sink := connect.ConnectorConfig{Name: name, Config: map[string]string{
		"connector.class":                   "FileStreamSink",
		"topics":                            topic,
		"file":                              out,
		"rotate.size.bytes":                 "200",
		"errors.tolerance":                  "all",
		"errors.deadletterqueue.topic.name": dlq,
		"errors.deadletterqueue.context.headers.enable": "true",
	}}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- connect.Standalone(wctx, worker, []connect.ConnectorConfig{sink}, nil) }()

	for len(lines(t, out+".*")) < 40 {
		select {
		case err := <-done:
			t.Fatalf("worker stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("only %d lines", len(lines(t, out+".*")))
		case <-time.After(100 * time.Millisecond):
		}
	}
	got := lines(t, out+".*")
	seen := map[string]bool{}
	for _, l := range got {
		seen[l] = true
	}
	for i := 0; i < 40; i++ {
		if l := fmt.Sprintf(`{"id":%d,"name":"n%d"}`, i, i); !seen[l] {
			t.Fatalf("missing %s in %v", l, got)
		}
	}
	if segs, _ := filepath.Glob(out + ".*"); len(segs) < 3 {
		t.Fatalf("rolled into %d segments, want several of ~200 bytes", len(segs))
	}

	// The dead-letter queue has the bad record and why.
	rd := c.Client(kgo.ConsumeTopics(dlq), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var dead *kgo.Record
	for dead == nil && ctx.Err() == nil {
		rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) { dead = r })
	}
	if dead == nil || string(dead.Key) != "bad" {
		t.Fatalf("dlq record %+v", dead)
	}
	hdr := map[string]string{}
	for _, h := range dead.Headers {
		hdr[h.Key] = string(h.Value)
	}
	if hdr["__connect.errors.topic"] != topic || !strings.Contains(hdr["__connect.errors.exception.message"], "not valid JSON") {
		t.Fatalf("dlq headers %v", hdr)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Offsets were committed: the group is at the end of both partitions.
	adm := c.Admin()
	cos, err := adm.FetchOffsets(ctx, "connect-"+name)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	cos.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != 41 {
		t.Fatalf("committed offsets sum to %d, want 41", total)
	}
}
