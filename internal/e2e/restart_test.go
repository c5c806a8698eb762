package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The program under test: clicks (key user, value page) counted per user in
// hopping windows, suppressed until each window closes, and the same
// clicks enriched with the user's region from a users table.
const (
	partitions = 2
	windowSize = 10 * time.Second
	windowHop  = 5 * time.Second
	grace      = 3 * time.Second
)

// epoch offsets every event time: ten minutes ago, so that no broker
// deletes the records under a time-based retention (seven days by default
// on plain topics, the store's retention on window changelogs), rounded
// to a multiple of the window size so that window starts relative to it
// are the same as from the Unix epoch.
var epoch = (time.Now().Add(-10*time.Minute).UnixMilli() / windowSize.Milliseconds()) * windowSize.Milliseconds()

// names are the topics and the application id of one run.
type names struct {
	clicks, users, counts, enriched, app string
}

func newNames(c *kafkatest.Cluster, run string) names {
	return names{
		clicks:   c.Topic("clicks-" + run),
		users:    c.Topic("users-" + run),
		counts:   c.Topic("click-counts-" + run),
		enriched: c.Topic("enriched-" + run),
		app:      c.Topic("e2e-" + run),
	}
}

// buildTopology builds the program. With extracted, clicks carry their
// event time in the value ("page ts") rather than as their Kafka
// timestamp, and a timestamp extractor on the source reads it.
func buildTopology(t *testing.T, n names, extracted bool) *topology.Topology {
	t.Helper()
	b := stream.NewBuilder()
	var clicks stream.KStream[string, string]
	if extracted {
		raw := stream.Stream(b, n.clicks, stream.ConsumedWith(serde.String(), serde.String()).
			WithTimestampExtractor(func(_ string, v string, _ time.Time) time.Time {
				_, ts, _ := strings.Cut(v, " ")
				n, err := strconv.ParseInt(ts, 10, 64)
				if err != nil {
					return time.Time{} // before the epoch: dropped and counted
				}
				return time.UnixMilli(n)
			}))
		clicks = stream.MapValues(raw, func(v string) string { page, _, _ := strings.Cut(v, " "); return page })
	} else {
		clicks = stream.Stream(b, n.clicks, stream.ConsumedWith(serde.String(), serde.String()))
	}
	users := stream.Table(b, n.users, stream.ConsumedWith(serde.String(), serde.String()), stream.MaterializedAs[string, string]("users"))
	windows := stream.TumblingWindows(windowSize, grace).AdvanceBy(windowHop)
	stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(clicks), windows), stream.MaterializedAs[string, int64]("clicks-per-user")).
		Suppress(stream.UntilWindowCloses(stream.BufferConfig{}).WithName("clicks-per-user-final")).
		ToStream().To(n.counts)
	stream.LeftJoinTable(clicks, users, func(page string, region *string) string {
		if region == nil {
			return page + "@unknown"
		}
		return page + "@" + *region
	}).To(n.enriched)
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("build topology: %v", err)
	}
	return topo
}

// click is one input record; ts is its event time relative to epoch.
type click struct {
	user, page string
	ts         int64
}

// userList holds the users the table knows; "u9" clicks too but has no
// row, so the left join reports it as unknown.
var userList = []string{"u0", "u1", "u2", "u3", "u4", "u5"}

// partitionOf places a user on a partition of both the clicks and the
// users topic, the same way, so that they stay co-partitioned.
func partitionOf(user string) int32 { return int32(user[len(user)-1]-'0') % partitions }

// genClicks returns n clicks from base on, about 400 ms apart, a few of them
// out of order: some by less than the grace period (still counted), some
// by more (dropped as late, in one window or both).
func genClicks(rng *rand.Rand, base int64, n int) []click {
	out := make([]click, n)
	for i := range out {
		u := fmt.Sprintf("u%d", rng.IntN(7))
		if u == "u6" {
			u = "u9"
		}
		ts := base + int64(i)*400 + rng.Int64N(400)
		switch {
		case i >= 10 && i%17 == 0:
			ts -= 2_000 + rng.Int64N(1_000) // within grace
		case i >= 10 && i%23 == 0:
			ts -= 9_000 + rng.Int64N(5_000) // beyond grace for at least one window
		}
		out[i] = click{user: u, page: fmt.Sprintf("/p%d", rng.IntN(5)), ts: ts}
	}
	return out
}

// clickRecords makes the records of cs. With extracted, the event time
// goes in the value and the Kafka timestamp is the time of producing, so
// that results computed from Kafka timestamps would be wrong.
func clickRecords(topic string, cs []click, extracted bool) []*kgo.Record {
	recs := make([]*kgo.Record, len(cs))
	for i, c := range cs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partitionOf(c.user), Key: []byte(c.user),
			Value: []byte(c.page), Timestamp: time.UnixMilli(epoch + c.ts)}
		if extracted {
			recs[i].Value = fmt.Appendf(nil, "%s %d", c.page, epoch+c.ts)
			recs[i].Timestamp = time.Time{} // the producer sets it
		}
	}
	return recs
}

