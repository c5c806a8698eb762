package runtime

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

// TestRestoreRetriesRetriableErrors: a restoration whose changelog end
// offsets cannot be listed for a while (a leader election, a broker that is
// down, as in a broker outage that catches a task closed dirty) is started
// again with backoff, as Kafka Streams' state updater retries until
// task.timeout.ms, instead of failing the instance. The restored counts go
// on from where they were.
func TestRestoreRetriesRetriableErrors(t *testing.T) {
	c := kafkatest.New(t, 1)
	if c.Fake == nil {
		t.Skip("injects errors into the in-process broker's answers")
	}
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 1, nil)
	c.CreateTopic(out, 1, nil)
	appID := c.Topic("restore-retry")
	topo := wordCount(t, in, out, state.InMemory)
	cl := c.Client()
	want := map[string]int64{}
	produce := func(n int) {
		words := make([]string, n)
		for i := range words {
			words[i] = "w" + strconv.Itoa(i%20)
			want[words[i]]++
		}
		produceWords(t, cl, in, words)
	}
	produce(200)
	first := startApp(t, topo, appID, testOpts(c, t.TempDir())...)
	expectCounts(t, c, out, want, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The next instance starts with an empty state directory, so it
	// restores the counts; its first three attempts to list the
	// changelog's end offsets are answered LEADER_NOT_AVAILABLE.
	changelogTopic := appID + "-counts-changelog"
	var refused atomic.Int32
	c.Fake.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.Fake.KeepControl()
		r := req.(*kmsg.ListOffsetsRequest)
		if refused.Load() >= 3 {
			return nil, nil, false
		}
		for _, rt := range r.Topics {
			if rt.Topic != changelogTopic {
				continue
			}
			refused.Add(1)
			resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
			for _, rt := range r.Topics {
				st := kmsg.NewListOffsetsResponseTopic()
				st.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					sp := kmsg.NewListOffsetsResponseTopicPartition()
					sp.Partition = rp.Partition
					sp.ErrorCode = kerr.LeaderNotAvailable.Code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return resp, nil, true
		}
		return nil, nil, false
	})
	second := startApp(t, topo, appID, testOpts(c, t.TempDir())...)
	waitFor(t, "the restored instance running", 30*time.Second, func() bool {
		s := second.State()
		return s == Running || s == PendingError || s == Error || s == NotRunning
	})
	if s := second.State(); s != Running {
		t.Fatalf("instance in state %v: %v", s, second.Err())
	}
	produce(100)
	expectCounts(t, c, out, want, 30*time.Second)
	if n := refused.Load(); n < 3 {
		t.Fatalf("the broker refused %d end-offset listings of the changelog, want 3: the test did not test the retry", n)
	}
}
