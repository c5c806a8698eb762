package runtime

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReadyzDuringRestore starts an instance whose in-memory store must
// restore a changelog of 500k records:
// /readyz answers 503 (naming the restoration) while it restores and 200
// once it runs, and the store then holds every record.
func TestReadyzDuringRestore(t *testing.T) {
	const records = 500_000
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 1, nil)
	c.CreateTopic(out, 1, nil)
	appID := c.Topic("app")
	cl := changelog.ChangelogTopic(appID, "counts")
	// Not compacted: the in-process broker is slow to take 500k records
	// into a compacted topic, and restoration reads both alike.
	c.CreateTopic(cl, 1, nil)
	// Written in chunks: one flood of single-record produces makes the
	// in-process broker slow to answer anything else for a while.
	prod := c.Client(kgo.ProducerLinger(20 * time.Millisecond))
	t0 := time.Now()
	for i := 0; i < records; i += 20_000 {
		var rs []*kgo.Record
		for j := i; j < min(i+20_000, records); j++ {
			rs = append(rs, &kgo.Record{Topic: cl, Partition: 0, Key: []byte(fmt.Sprintf("k%07d", j)), Value: []byte("1")})
		}
		if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatalf("produce changelog: %v", err)
		}
	}
	t.Logf("%d changelog records written in %v", records, time.Since(t0))

	app, err := New(wordCount(t, in, out, state.InMemory), appID, testOpts(c, t.TempDir(), AdminAddr("127.0.0.1:0"))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { app.Close(context.Background()) })
	addr := app.AdminAddr()
	t1 := time.Now()
	var saw503, sawRestoring bool
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, body := httpGet(t, "http://"+addr+"/readyz")
		if code == 200 {
			break
		}
		if code != 503 {
			t.Fatalf("/readyz: %d %s", code, body)
		}
		saw503 = true
		sawRestoring = sawRestoring || strings.Contains(body, "restoring: "+cl)
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 2 minutes: %s", body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("ready %v after start", time.Since(t1))
	if !saw503 || !sawRestoring {
		t.Fatalf("/readyz never answered 503 naming the restoration (503 seen: %v, restoring named: %v)", saw503, sawRestoring)
	}
	if app.State() != Running {
		t.Fatalf("ready while %v", app.State())
	}
	view, err := KeyValueStoreView(app, "counts", serde.String(), decimal{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := view.ApproximateNumEntries(); err != nil || n != int64(records) {
		t.Fatalf("store holds %d entries (%v) once ready, want %d", n, err, records)
	}
	if got := sumMetric(scrape(t, addr), "kafki_stream_task_restore_total", nil); got != float64(records) {
		t.Fatalf("kafki_stream_task_restore_total = %v, want %d", got, records)
	}
}
