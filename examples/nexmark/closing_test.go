package nexmark

import (
	"maps"
	"slices"
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
)

// winningOf computes the winning bids directly: events in order, a bid
// counts when its auction is known and it falls in the auction's lifetime.
func winningOf(events []Event) map[int64]Winning {
	auctions := map[int64]Auction{}
	out := map[int64]Winning{}
	for _, e := range events {
		switch e.Kind {
		case KindAuction:
			auctions[e.Auction.ID] = *e.Auction
		case KindBid:
			a, ok := auctions[e.Bid.Auction]
			if !ok || e.Bid.DateTime < a.DateTime || e.Bid.DateTime > a.Expires {
				continue
			}
			w := Winning{Auction: a.ID, Seller: a.Seller, Category: a.Category, Expires: a.Expires, Price: e.Bid.Price, DateTime: e.Bid.DateTime}
			if old, ok := out[a.ID]; ok {
				w = higherWinning(old, w)
			}
			out[a.ID] = w
		}
	}
	return out
}

// lastPerKey decodes int64 -> int64 results, keeping each key's last.
func lastPerKey(t *testing.T, q func(*stream.Builder, string, string, QueryOptions), events []Event) map[int64]int64 {
	t.Helper()
	got := map[int64]int64{}
	for _, r := range runQuery(t, q, events) {
		k, err := serde.Int64().Deserialize("out", nil, r.Key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := serde.Int64().Deserialize("out", nil, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got[k] = v
	}
	return got
}

func TestQ4AveragePerCategory(t *testing.T) {
	events := generate(3000)
	sums := map[int64][2]int64{}
	for _, w := range winningOf(events) {
		s := sums[w.Category]
		sums[w.Category] = [2]int64{s[0] + w.Price, s[1] + 1}
	}
	want := map[int64]int64{}
	for c, s := range sums {
		want[c] = s[0] / s[1]
	}
	if len(want) < 3 {
		t.Fatalf("only %d categories with a winning bid: the input is too small", len(want))
	}
	got := lastPerKey(t, Q4, events)
	if !maps.Equal(got, want) {
		t.Errorf("averages per category:\n got %v\nwant %v", got, want)
	}
}

func TestQ6AverageOfLatestAuctions(t *testing.T) {
	events := generate(6000)
	bySeller := map[int64][]Winning{}
	for _, w := range winningOf(events) {
		bySeller[w.Seller] = append(bySeller[w.Seller], w)
	}
	want := map[int64]int64{}
	capped := false
	for s, ws := range bySeller {
		slices.SortFunc(ws, byExpiry)
		if len(ws) > Q6Auctions {
			ws, capped = ws[len(ws)-Q6Auctions:], true
		}
		var sum int64
		for _, w := range ws {
			sum += w.Price
		}
		want[s] = sum / int64(len(ws))
	}
	if !capped {
		t.Fatalf("no seller has more than %d auctions with bids: the input does not test the cap", Q6Auctions)
	}
	got := lastPerKey(t, Q6, events)
	if !maps.Equal(got, want) {
		t.Errorf("averages per seller: %d sellers, want %d", len(got), len(want))
		for s, v := range want {
			if got[s] != v {
				t.Errorf("seller %d: %d, want %d", s, got[s], v)
			}
		}
	}
}
