package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
)

// TestTutorial runs the Kafka quick start as written: create a topic with one
// partition, list it, produce two lines, consume from the beginning.
func TestTutorial(t *testing.T) {
	t.Parallel()
	c, brokers := cluster(t, 1)
	topic := c.Topic("test")

	r := ok(t, "", "topics", "create", topic, "--partitions", "1", "--replication-factor", "1", brokers)
	equalLines(t, "create", r.stdout, "Created topic "+topic+".")

	r = ok(t, "", "topics", "list", brokers)
	if !slices.Contains(lines(r.stdout), topic) {
		t.Fatalf("topics list does not show %s: %q", topic, r.stdout)
	}

	r = ok(t, "This is a message\nThis is another message\n", "produce", topic, brokers)
	if !strings.Contains(r.stderr, "2 records acknowledged") {
		t.Fatalf("produce stderr: %q", r.stderr)
	}

	r = ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "2", brokers)
	equalLines(t, "consume", r.stdout, "This is a message", "This is another message")
	if !strings.Contains(r.stderr, "Processed a total of 2 messages") {
		t.Fatalf("consume stderr: %q", r.stderr)
	}

}

// TestBrokersFromEnv: without --brokers the client commands use
// KAFKI_BROKERS. (Not parallel: it sets the environment.)
func TestBrokersFromEnv(t *testing.T) {
	c, _ := cluster(t, 1)
	topic := c.Topic("env")
	t.Setenv(EnvBrokers, strings.Join(c.Brokers, ","))
	ok(t, "", "topics", "create", topic, "--partitions", "1")
	ok(t, "a\nb\n", "produce", topic)
	r := ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "2")
	equalLines(t, "consume", r.stdout, "a", "b")
	// --brokers wins over the environment.
	t.Setenv(EnvBrokers, deadPort(t))
	ok(t, "", "topics", "describe", topic, "--brokers", strings.Join(c.Brokers, ","))
}

func TestTopicsDescribeAndDelete(t *testing.T) {
	t.Parallel()
	c, brokers := cluster(t, 0)
	topic := c.Topic("described")
	ok(t, "", "topics", "create", topic, "--partitions", "3", "--config", "cleanup.policy=compact", "--config", "retention.ms=3600000", brokers)
	ok(t, "k1:a\nk2:b\nk3:c\nk4:d\n", "produce", topic, "--key-separator", ":", brokers)

	r := ok(t, "", "topics", "describe", topic, brokers)
	out := lines(r.stdout)
	if len(out) != 4 {
		t.Fatalf("describe: want a topic line and 3 partition lines, got %q", out)
	}
	for _, want := range []string{"Topic: " + topic, "PartitionCount: 3", "cleanup.policy=compact", "retention.ms=3600000"} {
		if !strings.Contains(out[0], want) {
			t.Fatalf("describe topic line %q lacks %q", out[0], want)
		}
	}
	var total int
	for i, l := range out[1:] {
		for _, want := range []string{fmt.Sprintf("Partition: %d\t", i), "Leader: ", "Replicas: ", "Isr: ", "StartOffset: 0"} {
			if !strings.Contains(l, want) {
				t.Fatalf("describe partition line %q lacks %q", l, want)
			}
		}
		var end int
		if _, err := fmt.Sscanf(l[strings.Index(l, "EndOffset: "):], "EndOffset: %d", &end); err != nil {
			t.Fatalf("describe partition line %q: %v", l, err)
		}
		total += end
	}
	if total != 4 {
		t.Fatalf("end offsets add up to %d, want 4", total)
	}

	failsWith(t, 1, "already exists", "", "topics", "create", topic, brokers)
	ok(t, "", "topics", "create", topic, "--if-not-exists", brokers)

	r = ok(t, "", "topics", "delete", topic, brokers)
	equalLines(t, "delete", r.stdout, "Deleted topic "+topic+".")
	// Deletion is asynchronous on a real cluster: wait until it is gone.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = ok(t, "", "topics", "list", brokers)
		if !slices.Contains(lines(r.stdout), topic) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s still listed after delete", topic)
		}
		time.Sleep(200 * time.Millisecond)
	}
	failsWith(t, 1, fmt.Sprintf("topic %q does not exist", topic), "", "topics", "delete", topic, brokers)
	ok(t, "", "topics", "delete", topic, "--if-exists", brokers)
	failsWith(t, 1, fmt.Sprintf("topic %q does not exist", topic), "", "topics", "describe", topic, brokers)
}

