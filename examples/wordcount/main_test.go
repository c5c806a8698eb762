package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// wantCounts counts the words of lines the way the topology should.
func wantCounts(lines []string) map[string]int64 {
	want := map[string]int64{}
	for _, l := range lines {
		for _, w := range splitWords(l) {
			want[w]++
		}
	}
	return want
}

// parseCounts reads the table printCounts wrote.
func parseCounts(t *testing.T, out string) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	inTable := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "word" && f[1] == "count" {
			inTable = true
			continue
		}
		if !inTable || len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if len(f) != 2 || err != nil {
			t.Fatalf("bad table line %q in output:\n%s", sc.Text(), out)
		}
		got[f[0]] = n
	}
	if !inTable {
		t.Fatalf("no counts table in output:\n%s", out)
	}
	return got
}

// TestDemo runs the demo as `make demo` does: embedded broker, built-in
// text written twice, RocksDB store.
func TestDemo(t *testing.T) {
	cfg := defaultConfig()
	cfg.repeat = 2
	cfg.stateDir = t.TempDir()
	cfg.timeout = time.Minute
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	want := wantCounts(generate(2))
	if got := parseCounts(t, out.String()); !maps.Equal(got, want) {
		t.Fatalf("counts differ:\n got %v\nwant %v", got, want)
	}
	if want["the"] != 2*19 || want["kafka"] != 2*3 {
		t.Fatalf("the test's own word split is off: the=%d kafka=%d", want["the"], want["kafka"])
	}
	if !strings.Contains(out.String(), fmt.Sprintf("%d distinct words", len(want))) {
		t.Fatalf("summary line missing:\n%s", out.String())
	}
}

// TestDrainExistingTopic processes a topic written beforehand on a given
// broker, with the in-memory store, writing nothing to the input.
func TestDrainExistingTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "text"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("text"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var lines []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf("w%d w%d shared", i%7, i%13))
	}
	for _, l := range lines {
		cl.Produce(context.Background(), &kgo.Record{Value: []byte(l)}, nil)
	}
	if err := cl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	cfg := defaultConfig()
	cfg.brokers = strings.Join(c.ListenAddrs(), ",")
	cfg.input, cfg.output, cfg.store, cfg.drain = "text", "text-counts", "memory", true
	cfg.stateDir = t.TempDir()
	cfg.timeout = time.Minute
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "wrote") {
		t.Fatalf("drain mode wrote input:\n%s", out.String())
	}
	if got, want := parseCounts(t, out.String()), wantCounts(lines); !maps.Equal(got, want) {
		t.Fatalf("counts differ:\n got %v\nwant %v", got, want)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store", "leveldb"}, "--store must be rocksdb or memory"},
		{[]string{"--input", "x", "--output", "x"}, "same topic"},
		{[]string{"--repeat", "0"}, "--repeat must be at least 1"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		_, err := parseFlags(tc.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%v) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	// Drain mode on a topic that does not exist says so.
	cfg := defaultConfig()
	cfg.drain, cfg.input, cfg.timeout = true, "no-such-topic", 20*time.Second
	err := run(context.Background(), cfg, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no-such-topic does not exist") {
		t.Fatalf("drain of a missing topic: %v", err)
	}
}
