package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConnectStandalone runs kafki connect standalone with a worker
// properties file and a connector JSON file: the file sink writes what
// kafki produce wrote, and Ctrl-C (context cancel) stops it cleanly.
func TestConnectStandalone(t *testing.T) {
	c, brokers := cluster(t, 1)
	topic := c.Topic("lines")
	ok(t, "", "topics", "create", topic, "--partitions", "1", brokers)
	ok(t, "first\nsecond\n", "produce", topic, brokers)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	worker := filepath.Join(dir, "worker.properties")
	os.WriteFile(worker, []byte("# worker\nkey.converter=org.apache.kafka.connect.storage.StringConverter\n"+
		"value.converter=org.apache.kafka.connect.storage.StringConverter\noffset.storage.file.filename="+filepath.Join(dir, "offsets")+
		"\noffset.flush.interval.ms=100\n"), 0o644)
	conn := filepath.Join(dir, "sink.json")
	os.WriteFile(conn, []byte(`{"name":"files","config":{"connector.class":"FileStreamSink","topics":"`+topic+`","file":"`+out+`"}}`), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		done <- kafkiCtx(t, ctx, strings.NewReader(""), "connect", "standalone", worker, conn, brokers)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(out)
		if string(b) == "\"first\"\n\"second\"\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file sink wrote %q", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	r := <-done
	if r.code != 0 || !strings.Contains(r.stdout, "Connect worker stopped.") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}

	failsWith(t, 2, "missing connector.json", "", "connect", "standalone", worker, brokers)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"name":"x","config":{"connector.class":"Nope"}}`), 0o644)
	failsWith(t, 1, `unknown connector class "Nope"`, "", "connect", "standalone", worker, bad, brokers)
}
