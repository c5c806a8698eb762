package runtime

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
)

// A task that moves to an instance holding its standby restores only the
// tail of its changelog, not the whole of it.
func TestStandbyTakesOver(t *testing.T) {
	c := kafkatest.New(t, 3)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 4, nil)
	c.CreateTopic(out, 4, nil)
	appID := c.Topic("standby")
	topo := dslWordCount(t, in, out)
	opts := func() []Opt { return testOpts(c, t.TempDir(), NumStandbyReplicas(1)) }

	a1 := startApp(t, topo, appID, opts()...)
	a2 := startApp(t, topo, appID, opts()...)
	tasksOf := func(a *App) (active, standby int) {
		for _, th := range a.LocalThreads() {
			active += len(th.Active)
			standby += len(th.Standby)
		}
		return
	}
	waitFor(t, "2 active and 2 standby tasks on each instance", 60*time.Second, func() bool {
		a, s := tasksOf(a1)
		b, u := tasksOf(a2)
		return a == 2 && s == 2 && b == 2 && u == 2 && a1.State() == Running && a2.State() == Running
	})

	const n = 20000
	want := map[string]int64{}
	var words []string
	for i := 0; i < n; i++ {
		w := fmt.Sprintf("w%04d", i%1000)
		words = append(words, w)
		want[w]++
	}
	produceWords(t, c.Client(), in, words)
	expectCounts(t, c, out, want, 60*time.Second)

	// Wait until a2's standbys reached the end of a1's changelogs.
	var a1Processed int64
	for _, tm := range a1.Metrics().Tasks {
		if !tm.Standby {
			a1Processed += tm.Processed
		}
	}
	changelog := appID + "-counts-changelog"
	var applied int64
	waitFor(t, "standbys caught up", 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := c.Admin().ListEndOffsets(ctx, changelog)
		if err != nil {
			return false
		}
		applied = 0
		n := 0
		for _, r := range a2.Metrics().Restores {
			if !r.Standby {
				continue
			}
			n++
			applied += r.Restored
			if e, ok := ends.Lookup(r.Topic, r.Partition); !ok || r.Position < e.Offset {
				return false
			}
		}
		return n == 2
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a1.Close(ctx); err != nil {
		t.Fatalf("close a1: %v", err)
	}
	waitFor(t, "a2 runs every task", 60*time.Second, func() bool {
		a, _ := tasksOf(a2)
		return a == 4 && a2.State() == Running
	})
	more := []string{"w0001", "w0002", "w0003"}
	produceWords(t, c.Client(), in, more)
	for _, w := range more {
		want[w]++
	}
	expectCounts(t, c, out, want, 60*time.Second)

	var replayed int64
	for _, r := range a2.Metrics().Restores {
		if !r.Standby {
			replayed += r.Restored
		}
	}
	t.Logf("a1 processed %d records; a2's standbys applied %d changelog records; taking over replayed %d", a1Processed, applied, replayed)
	if replayed >= a1Processed/10 {
		t.Fatalf("taking over replayed %d changelog records of %d: the standby was not used", replayed, a1Processed)
	}
}
