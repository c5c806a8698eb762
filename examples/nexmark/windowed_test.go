package nexmark

import (
	"cmp"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
)

// generateSlow generates events at 200 per second of event time, so that
// the test input spans 100 s: many windows.
func generateSlow(n int) []Event {
	g := NewGenerator(GeneratorConfig{Seed: 7, BaseTime: 1_700_000_000_000, EventsPerSecond: 200})
	out := make([]Event, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// withClosers appends a person, an auction and a bid a minute after the
// last event, so that every window of the generated events closes and its
// final result is written. Results of the closers' own windows are never
// final and are not expected.
func withClosers(events []Event) ([]Event, int64) {
	late := events[len(events)-1].Timestamp() + 60_000
	const id = 1 << 40
	return append(slices.Clone(events),
		Event{Kind: KindPerson, Person: &Person{ID: id, Name: "closer", State: "OR", DateTime: late}},
		Event{Kind: KindAuction, Auction: &Auction{ID: id, Seller: id, Category: 11, DateTime: late}},
		Event{Kind: KindBid, Bid: &Bid{Auction: id, Bidder: id, Price: 1, DateTime: late}},
	), late
}

func TestQ5HotItems(t *testing.T) {
	events := generateSlow(testEvents)
	size, slide := Q5Size.Milliseconds(), Q5Slide.Milliseconds()
	counts := map[int64]map[int64]int64{} // window start -> auction -> bids
	for _, b := range allBids(events) {
		for s := b.DateTime - b.DateTime%slide; s > b.DateTime-size; s -= slide {
			if counts[s] == nil {
				counts[s] = map[int64]int64{}
			}
			counts[s][b.Auction]++
		}
	}
	want := map[int64]HotItems{}
	for s, byAuction := range counts {
		h := HotItems{Start: s}
		for a, n := range byAuction {
			if n > h.Bids {
				h.Bids, h.Auctions = n, nil
			}
			if n == h.Bids {
				h.Auctions = append(h.Auctions, a)
			}
		}
		slices.Sort(h.Auctions)
		want[s] = h
	}
	input, late := withClosers(events)
	got := map[int64]HotItems{}
	for _, r := range runQuery(t, Q5, input) {
		k, err := serde.Int64().Deserialize("out", nil, r.Key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := serde.JSON[HotItems]().Deserialize("out", nil, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if k > late-size {
			t.Fatalf("a result for the closers' window %d was final", k)
		}
		got[k] = v // the last result of a window is its answer
	}
	if len(want) < 40 || !maps.EqualFunc(got, want, func(a, b HotItems) bool { return reflect.DeepEqual(a, b) }) {
		t.Fatalf("q5: %d windows, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
}

func TestQ7HighestBid(t *testing.T) {
	events := generateSlow(testEvents)
	size := Q7Size.Milliseconds()
	want := map[int64]Bid{}
	for _, b := range allBids(events) {
		s := b.DateTime - b.DateTime%size
		if cur, ok := want[s]; !ok || b.Price > cur.Price || b.Price == cur.Price && HigherBid(cur, b) == b {
			want[s] = b
		}
	}
	input, _ := withClosers(events)
	got := map[int64]Bid{}
	ks := stream.WindowedSerde(serde.Int64(), Q7Size)
	for _, r := range runQuery(t, Q7, input) {
		k, err := ks.Deserialize("out", nil, r.Key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := BidSerde().Deserialize("out", nil, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := got[k.Window.Start().UnixMilli()]; dup {
			t.Fatalf("window %d emitted twice", k.Window.Start().UnixMilli())
		}
		got[k.Window.Start().UnixMilli()] = v
	}
	if len(want) < 8 || !maps.Equal(got, want) {
		t.Fatalf("q7: %d windows, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
}

func TestQ8NewUsers(t *testing.T) {
	events := generateSlow(testEvents)
	size := Q8Size.Milliseconds()
	persons := map[int64]*Person{}
	for _, e := range events {
		if e.Kind == KindPerson {
			persons[e.Person.ID] = e.Person
		}
	}
	seen := map[NewUser]bool{}
	for _, e := range events {
		if e.Kind != KindAuction {
			continue
		}
		p := persons[e.Auction.Seller]
		if p == nil || p.DateTime-p.DateTime%size != e.Auction.DateTime-e.Auction.DateTime%size {
			continue
		}
		seen[NewUser{ID: p.ID, Name: p.Name, Start: p.DateTime - p.DateTime%size}] = true
	}
	want := slices.Collect(maps.Keys(seen))
	input, _ := withClosers(events)
	var got []NewUser
	for _, r := range runQuery(t, Q8, input) {
		v, err := serde.JSON[NewUser]().Deserialize("out", nil, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	order := func(a, b NewUser) int { return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.ID, b.ID)) }
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if len(want) < 5 || !reflect.DeepEqual(got, want) {
		t.Fatalf("q8: %d rows, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
}
