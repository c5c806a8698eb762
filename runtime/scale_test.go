package runtime

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// producer writes batches of words in the background and remembers the
// expected counts.
type producer struct {
	mu    sync.Mutex
	want  map[string]int64
	total int
}

func (p *producer) batch(t *testing.T, cl *kgo.Client, topic string, n int) {
	var words []string
	p.mu.Lock()
	for i := 0; i < n; i++ {
		w := fmt.Sprintf("w%03d", (p.total+i*7)%300)
		words = append(words, w)
		p.want[w]++
	}
	p.total += n
	p.mu.Unlock()
	produceWords(t, cl, topic, words)
}

func TestWordCountScaleOutAndMove(t *testing.T) {
	c := kafkatest.New(t, 3)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 6, nil)
	c.CreateTopic(out, 6, nil)
	appID := c.Topic("scale")
	topo := dslWordCount(t, in, out)
	prod := c.Client()
	p := &producer{want: map[string]int64{}}

	// Input flows all along, in batches between steps.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p.batch(t, prod, in, 200)
			time.Sleep(20 * time.Millisecond)
		}
	}()

	a1 := startApp(t, topo, appID, testOpts(c, t.TempDir())...)
	waitFor(t, "instance 1 running", 30*time.Second, func() bool { return a1.State() == Running })
	a2 := startApp(t, topo, appID, testOpts(c, t.TempDir())...)
	a3 := startApp(t, topo, appID, testOpts(c, t.TempDir())...)
	all := []*App{a1, a2, a3}
	activeOf := func(a *App) int {
		n := 0
		for _, th := range a.LocalThreads() {
			n += len(th.Active)
		}
		return n
	}
	waitFor(t, "6 tasks spread over 3 instances", 60*time.Second, func() bool {
		for _, a := range all {
			if a.State() != Running || activeOf(a) != 2 {
				return false
			}
		}
		return true
	})

	var last string
	defer func() {
		if t.Failed() {
			t.Log(last)
		}
	}()
	// Instance 2 leaves: its tasks move to 1 and 3 and are restored there
	// from their changelogs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a2.Close(ctx); err != nil {
		t.Fatalf("close instance 2: %v", err)
	}
	waitFor(t, "6 tasks on 2 instances", 60*time.Second, func() bool {
		ok := a1.State() == Running && a3.State() == Running && activeOf(a1)+activeOf(a3) == 6
		if !ok {
			last = fmt.Sprintf("a1 %v %+v, a3 %v %+v", a1.State(), a1.LocalThreads(), a3.State(), a3.LocalThreads())
		}
		return ok
	})
	close(stop)
	wg.Wait()
	expectCounts(t, c, out, p.want, 60*time.Second)

	var restored int64
	for _, a := range []*App{a1, a3} {
		for _, r := range a.Metrics().Restores {
			restored += r.Restored
		}
	}
	if restored == 0 {
		t.Fatalf("the moved tasks restored nothing")
	}
	t.Logf("%d input records; moved tasks replayed %d changelog records", p.total, restored)
}
