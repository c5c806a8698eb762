package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testLogger logs to stderr when KAFKI_TEST_LOG is set (at warn level with
// "warn", debug otherwise), and nowhere by default.
func testLogger() *slog.Logger {
	switch os.Getenv("KAFKI_TEST_LOG") {
	case "":
		return slog.New(slog.DiscardHandler)
	case "warn":
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	default:
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// startApp starts an instance of topo under appID with fast commits and
// registers a Close for the end of the test, in case the test stops early.
func startApp(t *testing.T, c *kafkatest.Cluster, topo *topology.Topology, appID, stateDir string) *runtime.App {
	t.Helper()
	app, err := runtime.New(topo, appID,
		runtime.SeedBrokers(c.Brokers...),
		runtime.StateDir(stateDir),
		runtime.CommitInterval(100*time.Millisecond),
		runtime.SessionTimeout(6*time.Second),
		runtime.RebalanceTimeout(20*time.Second),
		runtime.Logger(testLogger()))
	if err != nil {
		t.Fatalf("new app %s: %v", appID, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start app %s: %v", appID, err)
	}
	t.Cleanup(func() { closeApp(t, app) })
	return app
}

// closeApp closes app cleanly (committing its offsets and leaving the
// group). Closing an app twice is harmless, so the cleanup registered by
// startApp may run after an explicit close.
func closeApp(t *testing.T, app *runtime.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Errorf("close app: %v", err)
	}
}

// produce writes recs to the partitions they name and waits for the acks:
// the test places keys on partitions itself so that it can compute each
// task's stream time.
func produce(t *testing.T, c *kafkatest.Cluster, recs []*kgo.Record) {
	t.Helper()
	cl := c.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// sourceTopics lists what appID consumes when running topo: its input
// topics and its repartition topics.
func sourceTopics(appID string, topo *topology.Topology) []string {
	var topics []string
	for _, s := range topo.SubTopologies(appID) {
		topics = append(topics, s.SourceTopics...)
	}
	return topics
}

// waitDrained waits until app appID has committed every source topic up
// to its end, failing the test after timeout. It checks that app is still
// alive on every round, so that a failed app fails the test at once
// instead of at the deadline.
//
// Committed offsets are read before end offsets: an input committed up to
// its end means whatever it caused on repartition topics was written
// before that commit, so the end offsets read afterwards count it.
func waitDrained(t *testing.T, c *kafkatest.Cluster, app *runtime.App, appID string, topo *topology.Topology, timeout time.Duration) {
	t.Helper()
	topics := sourceTopics(appID, topo)
	adm := kadm.NewClient(c.Client())
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-app.Done():
			t.Fatalf("app %s stopped while processing: %v", appID, app.Err())
		default:
		}
		done, err := drained(adm, appID, topics)
		if err != nil {
			t.Fatalf("waiting for %s: %v", appID, err)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has not committed all of %v after %v", appID, topics, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func drained(adm *kadm.Client, group string, topics []string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topics...)
	if errors.Is(err, kerr.GroupIDNotFound) || errors.Is(err, kerr.CoordinatorLoadInProgress) ||
		errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.NotCoordinator) {
		return false, nil // the group has not committed yet, or its coordinator is moving
	}
	if err != nil {
		return false, fmt.Errorf("fetch committed offsets of %s: %w", group, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return false, fmt.Errorf("list end offsets of %v: %w", topics, err)
	}
	done := true
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset == 0 {
			return
		}
		o, ok := committed.Lookup(e.Topic, e.Partition)
		if !ok || o.Err != nil || o.At < e.Offset {
			done = false
		}
	})
	return done, nil
}

// readAll reads topic from its start to the end offsets it has when
// readAll is called.
func readAll(t *testing.T, c *kafkatest.Cluster, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(c.Client()).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	left := map[int32]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset > 0 {
			left[e.Partition] = e.Offset
		}
	})
	if len(left) == 0 {
		return nil
	}
	cl := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s: %v (read %d records, still waiting for partitions to offsets %v)", topic, err, len(out), left)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("read %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			out = append(out, r)
			if r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return out
}
