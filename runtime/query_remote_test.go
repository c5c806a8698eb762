package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// TestRemoteQueriesWhileTasksMove runs word count on three instances: two
// at first, a third joins, then the first leaves. All the while, every key
// is read through the query endpoint of every live instance; each answer
// must be the key's count or a retryable error, never a wrong value.
func TestRemoteQueriesWhileTasksMove(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 6, nil)
	c.CreateTopic(out, 6, nil)
	want := map[string]int64{}
	var words []string
	for i := 0; i < 3000; i++ {
		w := fmt.Sprintf("word%03d", (i*7)%120)
		words = append(words, w)
		want[w]++
	}
	produceWords(t, c.Client(), in, words)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	appID := c.Topic("app")
	start := func(id string) *App {
		return startApp(t, wordCount(t, in, out, state.InMemory), appID,
			testOpts(c, t.TempDir(), AdminAddr("127.0.0.1:0"), ProcessID(id))...)
	}
	a, b := start("a"), start("b")
	expectCounts(t, c, out, want, 60*time.Second)

	client := NewQueryClient(nil, serde.String(), decimal{})
	var mu sync.Mutex
	hosts := []string{a.AdminAddr(), b.AdminAddr()}
	var ok, retryable atomic.Int64
	var wrong atomic.Value
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			hs := slices.Clone(hosts)
			mu.Unlock()
			for _, h := range hs {
				for _, k := range keys {
					n, found, err := client.Get(ctx, h, "counts", k)
					switch {
					case err != nil && IsRetryable(err):
						retryable.Add(1)
					case err != nil:
						// hs may be a copy taken before the instance
						// was removed from hosts and closed: its
						// endpoint is gone, which is no wrong answer.
						mu.Lock()
						left := !slices.Contains(hosts, h)
						mu.Unlock()
						if left {
							retryable.Add(1)
							continue
						}
						wrong.CompareAndSwap(nil, fmt.Sprintf("via %s: %s: %v", h, k, err))
					case !found || n != want[k]:
						wrong.CompareAndSwap(nil, fmt.Sprintf("via %s: %s = %d (found %v), want %d", h, k, n, found, want[k]))
					default:
						ok.Add(1)
					}
				}
			}
		}
	}()
	allAnswered := func(hs ...string) func() bool {
		return func() bool {
			for _, h := range hs {
				for _, k := range keys {
					n, found, err := client.Get(context.Background(), h, "counts", k)
					if err != nil || !found || n != want[k] {
						return false
					}
				}
			}
			return true
		}
	}
	waitFor(t, "every key through a and b", 30*time.Second, allAnswered(a.AdminAddr(), b.AdminAddr()))

	cApp := start("c")
	mu.Lock()
	hosts = append(hosts, cApp.AdminAddr())
	mu.Unlock()
	waitFor(t, "c has tasks", 60*time.Second, func() bool {
		th := cApp.LocalThreads()
		return cApp.State() == Running && len(th) > 0 && len(th[0].Active) > 0
	})
	waitFor(t, "every key through a, b and c", 60*time.Second, allAnswered(a.AdminAddr(), b.AdminAddr(), cApp.AdminAddr()))

	mu.Lock()
	hosts = slices.DeleteFunc(hosts, func(h string) bool { return h == a.AdminAddr() })
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatalf("close a: %v", err)
	}
	waitFor(t, "every key through b and c after a left", 60*time.Second, allAnswered(b.AdminAddr(), cApp.AdminAddr()))
	close(stop)
	<-done
	if w := wrong.Load(); w != nil {
		t.Fatalf("wrong answer: %s", w)
	}
	t.Logf("answers: %d right, %d retryable errors", ok.Load(), retryable.Load())
	if ok.Load() == 0 {
		t.Fatal("no query answered")
	}

	// Metadata: every key has one active host among b and c, and the
	// instances list names both with the store.
	ms, err := Instances(context.Background(), nil, b.AdminAddr())
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range ms {
		if slices.Contains(m.Stores, "counts") {
			listed = append(listed, m.Host)
		}
	}
	slices.Sort(listed)
	wantHosts := []string{b.AdminAddr(), cApp.AdminAddr()}
	slices.Sort(wantHosts)
	if !slices.Equal(listed, wantHosts) {
		t.Fatalf("instances with counts: %v, want %v", listed, wantHosts)
	}
	for _, k := range keys {
		md, err := QueryMetadataForKey(b, "counts", k, serde.String())
		if err != nil || (md.ActiveHost != b.AdminAddr() && md.ActiveHost != cApp.AdminAddr()) || md.Partition != partitionOf([]byte(k), 6) {
			t.Fatalf("metadata of %s: %+v, %v", k, md, err)
		}
		// The key reads locally on its active host.
		host := b
		if md.ActiveHost == cApp.AdminAddr() {
			host = cApp
		}
		v, _ := KeyValueStoreView(host, "counts", serde.String(), decimal{})
		if n, found, err := v.Get(k); err != nil || !found || n != want[k] {
			t.Fatalf("local Get(%s) on its active host = %d, %v, %v", k, n, found, err)
		}
	}
	// A store that does not exist is not retryable, remotely too.
	if _, _, err := client.Get(context.Background(), b.AdminAddr(), "nope", "x"); !errors.Is(err, ErrUnknownStateStore) || IsRetryable(err) {
		t.Fatalf("unknown store remotely: %v", err)
	}
	got := map[string]int64{}
	if err := client.All(context.Background(), cApp.AdminAddr(), "counts", func(k string, n int64) bool { got[k] = n; return true }); err != nil {
		t.Fatal(err)
	}
	if !equalCounts(got, want) {
		t.Fatalf("All over the instances: %s", diffCounts(got, want))
	}
}
