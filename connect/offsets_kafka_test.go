package connect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/connect"
	"github.com/kafki/kafki/internal/kafkatest"
)

// TestKafkaOffsetStoreReadsToTheEnd stores offsets plainly, in committed
// and aborted transactions, and in a transaction left open (its writer
// died), so that the topic ends in transaction markers and an open
// transaction. A fresh store must see exactly the committed offsets: the
// last committed one per partition, nothing aborted or still open.
func TestKafkaOffsetStoreReadsToTheEnd(t *testing.T) {
	c := kafkatest.New(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := c.Topic("offsets")
	cl := c.Client()
	store, err := connect.OpenKafkaOffsetStore(ctx, cl, topic)
	if err != nil {
		t.Fatal(err)
	}
	part := func(i int) map[string]any { return map[string]any{"p": fmt.Sprint(i)} }
	off := func(n int) map[string]any { return map[string]any{"n": float64(n)} }
	for i := 0; i < 3; i++ {
		if err := store.Put("conn", []connect.OffsetEntry{{Partition: part(i), Offset: off(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	// end is TryCommit, TryAbort, or nil to leave the transaction open.
	txn := func(id string, end *kgo.TransactionEndTry, entries ...connect.OffsetEntry) {
		t.Helper()
		p := c.Client(kgo.TransactionalID(id))
		recs, err := store.Records("conn", entries)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if end != nil {
			if err := p.EndTransaction(ctx, *end); err != nil {
				t.Fatal(err)
			}
		}
	}
	commit, abort := kgo.TryCommit, kgo.TryAbort
	txn("a", &commit, connect.OffsetEntry{Partition: part(0), Offset: off(10)})
	txn("b", &abort, connect.OffsetEntry{Partition: part(1), Offset: off(99)})
	txn("c", &commit, connect.OffsetEntry{Partition: part(1), Offset: off(11)})
	txn("d", &abort, connect.OffsetEntry{Partition: part(0), Offset: off(98)}, connect.OffsetEntry{Partition: part(2), Offset: off(97)})

	want := map[string]any{"0": off(10), "1": off(11), "2": off(2)}
	check := func(what string) {
		t.Helper()
		fresh, err := connect.OpenKafkaOffsetStore(ctx, c.Client(), topic)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := map[string]any{}
		for i := 0; i < 3; i++ {
			o, err := fresh.Get("conn", part(i))
			if err != nil {
				t.Fatal(err)
			}
			got[fmt.Sprint(i)] = o
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Fatalf("%s: read %s, want %s", what, g, w)
		}
	}
	check("ending in an abort marker")
	// A writer that dies inside its transaction: the read stops below it
	// instead of waiting for it.
	txn("e", nil, connect.OffsetEntry{Partition: part(2), Offset: off(96)})
	check("ending in an open transaction")
}
