package nexmark

import (
	"slices"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
)

// Window parameters of the windowed queries (Nexmark's defaults).
const (
	// Q5Size and Q5Slide are q5's hopping window.
	Q5Size  = 10 * time.Second
	Q5Slide = 2 * time.Second
	// Q7Size and Q8Size are the tumbling windows of q7 and q8.
	Q7Size = 10 * time.Second
	Q8Size = 10 * time.Second
	// WindowGrace lets records of other partitions arrive a little out of
	// order through the repartition topics.
	WindowGrace = 2 * time.Second
)

// windowedQueries are the queries built on windows and joins.
func windowedQueries() []Query {
	return []Query{
		{"q5", "hot items: auctions with the most bids per 10 s window sliding by 2 s", Q5},
		{"q7", "highest bid per 10 s tumbling window", Q7},
		{"q8", "new users who opened an auction in the 10 s window they registered in", Q8},
	}
}

// HotItems is q5's result for one window: the auctions with the most
// bids, and how many.
type HotItems struct {
	Start    int64   `json:"start"`
	Bids     int64   `json:"bids"`
	Auctions []int64 `json:"auctions"`
}

// Q5 finds the auctions with the most bids in each hopping window. Bids
// are counted per auction and window (final counts only, through
// suppression), then re-keyed by window and reduced to the largest counts.
// The last result written for a window is its answer.
//
//	SELECT auction, num FROM (SELECT auction, count(*) num, window_start
//	  FROM HOP(bid, 2s, 10s) GROUP BY auction, window_start)
//	WHERE num >= ALL (the counts of the same window)
func Q5(b *stream.Builder, in, out string, opts QueryOptions) {
	byAuction := stream.GroupBy(bids(b, in), func(_ []byte, bid Bid) int64 { return bid.Auction }, stream.GroupedAs[int64, Bid]("q5-by-auction"))
	counts := stream.CountWindowed(stream.WindowedBy(byAuction, stream.TumblingWindows(Q5Size, WindowGrace).AdvanceBy(Q5Slide)),
		storeOpts[int64, int64](opts, "q5-counts"))
	final := counts.Suppress(stream.UntilWindowCloses(stream.BufferConfig{})).ToStream()
	perWindow := stream.Map(final, func(k stream.Windowed[int64], n int64) (int64, HotItems) {
		start := k.Window.Start().UnixMilli()
		return start, HotItems{Start: start, Bids: n, Auctions: []int64{k.Key}}
	})
	grouped := stream.GroupByKey(perWindow, stream.GroupedWith(serde.Int64(), serde.JSON[HotItems]()).WithName("q5-by-window"))
	hottest := stream.Reduce(grouped, func(agg, v HotItems) HotItems {
		switch {
		case v.Bids > agg.Bids:
			return v
		case v.Bids == agg.Bids:
			agg.Auctions = append(slices.Clone(agg.Auctions), v.Auctions...)
			slices.Sort(agg.Auctions)
		}
		return agg
	}, storeOpts[int64, HotItems](opts, "q5-hottest").WithValueSerde(serde.JSON[HotItems]()))
	hottest.ToStream().To(out)
}

// Q7 finds the highest bid of each tumbling window: all bids are grouped
// under one key (as the query is global), reduced to the highest price
// per window, and the final result of each window is written.
//
//	SELECT B.auction, B.price, B.bidder FROM bid B JOIN (
//	  SELECT MAX(price) maxprice, window_end FROM TUMBLE(bid, 10s)) B1
//	ON B.price = B1.maxprice AND B.dateTime in the window
func Q7(b *stream.Builder, in, out string, opts QueryOptions) {
	all := stream.GroupBy(bids(b, in), func([]byte, Bid) int64 { return 0 }, stream.GroupedAs[int64, Bid]("q7-all"))
	highest := stream.ReduceWindowed(stream.WindowedBy(all, stream.TumblingWindows(Q7Size, WindowGrace)), HigherBid,
		storeOpts[int64, Bid](opts, "q7-highest"))
	highest.Suppress(stream.UntilWindowCloses(stream.BufferConfig{})).ToStream().To(out)
}

// HigherBid is q7's reducer: the higher price wins, the earlier bid on a
// tie (then the lower auction and bidder ids, so that the result does not
// depend on arrival order).
func HigherBid(a, b Bid) Bid {
	switch {
	case b.Price != a.Price:
		if b.Price > a.Price {
			return b
		}
		return a
	case b.DateTime != a.DateTime:
		if b.DateTime < a.DateTime {
			return b
		}
		return a
	case b.Auction != a.Auction:
		if b.Auction < a.Auction {
			return b
		}
		return a
	case b.Bidder < a.Bidder:
		return b
	}
	return a
}

// NewUser is q8's result: a person who opened an auction in the window
// they registered in.
type NewUser struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Start int64  `json:"start"`
}

// Q8 joins persons with the auctions they opened within one window
// length (a stream-stream join on person id = seller), keeps the pairs in
// the same tumbling window, and emits each (person, window) once, when the
// window closes.
//
//	SELECT P.id, P.name, P.starttime FROM
//	  (SELECT id, name, window_start starttime FROM TUMBLE(person, 10s)) P
//	JOIN (SELECT seller, window_start starttime FROM TUMBLE(auction, 10s)) A
//	ON P.id = A.seller AND P.starttime = A.starttime
func Q8(b *stream.Builder, in, out string, opts QueryOptions) {
	events := stream.Stream(b, in, stream.ConsumedWith(serde.Bytes(), EventSerde()))
	persons := stream.Map(events.Filter(func(_ []byte, e Event) bool { return e.Kind == KindPerson }),
		func(_ []byte, e Event) (int64, Person) { return e.Person.ID, *e.Person })
	auctions := stream.Map(events.Filter(func(_ []byte, e Event) bool { return e.Kind == KindAuction }),
		func(_ []byte, e Event) (int64, int64) { return e.Auction.Seller, e.Auction.DateTime })
	size := Q8Size.Milliseconds()
	joined := stream.Join(persons, auctions, func(p Person, auctionTime int64) NewUser {
		start := p.DateTime - p.DateTime%size
		if auctionTime-auctionTime%size != start {
			return NewUser{} // not the same window: dropped below
		}
		return NewUser{ID: p.ID, Name: p.Name, Start: start}
	}, stream.JoinTimeDifference(Q8Size, WindowGrace), stream.StreamJoinedAs[int64, Person, int64]("q8-join").WithValueSerde(serde.JSON[Person]()))
	sameWindow := joined.Filter(func(_ int64, u NewUser) bool { return u.ID != 0 })
	once := stream.ReduceWindowed(stream.WindowedBy(stream.GroupByKey(sameWindow), stream.TumblingWindows(Q8Size, WindowGrace)),
		func(agg, _ NewUser) NewUser { return agg }, storeOpts[int64, NewUser](opts, "q8-once").WithValueSerde(serde.JSON[NewUser]()))
	once.Suppress(stream.UntilWindowCloses(stream.BufferConfig{})).ToStream().To(out)
}

// storeOpts names a query's store and picks its engine.
func storeOpts[K, V any](opts QueryOptions, name string) stream.Materialized[K, V] {
	m := stream.MaterializedAs[K, V](name)
	if opts.InMemory {
		m = m.WithEngine(state.InMemory)
	}
	return m
}
