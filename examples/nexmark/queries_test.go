package nexmark

import (
	"cmp"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

const testEvents = 20_000

func generate(n int) []Event {
	g := NewGenerator(GeneratorConfig{Seed: 7, BaseTime: 1_700_000_000_000})
	out := make([]Event, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// runQuery pipes events through q with the test driver and returns the
// raw output records.
func runQuery(t *testing.T, q func(*stream.Builder, string, string, QueryOptions), events []Event) []topology.RawRecord {
	t.Helper()
	b := stream.NewBuilder()
	q(b, "events", "out", QueryOptions{InMemory: true})
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	d, err := topologytest.New(topo, topologytest.StoreOpener(func(spec state.Spec) (state.Store, error) {
		spec.Engine = state.InMemory
		return state.Open(spec, "")
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "events", serde.Bytes(), EventSerde())
	for _, e := range events {
		if err := in.PipeRecord(topology.Record[[]byte, Event]{Value: e, NullKey: true, Timestamp: time.UnixMilli(e.Timestamp())}); err != nil {
			t.Fatalf("pipe: %v", err)
		}
	}
	return d.ReadRaw("out")
}

func allBids(events []Event) []Bid {
	var out []Bid
	for _, e := range events {
		if e.Kind == KindBid {
			out = append(out, *e.Bid)
		}
	}
	return out
}

func decodeBids(t *testing.T, recs []topology.RawRecord) []Bid {
	t.Helper()
	out := make([]Bid, len(recs))
	for i, r := range recs {
		b, err := BidSerde().Deserialize("out", nil, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func TestQ0Passthrough(t *testing.T) {
	events := generate(testEvents)
	got, want := decodeBids(t, runQuery(t, Q0, events)), allBids(events)
	if len(want) < testEvents*40/50 {
		t.Fatalf("only %d bids in %d events", len(want), testEvents)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("q0: %d bids out, want %d (or they differ)", len(got), len(want))
	}
}

func TestQ1CurrencyConversion(t *testing.T) {
	events := generate(testEvents)
	var want []Bid
	for _, b := range allBids(events) {
		b.Price = int64(float64(b.Price) * 0.908) // the query's SQL, computed another way
		want = append(want, b)
	}
	if got := decodeBids(t, runQuery(t, Q1, events)); !reflect.DeepEqual(got, want) {
		t.Fatalf("q1: %d bids out, want %d (or they differ)", len(got), len(want))
	}
}

func TestQ2Selection(t *testing.T) {
	events := generate(testEvents)
	var want []Q2Result
	for _, b := range allBids(events) {
		if b.Auction%123 == 0 {
			want = append(want, Q2Result{b.Auction, b.Price})
		}
	}
	if len(want) == 0 {
		t.Fatal("the input has no bid q2 selects: the test would prove nothing")
	}
	var got []Q2Result
	for _, r := range runQuery(t, Q2, events) {
		v, err := serde.JSON[Q2Result]().Deserialize("out", nil, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("q2:\n got %v\nwant %v", got, want)
	}
}

func TestQ3Join(t *testing.T) {
	events := generate(testEvents)
	persons := map[int64]*Person{}
	for _, e := range events {
		if e.Kind == KindPerson {
			persons[e.Person.ID] = e.Person
		}
	}
	var want []Q3Result
	for _, e := range events {
		if e.Kind != KindAuction || e.Auction.Category != 10 {
			continue
		}
		if p := persons[e.Auction.Seller]; p != nil && (p.State == "OR" || p.State == "ID" || p.State == "CA") {
			want = append(want, Q3Result{p.Name, p.City, p.State, e.Auction.ID})
		}
	}
	var got []Q3Result
	for _, r := range runQuery(t, Q3, events) {
		v, err := serde.JSON[Q3Result]().Deserialize("out", nil, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	// A join emits in arrival order of its two sides: compare as sets.
	order := func(a, b Q3Result) int { return cmp.Compare(a.Auction, b.Auction) }
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if len(want) < 20 {
		t.Fatalf("only %d expected rows: the test would prove little", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("q3: %d rows, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
}

func TestGeneratorProportionsAndIDs(t *testing.T) {
	events := generate(5000)
	counts := map[Kind]int{}
	lastPerson, lastAuction := int64(FirstPersonID-1), int64(FirstAuctionID-1)
	for i, e := range events {
		counts[e.Kind]++
		switch e.Kind {
		case KindPerson:
			if e.Person.ID != lastPerson+1 {
				t.Fatalf("event %d: person id %d after %d", i, e.Person.ID, lastPerson)
			}
			lastPerson = e.Person.ID
		case KindAuction:
			if e.Auction.ID != lastAuction+1 || e.Auction.Category < 10 || e.Auction.Category > 14 {
				t.Fatalf("event %d: auction %+v after %d", i, e.Auction, lastAuction)
			}
			lastAuction = e.Auction.ID
		case KindBid:
			if e.Bid.Price <= 0 || e.Bid.Auction < FirstAuctionID || e.Bid.Auction > lastAuction+auctionIDLead {
				t.Fatalf("event %d: bid %+v (last auction %d)", i, e.Bid, lastAuction)
			}
		}
		if want := int64(1_700_000_000_000 + i/10); e.Timestamp() != want {
			t.Fatalf("event %d at %d, want %d", i, e.Timestamp(), want)
		}
	}
	if counts[KindPerson] != 100 || counts[KindAuction] != 300 || counts[KindBid] != 4600 {
		t.Fatalf("proportions: %v", counts)
	}
	if !reflect.DeepEqual(generate(100), generate(100)) {
		t.Fatal("equal seeds gave different events")
	}
}

func TestSerdeRoundTripAndCorruption(t *testing.T) {
	for i, e := range generate(200) {
		b, err := EventSerde().Serialize("t", nil, e)
		if err != nil {
			t.Fatal(err)
		}
		back, err := EventSerde().Deserialize("t", nil, b)
		if err != nil || !reflect.DeepEqual(back, e) {
			t.Fatalf("event %d: round trip gave %+v, %v", i, back, err)
		}
		for cut := 0; cut < len(b); cut += 7 {
			if _, err := EventSerde().Deserialize("t", nil, b[:cut]); err == nil {
				t.Fatalf("event %d cut to %d bytes decoded without error", i, cut)
			}
		}
	}
	if _, err := EventSerde().Serialize("t", nil, Event{Kind: KindBid}); err == nil {
		t.Fatal("a bid event without its bid encoded")
	}
	if _, err := EventSerde().Deserialize("t", nil, []byte{9, 1}); err == nil {
		t.Fatal("unknown kind decoded")
	}
}