func TestProduceConsumeKeysHeadersJSON(t *testing.T) {
	t.Parallel()
	c, brokers := cluster(t, 0)
	topic := c.Topic("keyed")
	ok(t, "", "topics", "create", topic, "--partitions", "1", brokers)
	r := ok(t, "user1:hello\nuser2:a:b\n:no key\n", "produce", topic, "--key-separator", ":", "--header", "source=cli", "--header", "v=1", brokers)
	if !strings.Contains(r.stderr, "3 records acknowledged") {
		t.Fatalf("produce stderr: %q", r.stderr)
	}
	ok(t, "plain\n", "produce", topic, brokers)

	r = ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "4", "--print-key", brokers)
	equalLines(t, "--print-key", r.stdout, "user1\thello", "user2\ta:b", "\tno key", "null\tplain")

	r = ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "4", "--print-partition", "--print-offset", "--print-headers", "--print-key", brokers)
	equalLines(t, "--print-*", r.stdout,
		"Partition:0\tOffset:0\tsource:cli,v:1\tuser1\thello",
		"Partition:0\tOffset:1\tsource:cli,v:1\tuser2\ta:b",
		"Partition:0\tOffset:2\tsource:cli,v:1\t\tno key",
		"Partition:0\tOffset:3\tNO_HEADERS\tnull\tplain")

	r = ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "1", "--print-timestamp", brokers)
	var ts int64
	if _, err := fmt.Sscanf(r.stdout, "CreateTime:%d\thello", &ts); err != nil || time.Since(time.UnixMilli(ts)) > time.Hour {
		t.Fatalf("--print-timestamp: %q (%v)", r.stdout, err)
	}

	r = ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "4", "--format", "json", brokers)
	var recs []jsonRecord
	for _, l := range lines(r.stdout) {
		var jr jsonRecord
		if err := json.Unmarshal([]byte(l), &jr); err != nil {
			t.Fatalf("json line %q: %v", l, err)
		}
		recs = append(recs, jr)
	}
	if len(recs) != 4 {
		t.Fatalf("json: %d records, want 4", len(recs))
	}
	first := recs[0]
	if first.Topic != topic || first.Partition != 0 || first.Offset != 0 || first.Key == nil || *first.Key != "user1" ||
		first.Value == nil || *first.Value != "hello" || len(first.Headers) != 2 ||
		first.Headers[0].Key != "source" || *first.Headers[0].Value != "cli" || time.Since(time.UnixMilli(first.Timestamp)) > time.Hour {
		t.Fatalf("json first record: %+v", first)
	}
	if recs[3].Key != nil || *recs[3].Value != "plain" || len(recs[3].Headers) != 0 {
		t.Fatalf("json last record: %+v", recs[3])
	}

	// A line without the separator is an error naming the line; the lines
	// before it are still delivered.
	r = failsWith(t, 1, `line 2 has no key separator ":"`, "k:v\nnovalue\nk:w\n", "produce", topic, "--key-separator", ":", brokers)
	if !strings.Contains(r.stderr, "1 record acknowledged") {
		t.Fatalf("stderr: %q", r.stderr)
	}
}

func TestConsumePartitionOffsetTimeout(t *testing.T) {
	t.Parallel()
	c, brokers := cluster(t, 0)
	topic := c.Topic("parts")
	ok(t, "", "topics", "create", topic, "--partitions", "2", brokers)
	ok(t, "a\nb\nc\n", "produce", topic, "--partition", "1", brokers)
	ok(t, "x\n", "produce", topic, "--partition", "0", brokers)

	r := ok(t, "", "consume", topic, "--partition", "1", "--offset", "1", "--timeout", "2s", brokers)
	equalLines(t, "partition 1 from offset 1", r.stdout, "b", "c")
	r = ok(t, "", "consume", topic, "--partition", "1", "--offset", "earliest", "--max-messages", "3", brokers)
	equalLines(t, "partition 1 from earliest", r.stdout, "a", "b", "c")
	r = ok(t, "", "consume", topic, "--partition", "0", "--from-beginning", "--timeout", "2s", brokers)
	equalLines(t, "partition 0", r.stdout, "x")
	// latest: nothing old; --timeout ends the wait.
	r = ok(t, "", "consume", topic, "--partition", "1", "--offset", "latest", "--timeout", "1s", brokers)
	equalLines(t, "latest", r.stdout)
	if r.took > 20*time.Second {
		t.Fatalf("--timeout 1s took %s", r.took)
	}
	// Without --from-beginning a consumer starts at the end.
	r = ok(t, "", "consume", topic, "--timeout", "1s", brokers)
	equalLines(t, "default start", r.stdout)
	// Every partition from the beginning.
	r = ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "4", brokers)
	got := lines(r.stdout)
	slices.Sort(got)
	if strings.Join(got, ",") != "a,b,c,x" {
		t.Fatalf("all partitions: %q", got)
	}

	failsWith(t, 1, fmt.Sprintf("topic %q has no partition 5 (it has 2)", topic), "", "consume", topic, "--partition", "5", brokers)
	failsWith(t, 1, fmt.Sprintf("topic %q has no partition 2", topic), "a\n", "produce", topic, "--partition", "2", brokers)
}

