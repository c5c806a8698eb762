package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A checkpoint below the log start of its changelog (records deleted while
// the instance was down) wipes the store and restores it from the
// beginning, rather than restoring over stale content: counts start again
// from what the changelog still has, here nothing.
func TestCheckpointOutOfRangeResetsStore(t *testing.T) {
	c := kafkatest.New(t, 1)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 1, nil)
	c.CreateTopic(out, 1, nil)
	appID := c.Topic("reset")
	topo := wordCount(t, in, out, state.RocksDB)
	dir := t.TempDir()
	cl := c.Client()

	a1 := startApp(t, topo, appID, testOpts(c, dir)...)
	produceWords(t, cl, in, []string{"a", "a", "b"})
	expectCounts(t, c, out, map[string]int64{"a": 2, "b": 1}, 60*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a1.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}

	// The changelog moves on without the instance and loses its head.
	changelogTopic := appID + "-counts-changelog"
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: changelogTopic, Partition: 0, Key: []byte("other"), Value: []byte("7")}).FirstErr(); err != nil {
		t.Fatalf("produce to changelog: %v", err)
	}
	adm := c.Admin()
	ends, err := adm.ListEndOffsets(ctx, changelogTopic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(changelogTopic, 0)
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: changelogTopic, Partition: 0, At: end.Offset})
	resp, err := adm.DeleteRecords(ctx, del)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("delete records: %v", err)
	}

	a2 := startApp(t, topo, appID, testOpts(c, dir)...)
	produceWords(t, cl, in, []string{"a", "b"})
	expectCounts(t, c, out, map[string]int64{"a": 1, "b": 1}, 60*time.Second)
	if n := a2.Metrics().StoreResets; n != 1 {
		t.Fatalf("store resets %d, want 1", n)
	}
}

// deleteAll moves the log start of every partition of topic to its end.
func deleteAll(t *testing.T, c *kafkatest.Cluster, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := c.Admin()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	del := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) { del.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset}) })
	resp, err := adm.DeleteRecords(ctx, del)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("delete records of %s: %v", topic, err)
	}
}

// A standby whose checkpoint fell below the log start of its changelog
// while its instance was away is wiped, not applied over stale content.
func TestStandbyCheckpointOutOfRangeResetsStore(t *testing.T) {
	c := kafkatest.New(t, 1)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 1, nil)
	c.CreateTopic(out, 1, nil)
	appID := c.Topic("standby-reset")
	topo := wordCount(t, in, out, state.RocksDB)
	dir1, dir2 := t.TempDir(), t.TempDir()
	opts := func(dir string) []Opt { return testOpts(c, dir, NumStandbyReplicas(1)) }
	cl := c.Client()

	startApp(t, topo, appID, opts(dir1)...)
	produceWords(t, cl, in, []string{"a", "a", "b"})
	expectCounts(t, c, out, map[string]int64{"a": 2, "b": 1}, 60*time.Second)
	a2 := startApp(t, topo, appID, opts(dir2)...)
	changelogTopic := appID + "-counts-changelog"
	waitFor(t, "a standby on the second instance, caught up", 60*time.Second, func() bool {
		for _, r := range a2.Metrics().Restores {
			if r.Standby && r.Topic == changelogTopic && r.Position >= 2 {
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a2.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}

	produceWords(t, cl, in, []string{"c"})
	expectCounts(t, c, out, map[string]int64{"a": 2, "b": 1, "c": 1}, 60*time.Second)
	deleteAll(t, c, changelogTopic)

	a3 := startApp(t, topo, appID, opts(dir2)...)
	waitFor(t, "the standby store reset", 60*time.Second, func() bool {
		th := a3.LocalThreads()
		return len(th) == 1 && len(th[0].Standby) == 1 && len(th[0].Active) == 0 && a3.Metrics().StoreResets == 1
	})
}