func userRecords(topic string, regions map[string]string, ts int64) []*kgo.Record {
	var recs []*kgo.Record
	for _, u := range userList {
		if r, ok := regions[u]; ok {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: partitionOf(u), Key: []byte(u),
				Value: []byte(r), Timestamp: time.UnixMilli(epoch + ts)})
		}
	}
	return recs
}

// scenario is the whole input, in the phases the test produces it: the
// users table, the first half of the clicks, updates to the table, the
// second half. Each phase is processed completely before the next is
// produced, so that the stream-table join sees a deterministic table.
type scenario struct {
	users, userUpdates map[string]string
	first, second      []click
}

func newScenario() scenario {
	rng := rand.New(rand.NewPCG(6, 1))
	s := scenario{
		users:       map[string]string{"u0": "eu", "u1": "us", "u2": "eu", "u3": "apac", "u4": "us", "u5": "eu"},
		userUpdates: map[string]string{"u1": "apac", "u4": "eu"},
	}
	s.first = genClicks(rng, 0, 120)
	// The second half follows at once, so that windows hold clicks of both
	// halves and a restarted instance must continue them from the restored
	// window store.
	s.second = genClicks(rng, 120*400+1_000, 120)
	// The second half begins, on each partition, with a click that was
	// late before the restart: it must still be late after it, which
	// holds only if stream time survives the restart.
	s.second = append([]click{{user: "u0", page: "/late", ts: 1_000}, {user: "u1", page: "/late", ts: 1_000}}, s.second...)
	return s
}

// result is what a run leaves in its output topics: the last count per
// window ("user@start") and the set of enriched clicks ("user page@region
// ts").
type result struct {
	counts   map[string]int64
	enriched []string
	// late counts the window updates of the second half dropped as late
	// (in a run, by the instance that processed it).
	late int64
}

// expected computes the results directly: per partition (a task), stream
// time is the largest timestamp so far; a record updates each of its
// windows that has not closed (end + grace > stream time); suppression
// emits a window's final count once stream time reaches its end + grace,
// so windows still open at the end are not in the output.
func (s scenario) expected(t *testing.T) result {
	streamTime := map[int32]int64{}
	counts := map[string]int64{}
	var late, reordered, lateSecond int
	size, hop, g := windowSize.Milliseconds(), windowHop.Milliseconds(), grace.Milliseconds()
	for i, c := range slices.Concat(s.first, s.second) {
		p, ts := partitionOf(c.user), epoch+c.ts
		st, ok := streamTime[p]
		if !ok || ts > st {
			st = ts
		} else if ts < st {
			reordered++
		}
		streamTime[p] = st
		for start := (ts - size + hop) / hop * hop; start <= ts; start += hop {
			if start+size+g <= st {
				late++
				if i >= len(s.first) {
					lateSecond++
				}
				continue
			}
			counts[fmt.Sprintf("%s@%d", c.user, start)]++
		}
	}
	// The input must exercise out-of-order records both within and beyond
	// the grace period, or the comparison proves little.
	if late == 0 || reordered <= late {
		t.Fatalf("scenario has %d late window updates and %d out-of-order records", late, reordered)
	}
	final := map[string]int64{}
	for k, n := range counts {
		user, start, _ := strings.Cut(k, "@")
		var st int64
		fmt.Sscan(start, &st)
		if st+size+g <= streamTime[partitionOf(user)] {
			final[k] = n
		}
	}
	var enriched []string
	region := func(regions map[string]string, c click) string {
		if r, ok := regions[c.user]; ok {
			return fmt.Sprintf("%s %s@%s %d", c.user, c.page, r, epoch+c.ts)
		}
		return fmt.Sprintf("%s %s@unknown %d", c.user, c.page, epoch+c.ts)
	}
	updated := map[string]string{}
	for u, r := range s.users {
		updated[u] = r
	}
	for u, r := range s.userUpdates {
		updated[u] = r
	}
	for _, c := range s.first {
		enriched = append(enriched, region(s.users, c))
	}
	for _, c := range s.second {
		enriched = append(enriched, region(updated, c))
	}
	sort.Strings(enriched)
	return result{counts: final, enriched: slices.Compact(enriched), late: int64(lateSecond)}
}

// restart says how a run stops between the halves.
type restart int

const (
	noRestart    restart = iota // one instance processes everything
	keepState                   // Close, then a new instance on the same state directory
	discardState                // Close, delete the state directory, restore from the changelogs
)

