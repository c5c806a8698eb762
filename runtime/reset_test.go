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