func TestConsumeGroupCommits(t *testing.T) {
	t.Parallel()
	c, brokers := cluster(t, 0)
	topic := c.Topic("grouped")
	group := c.Topic("readers")
	ok(t, "", "topics", "create", topic, "--partitions", "1", brokers)
	ok(t, "one\ntwo\nthree\n", "produce", topic, brokers)

	r := ok(t, "", "consume", topic, "--group", group, "--from-beginning", "--max-messages", "2", brokers)
	equalLines(t, "first run", r.stdout, "one", "two")
	// The group committed what it printed: the next run goes on from there.
	r = ok(t, "", "consume", topic, "--group", group, "--from-beginning", "--max-messages", "1", brokers)
	equalLines(t, "second run", r.stdout, "three")
	ok(t, "four\n", "produce", topic, brokers)
	r = ok(t, "", "consume", topic, "--group", group, "--timeout", "3s", brokers)
	equalLines(t, "third run", r.stdout, "four")
}

// TestConsumeInterrupt: without --max-messages the consumer runs until it is
// interrupted, then exits 0 with what it printed.
func TestConsumeInterrupt(t *testing.T) {
	t.Parallel()
	c, brokers := cluster(t, 0)
	topic := c.Topic("forever")
	ok(t, "", "topics", "create", topic, "--partitions", "1", brokers)
	ok(t, "a\nb\n", "produce", topic, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r := kafkiCtx(t, ctx, strings.NewReader(""), "consume", topic, "--from-beginning", brokers)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	equalLines(t, "interrupted consume", r.stdout, "a", "b")
}

// TestProduceInterrupt: an interrupt while standard input is open still
// delivers and reports what was read.
func TestProduceInterrupt(t *testing.T) {
	t.Parallel()
	c, brokers := cluster(t, 0)
	topic := c.Topic("interrupted")
	ok(t, "", "topics", "create", topic, "--partitions", "1", brokers)
	pr, pw := io.Pipe()
	defer pw.Close()
	go fmt.Fprint(pw, "first\nsecond\n")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(2 * time.Second)
		cancel()
	}()
	r := kafkiCtx(t, ctx, pr, "produce", topic, brokers)
	if r.code != 130 || !strings.Contains(r.stderr, "2 records acknowledged") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	checkOneLineError(t, r.stderr, "interrupted")
	r = ok(t, "", "consume", topic, "--from-beginning", "--max-messages", "2", brokers)
	equalLines(t, "delivered", r.stdout, "first", "second")
}