// run processes the scenario with a fresh application and fresh topics
// and returns what its output topics hold.
func run(t *testing.T, c *kafkatest.Cluster, s scenario, how restart, extracted bool) result {
	n := newNames(c, fmt.Sprintf("%d-%v", how, extracted))
	for _, topic := range []string{n.clicks, n.users, n.counts, n.enriched} {
		c.CreateTopic(topic, partitions, nil)
	}
	topo := buildTopology(t, n, extracted)
	dir := t.TempDir()
	const drain = 40 * time.Second

	app := startApp(t, c, topo, n.app, dir)
	produce(t, c, userRecords(n.users, s.users, 0))
	waitDrained(t, c, app, n.app, topo, drain)
	produce(t, c, clickRecords(n.clicks, s.first, extracted))
	waitDrained(t, c, app, n.app, topo, drain)

	lateBefore := app.Metrics().Dropped[stream.DropLate]
	if how != noRestart {
		lateBefore = 0
		closeApp(t, app)
		if how == discardState {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatalf("delete state directory: %v", err)
			}
		}
		app = startApp(t, c, topo, n.app, dir)
	}
	produce(t, c, userRecords(n.users, s.userUpdates, s.second[0].ts))
	waitDrained(t, c, app, n.app, topo, drain)
	produce(t, c, clickRecords(n.clicks, s.second, extracted))
	waitDrained(t, c, app, n.app, topo, drain)
	res := result{counts: map[string]int64{}, late: app.Metrics().Dropped[stream.DropLate] - lateBefore}
	closeApp(t, app)

	wkeys := stream.WindowedSerde(serde.String(), windowSize)
	for _, r := range readAll(t, c, n.counts) {
		w, err := wkeys.Deserialize(n.counts, nil, r.Key)
		if err != nil {
			t.Fatalf("windowed key %x: %v", r.Key, err)
		}
		v, err := serde.Int64().Deserialize(n.counts, nil, r.Value)
		if err != nil {
			t.Fatalf("count %x: %v", r.Value, err)
		}
		// Last value per windowed key: at-least-once may repeat an
		// output, never change the final one.
		res.counts[fmt.Sprintf("%s@%d", w.Key, w.Window.Start().UnixMilli())] = v
	}
	for _, r := range readAll(t, c, n.enriched) {
		res.enriched = append(res.enriched, fmt.Sprintf("%s %s %d", r.Key, r.Value, r.Timestamp.UnixMilli()))
	}
	sort.Strings(res.enriched)
	res.enriched = slices.Compact(res.enriched)
	return res
}

func compare(t *testing.T, what string, got, want result) {
	t.Helper()
	var diffs []string
	for k, v := range want.counts {
		if g, ok := got.counts[k]; !ok || g != v {
			diffs = append(diffs, fmt.Sprintf("count %s: got %d (present %v), want %d", k, g, ok, v))
		}
	}
	for k, v := range got.counts {
		if _, ok := want.counts[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("count %s: unexpected %d", k, v))
		}
	}
	if !slices.Equal(got.enriched, want.enriched) {
		diffs = append(diffs, fmt.Sprintf("enriched clicks: got %d, want %d; first difference: %s",
			len(got.enriched), len(want.enriched), firstDiff(got.enriched, want.enriched)))
	}
	if got.late != want.late {
		diffs = append(diffs, fmt.Sprintf("late window updates counted: got %d, want %d", got.late, want.late))
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Errorf("%s: %d differences (%d closed windows, want %d):\n%s", what, len(diffs), len(got.counts), len(want.counts),
			strings.Join(diffs[:min(len(diffs), 20)], "\n"))
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("got %q, want %q", got[i], want[i])
		}
	}
	return "one is a prefix of the other"
}

// TestWindowsAndJoinAcrossRestart runs a windowed, suppressed count and a
// stream-table join three times, each with its own application and topics:
// uninterrupted, with a clean restart between the two halves of the
// input, and with a restart whose state directory was deleted so that the
// window store, the suppression buffer and the table are restored from
// their changelogs. All three must leave the results the test computes.
func TestWindowsAndJoinAcrossRestart(t *testing.T) {
	c := kafkatest.New(t, 0)
	s := newScenario()
	want := s.expected(t)
	if len(want.counts) < 20 {
		t.Fatalf("scenario closes only %d windows", len(want.counts))
	}
	uninterrupted := run(t, c, s, noRestart, false)
	compare(t, "uninterrupted run vs computed", uninterrupted, want)
	compare(t, "clean restart vs uninterrupted", run(t, c, s, keepState, false), uninterrupted)
	compare(t, "restart restored from changelogs vs uninterrupted", run(t, c, s, discardState, false), uninterrupted)
	// Event time from the values through a timestamp extractor, across a
	// restart from the changelogs: the same results.
	compare(t, "extracted timestamps, restored from changelogs, vs uninterrupted", run(t, c, s, discardState, true), uninterrupted)
}
