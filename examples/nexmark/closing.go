package nexmark

import (
	"cmp"
	"slices"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
)

// closingQueries are the queries on auctions' winning bids.
func closingQueries() []Query {
	return []Query{
		{"q4", "average winning price per category (incremental: an auction's highest valid bid so far)", Q4},
		{"q6", "average winning price of each seller's 10 latest-closing auctions (incremental)", Q6},
	}
}

// Winning is the highest valid bid of an auction so far: a bid placed
// between the auction's opening and its expiry.
type Winning struct {
	Auction  int64 `json:"auction"`
	Seller   int64 `json:"seller"`
	Category int64 `json:"category"`
	Expires  int64 `json:"expires"`
	Price    int64 `json:"price"`
	DateTime int64 `json:"dateTime"`
}

// higherWinning keeps the higher price, the earlier bid on a tie.
func higherWinning(a, b Winning) Winning {
	if b.Price > a.Price || b.Price == a.Price && b.DateTime < a.DateTime {
		return b
	}
	return a
}

// winningBids is the table auction id -> Winning that q4 and q6 share:
// auctions become a table keyed by id, bids re-keyed by auction join it
// (a stream-table join: a bid whose auction is not known yet is dropped),
// bids outside the auction's lifetime are dropped, and the highest of the
// rest is kept per auction.
//
//	SELECT A.id, A.seller, A.category, A.expires, MAX(B.price)
//	FROM auction A, bid B
//	WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
//	GROUP BY A.id, A.seller, A.category, A.expires
func winningBids(b *stream.Builder, in, name string, opts QueryOptions) stream.KTable[int64, Winning] {
	stream.RegisterSerde(b, serde.JSON[Auction]())
	stream.RegisterSerde(b, BidSerde())
	stream.RegisterSerde(b, serde.JSON[Winning]())
	events := stream.Stream(b, in, stream.ConsumedWith(serde.Bytes(), EventSerde()))
	auctionEvents := events.Filter(func(_ []byte, e Event) bool { return e.Kind == KindAuction })
	auctions := stream.Map(auctionEvents, func(_ []byte, e Event) (int64, Auction) { return e.Auction.ID, *e.Auction })
	auctionTable := stream.Reduce(stream.GroupByKey(auctions, stream.GroupedAs[int64, Auction](name+"-auctions-by-id")),
		func(_, latest Auction) Auction { return latest }, storeOpts[int64, Auction](opts, name+"-auctions"))
	bidEvents := events.Filter(func(_ []byte, e Event) bool { return e.Kind == KindBid })
	byAuction := stream.Map(bidEvents, func(_ []byte, e Event) (int64, Bid) { return e.Bid.Auction, *e.Bid }).
		Repartition(stream.RepartitionedAs[int64, Bid](name + "-bids-by-auction"))
	valid := stream.JoinTable(byAuction, auctionTable, func(bid Bid, a Auction) Winning {
		if bid.DateTime < a.DateTime || bid.DateTime > a.Expires {
			return Winning{} // outside the auction's lifetime: dropped below
		}
		return Winning{Auction: a.ID, Seller: a.Seller, Category: a.Category, Expires: a.Expires, Price: bid.Price, DateTime: bid.DateTime}
	}).Filter(func(_ int64, w Winning) bool { return w.Auction != 0 })
	return stream.Reduce(stream.GroupByKey(valid), higherWinning, storeOpts[int64, Winning](opts, name+"-winning"))
}

// PriceSum is q4's aggregate: the sum and number of winning prices.
type PriceSum struct {
	Sum   int64 `json:"sum"`
	Count int64 `json:"count"`
}

// Q4 averages the winning prices of the auctions of each category. As
// Nexmark's incremental variant (like q3 here), an auction counts with
// its highest valid bid so far, not only once it has closed; the last
// result per category is the average over its auctions with a bid.
//
//	SELECT Q.category, AVG(Q.final) FROM (
//	  SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
//	  WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
//	  GROUP BY A.id, A.category) Q
//	GROUP BY Q.category
func Q4(b *stream.Builder, in, out string, opts QueryOptions) {
	winning := winningBids(b, in, "q4", opts)
	byCategory := stream.GroupByTable(winning, func(_ int64, w Winning) (int64, int64) { return w.Category, w.Price },
		stream.GroupedAs[int64, int64]("q4-by-category"))
	sums := stream.AggregateTable(byCategory, func() PriceSum { return PriceSum{} },
		func(_ int64, price int64, s PriceSum) PriceSum { return PriceSum{s.Sum + price, s.Count + 1} },
		func(_ int64, price int64, s PriceSum) PriceSum { return PriceSum{s.Sum - price, s.Count - 1} },
		storeOpts[int64, PriceSum](opts, "q4-sums").WithValueSerde(serde.JSON[PriceSum]()))
	stream.MapValuesTable(sums, func(s PriceSum) int64 {
		if s.Count == 0 {
			return 0
		}
		return s.Sum / s.Count
	}).ToStream().To(out)
}

// Q6Auctions is how many of a seller's auctions q6 averages.
const Q6Auctions = 10

// LatestWinning is q6's aggregate: a seller's winning bids of the
// Q6Auctions auctions that close last, by expiry then auction id.
type LatestWinning struct {
	Auctions []Winning `json:"auctions"`
}

func byExpiry(a, b Winning) int {
	return cmp.Or(cmp.Compare(a.Expires, b.Expires), cmp.Compare(a.Auction, b.Auction))
}

// Q6 averages, per seller, the winning prices of their Q6Auctions
// latest-closing auctions (incremental, as Q4: an auction counts with its
// highest valid bid so far).
//
//	SELECT Q.seller, AVG(Q.final) OVER
//	  (PARTITION BY Q.seller ORDER BY Q.expires ROWS BETWEEN 9 PRECEDING AND CURRENT ROW)
//	FROM (SELECT MAX(B.price) AS final, A.seller, A.expires FROM auction A, bid B
//	  WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
//	  GROUP BY A.id, A.seller, A.expires) Q
func Q6(b *stream.Builder, in, out string, opts QueryOptions) {
	winning := winningBids(b, in, "q6", opts)
	bySeller := stream.GroupByTable(winning, func(_ int64, w Winning) (int64, Winning) { return w.Seller, w },
		stream.GroupedAs[int64, Winning]("q6-by-seller"))
	latest := stream.AggregateTable(bySeller, func() LatestWinning { return LatestWinning{} },
		func(_ int64, w Winning, agg LatestWinning) LatestWinning {
			// An auction older than all the kept ones, when they are
			// Q6Auctions already, falls off again at once.
			out := slices.DeleteFunc(slices.Clone(agg.Auctions), func(x Winning) bool { return x.Auction == w.Auction })
			i, _ := slices.BinarySearchFunc(out, w, byExpiry)
			out = slices.Insert(out, i, w)
			if len(out) > Q6Auctions {
				out = out[len(out)-Q6Auctions:]
			}
			return LatestWinning{out}
		},
		func(_ int64, w Winning, agg LatestWinning) LatestWinning {
			return LatestWinning{slices.DeleteFunc(slices.Clone(agg.Auctions), func(x Winning) bool { return x.Auction == w.Auction })}
		},
		storeOpts[int64, LatestWinning](opts, "q6-latest").WithValueSerde(serde.JSON[LatestWinning]()))
	stream.MapValuesTable(latest, func(l LatestWinning) int64 {
		if len(l.Auctions) == 0 {
			return 0
		}
		var sum int64
		for _, w := range l.Auctions {
			sum += w.Price
		}
		return sum / int64(len(l.Auctions))
	}).ToStream().To(out)
}