// TestProduceProgress: a long run reports progress on standard error.
func TestProduceProgress(t *testing.T) {
	c, brokers := cluster(t, 0)
	topic := c.Topic("progress")
	ok(t, "", "topics", "create", topic, "--partitions", "1", brokers)
	old := progressEvery
	progressEvery = 100 * time.Millisecond
	defer func() { progressEvery = old }()
	pr, pw := io.Pipe()
	go func() {
		for i := range 5 {
			fmt.Fprintf(pw, "line %d\n", i)
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	r := kafkiCtx(t, context.Background(), pr, "produce", topic, brokers)
	if r.code != 0 || !strings.Contains(r.stderr, "records acknowledged so far") || !strings.Contains(r.stderr, "5 records acknowledged\n") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	c, brokers := cluster(t, 0)
	topic := c.Topic("exists")
	ok(t, "", "topics", "create", topic, "--partitions", "1", brokers)
	missing := c.Topic("missing")

	cases := []struct {
		name  string
		code  int
		want  string
		stdin string
		args  []string
	}{
		{"produce unknown topic", 1, fmt.Sprintf("topic %q does not exist", missing), "a\n", []string{"produce", missing, brokers}},
		{"consume unknown topic", 1, fmt.Sprintf("topic %q does not exist", missing), "", []string{"consume", missing, brokers}},
		{"consume group unknown topic", 1, fmt.Sprintf("topic %q does not exist", missing), "", []string{"consume", missing, "--group", "g", brokers}},
		{"bad flag", 2, "unknown flag: --nope", "", []string{"consume", topic, "--nope", brokers}},
		{"bad flag value", 2, "--max-messages", "", []string{"consume", topic, "--max-messages", "many", brokers}},
		{"unknown command", 2, `unknown command "frobnicate"`, "", []string{"frobnicate"}},
		{"unknown topics command", 2, `unknown command "frob"`, "", []string{"topics", "frob"}},
		{"missing topic arg", 2, "missing TOPIC", "", []string{"produce"}},
		{"extra arg", 2, `unexpected argument "b"`, "", []string{"consume", "a", "b"}},
		{"bad config value", 2, `"often" is not an integer`, "", []string{"topics", "create", missing, "--config", "retention.ms=often", brokers}},
		{"bad cleanup policy", 2, `"sometimes" is not delete, compact`, "", []string{"topics", "create", missing, "--config", "cleanup.policy=sometimes", brokers}},
		{"unknown config", 2, `unknown topic config "retention.msec"`, "", []string{"topics", "create", missing, "--config", "retention.msec=1", brokers}},
		{"config without value", 2, "want key=value", "", []string{"topics", "create", missing, "--config", "retention.ms", brokers}},
		{"bad topic name", 2, "only ASCII letters", "", []string{"topics", "create", "a topic", brokers}},
		{"zero partitions", 2, "--partitions must be at least 1", "", []string{"topics", "create", missing, "--partitions", "0", brokers}},
		{"offset without partition", 2, "--offset needs --partition", "", []string{"consume", topic, "--offset", "3", brokers}},
		{"bad offset", 2, `bad --offset "soon"`, "", []string{"consume", topic, "--partition", "0", "--offset", "soon", brokers}},
		{"bad format", 2, `bad --format "xml"`, "", []string{"consume", topic, "--format", "xml", brokers}},
		{"bad header", 2, `bad --header "nokey"`, "", []string{"produce", topic, "--header", "nokey", brokers}},
		{"bad broker address", 2, `bad broker address "nohost"`, "", []string{"topics", "list", "--brokers", "nohost"}},
		{"broker bad listen", 2, "bad --listen", "", []string{"broker", "--listen", "somewhere"}},
		{"broker wildcard listen", 2, "needs a specific address", "", []string{"broker", "--listen", "0.0.0.0:0"}},
		{"broker bad config", 2, `does not know "log.flavour"`, "", []string{"broker", "--listen", "127.0.0.1:0", "--config", "log.flavour=x"}},
		{"broker bad count", 2, "--brokers must be between 1 and 64", "", []string{"broker", "--brokers", "0"}},
	}
	if !kafkatest.Real() {
		cases = append(cases, struct {
			name  string
			code  int
			want  string
			stdin string
			args  []string
		}{"replication factor too large", 1, "INVALID_REPLICATION_FACTOR", "", []string{"topics", "create", missing, "--replication-factor", "9", brokers}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			failsWith(t, tc.code, tc.want, tc.stdin, tc.args...)
		})
	}
}

// TestUnreachableBroker: a broker that does not answer fails in bounded time
// with a message naming its address.
func TestUnreachableBroker(t *testing.T) {
	t.Parallel()
	dead := deadPort(t)
	for _, args := range [][]string{
		{"topics", "list"},
		{"topics", "create", "x"},
		{"topics", "describe", "x"},
		{"topics", "delete", "x"},
		{"produce", "x"},
		{"consume", "x", "--from-beginning"},
	} {
		t.Run(strings.Join(args, "_"), func(t *testing.T) {
			t.Parallel()
			r := failsWith(t, 1, "cannot reach broker(s) "+dead, "a\n", append(args, "--brokers", dead, "--connect-timeout", "1s")...)
			if r.took > 10*time.Second {
				t.Fatalf("took %s with --connect-timeout 1s", r.took)
			}
		})
	}
	// The default bound is about ten seconds.
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		r := failsWith(t, 1, "cannot reach broker(s) "+dead+" within 10s: dial: connect: connection refused", "", "topics", "list", "--brokers", dead)
		if r.took > 15*time.Second {
			t.Fatalf("took %s", r.took)
		}
	})
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"broker", "--help"}, {"topics", "--help"}, {"topics"}, {"produce", "--help"}, {"consume", "--help"}} {
		r := ok(t, "", args...)
		if !strings.Contains(r.stdout, "Usage:") {
			t.Fatalf("kafki %s: no usage: %q", strings.Join(args, " "), r.stdout)
		}
	}
	r := ok(t, "", "broker", "--help")
	if !strings.Contains(r.stdout, "--brokers int") || strings.Contains(r.stdout, "seed broker addresses") {
		t.Fatalf("broker --help should show its own --brokers count only:\n%s", r.stdout)
	}
}

func TestListenAddrs(t *testing.T) {
	t.Parallel()
	host, ports, err := listenAddrs("127.0.0.1:9092", 3)
	if err != nil || host != "127.0.0.1" || !slices.Equal(ports, []int{9092, 9093, 9094}) {
		t.Fatalf("got %s %v %v", host, ports, err)
	}
	host, ports, err = listenAddrs("localhost:0", 2)
	if err != nil || host != "127.0.0.1" || !slices.Equal(ports, []int{0, 0}) {
		t.Fatalf("got %s %v %v", host, ports, err)
	}
	if _, _, err := listenAddrs("127.0.0.1:65535", 2); err == nil {
		t.Fatal("ports past 65535 accepted")
	}
}
