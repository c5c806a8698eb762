package main

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// kcatPath returns kcat's path, failing the test (not skipping it) when it
// is missing: `make setup` installs it.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not installed (the interoperability tests need it): run `make setup`")
	}
	return p
}

// kcat runs kcat with a time limit and returns its standard output.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// TestKcatReadsKafkiProduce: records written by kafki produce, with keys and
// headers, read back by kcat (librdkafka).
func TestKcatReadsKafkiProduce(t *testing.T) {
	t.Parallel()
	kcatPath(t)
	c, brokers := cluster(t, 0)
	topic := c.Topic("to-kcat")
	ok(t, "", "topics", "create", topic, "--partitions", "3", brokers)
	in := "alice:first value\nbob:second: with colon\ncarol:\n"
	r := ok(t, in, "produce", topic, "--key-separator", ":", "--header", "source=kafki", "--header", "trace=42", brokers)
	if !strings.Contains(r.stderr, "3 records acknowledged") {
		t.Fatalf("produce: %q", r.stderr)
	}
	out := kcat(t, "", "-C", "-b", strings.Join(c.Brokers, ","), "-t", topic, "-e", "-q", "-f", "%k|%s|%h\n")
	got := lines(out)
	slices.Sort(got)
	want := []string{
		"alice|first value|source=kafki,trace=42",
		"bob|second: with colon|source=kafki,trace=42",
		"carol||source=kafki,trace=42",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("kcat read:\ngot  %q\nwant %q", got, want)
	}

	// Keys land on the partition Kafka's own producer would pick (murmur2),
	// so both tools agree on where a key lives: kcat with -X
	// partitioner=murmur2_random puts the same key in the same partition.
	out = kcat(t, "", "-C", "-b", strings.Join(c.Brokers, ","), "-t", topic, "-e", "-q", "-f", "%k %p\n")
	parts := map[string]string{}
	for _, l := range lines(out) {
		k, p, _ := strings.Cut(l, " ")
		parts[k] = p
	}
	other := c.Topic("kcat-keys")
	ok(t, "", "topics", "create", other, "--partitions", "3", brokers)
	kcat(t, "alice:x\nbob:y\ncarol:z\n", "-P", "-b", strings.Join(c.Brokers, ","), "-t", other, "-K:", "-X", "partitioner=murmur2_random")
	out = kcat(t, "", "-C", "-b", strings.Join(c.Brokers, ","), "-t", other, "-e", "-q", "-f", "%k %p\n")
	for _, l := range lines(out) {
		k, p, _ := strings.Cut(l, " ")
		if parts[k] != p {
			t.Fatalf("key %s: kafki put it in partition %s, kcat (murmur2) in %s", k, parts[k], p)
		}
	}
}

// TestKafkiConsumesKcatProduce: records written by kcat, with keys and
// headers, read back by kafki consume.
func TestKafkiConsumesKcatProduce(t *testing.T) {
	t.Parallel()
	kcatPath(t)
	c, brokers := cluster(t, 0)
	topic := c.Topic("from-kcat")
	ok(t, "", "topics", "create", topic, "--partitions", "1", brokers)
	kcat(t, "k1:hello world\nk2:second\n", "-P", "-b", strings.Join(c.Brokers, ","), "-t", topic, "-K:", "-H", "origin=kcat", "-H", "n=2")

	r := ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "2", brokers)
	equalLines(t, "values", r.stdout, "hello world", "second")
	r = ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "2", "--print-key", "--print-headers", brokers)
	equalLines(t, "keys and headers", r.stdout, "origin:kcat,n:2\tk1\thello world", "origin:kcat,n:2\tk2\tsecond")
	r = ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "1", "--format", "json", brokers)
	if !strings.Contains(r.stdout, `"key":"k1","value":"hello world","headers":[{"key":"origin","value":"kcat"},{"key":"n","value":"2"}]`) {
		t.Fatalf("json: %s", r.stdout)
	}
}
