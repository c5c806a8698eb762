package nexmark

import (
	"encoding/binary"
	"fmt"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
)

// Query builds one Nexmark query into b, reading events from in and
// writing its results to out.
type Query struct {
	// Name is "q0", "q1", ...
	Name string
	// Title says what the query computes.
	Title string
	// Build adds the query to b.
	Build func(b *stream.Builder, in, out string, opts QueryOptions)
}

// QueryOptions are the choices a query leaves to its runner.
type QueryOptions struct {
	// InMemory keeps the query's stores in memory instead of RocksDB.
	InMemory bool
}

// Queries lists the queries this package implements, in order.
func Queries() []Query {
	return append(append(basicQueries(), closingQueries()...), windowedQueries()...)
}

// basicQueries are the queries without windows.
func basicQueries() []Query {
	return []Query{
		{"q0", "passthrough of bids", Q0},
		{"q1", "currency conversion of bid prices", Q1},
		{"q2", "bids on auctions whose id is a multiple of 123", Q2},
		{"q3", "sellers in OR, ID or CA of category-10 auctions (incremental join)", Q3},
	}
}

// Q2Modulus selects the auctions of Q2: those with id%Q2Modulus == 0.
const Q2Modulus = 123

// DollarToEuro is Q1's exchange rate, in thousandths: a price of p cents of
// a dollar is p*DollarToEuro/1000 cents of a euro (0.908, Nexmark's rate).
const DollarToEuro = 908

// bids reads the events and keeps the bids.
func bids(b *stream.Builder, in string) stream.KStream[[]byte, Bid] {
	stream.RegisterSerde(b, BidSerde())
	events := stream.Stream(b, in, stream.ConsumedWith(serde.Bytes(), EventSerde()))
	onlyBids := events.Filter(func(_ []byte, e Event) bool { return e.Kind == KindBid })
	return stream.MapValues(onlyBids, func(e Event) Bid { return *e.Bid })
}

// Q0 writes every bid unchanged: the cost of reading, decoding, encoding
// and writing.
//
//	SELECT auction, bidder, price, dateTime, extra FROM bid
func Q0(b *stream.Builder, in, out string, _ QueryOptions) {
	bids(b, in).To(out)
}

// Q1 converts bid prices from dollars to euros.
//
//	SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid
func Q1(b *stream.Builder, in, out string, _ QueryOptions) {
	stream.MapValues(bids(b, in), ConvertBid).To(out)
}

// ConvertBid is Q1's mapping.
func ConvertBid(bid Bid) Bid {
	bid.Price = bid.Price * DollarToEuro / 1000
	return bid
}

// Q2Result is a row of Q2.
type Q2Result struct {
	Auction int64 `json:"auction"`
	Price   int64 `json:"price"`
}

// Q2 selects the bids of a few auctions.
//
//	SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0
func Q2(b *stream.Builder, in, out string, _ QueryOptions) {
	sel := bids(b, in).Filter(func(_ []byte, bid Bid) bool { return bid.Auction%Q2Modulus == 0 })
	stream.MapValues(sel, func(bid Bid) Q2Result { return Q2Result{bid.Auction, bid.Price} }).
		To(out, stream.ProducedWith(serde.Bytes(), serde.JSON[Q2Result]()))
}

// Q3Result is a row of Q3.
type Q3Result struct {
	Name    string `json:"name"`
	City    string `json:"city"`
	State   string `json:"state"`
	Auction int64  `json:"auction"`
}

// Q3States are the seller states Q3 keeps.
var Q3States = map[string]bool{"OR": true, "ID": true, "CA": true}

// Q3Category is the auction category Q3 keeps.
const Q3Category = 10

// Store names of Q3.
const (
	q3Persons = "q3-persons"
	q3Pending = "q3-pending"
)

// Q3 joins category-10 auctions with their sellers in Oregon, Idaho and
// California.
//
//	SELECT P.name, P.city, P.state, A.id
//	FROM auction A INNER JOIN person P ON A.seller = P.id
//	WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')
//
// As in Nexmark, this is an incremental join of two unbounded inputs: a
// seller may appear after an auction of theirs (the generator draws
// sellers slightly ahead), so auctions whose seller is not known yet wait
// in a store until the seller arrives. Persons and auctions are re-keyed
// by person id through a repartition topic, so that each task joins its
// own persons with its own auctions.
func Q3(b *stream.Builder, in, out string, opts QueryOptions) {
	events := stream.Stream(b, in, stream.ConsumedWith(serde.Bytes(), EventSerde()))
	relevant := events.Filter(func(_ []byte, e Event) bool {
		return e.Kind == KindPerson || e.Kind == KindAuction && e.Auction.Category == Q3Category
	})
	byPerson := stream.SelectKey(relevant, func(_ []byte, e Event) int64 {
		if e.Kind == KindPerson {
			return e.Person.ID
		}
		return e.Auction.Seller
	}).Repartition(stream.RepartitionedAs[int64, Event]("q3-by-person"))
	engine := state.RocksDB
	if opts.InMemory {
		engine = state.InMemory
	}
	for _, name := range []string{q3Persons, q3Pending} {
		b.AddStateStore(state.Spec{Name: name, Kind: state.KindKeyValue, Engine: engine})
	}
	joined := stream.Process(byPerson, func() topology.Processor[int64, Event, int64, Q3Result] { return &q3Join{} },
		stream.Stores(q3Persons, q3Pending))
	joined.To(out, stream.ProducedWith(serde.Int64(), serde.JSON[Q3Result]()))
}

// q3Join keeps every person (id -> name, city, state) and the auction ids
// of persons not seen yet (seller id -> varint auction ids).
type q3Join struct {
	ctx     topology.ProcessorContext[int64, Q3Result]
	persons state.KeyValueStore
	pending state.KeyValueStore
	key     [8]byte
}

func (j *q3Join) Init(ctx topology.ProcessorContext[int64, Q3Result]) error {
	j.ctx = ctx
	for name, dst := range map[string]*state.KeyValueStore{q3Persons: &j.persons, q3Pending: &j.pending} {
		s, err := ctx.StateStore(name)
		if err != nil {
			return err
		}
		kv, ok := s.(state.KeyValueStore)
		if !ok {
			return fmt.Errorf("q3: store %s is a %T, not a key-value store", name, s)
		}
		*dst = kv
	}
	return nil
}

func (j *q3Join) Process(rec topology.Record[int64, Event]) error {
	binary.BigEndian.PutUint64(j.key[:], uint64(rec.Key))
	switch e := rec.Value; e.Kind {
	case KindPerson:
		p := e.Person
		if err := j.persons.Put(j.key[:], appendStrings(nil, p.Name, p.City, p.State)); err != nil {
			return err
		}
		waiting, err := j.pending.Delete(j.key[:])
		if err != nil || waiting == nil || !Q3States[p.State] {
			return err
		}
		for len(waiting) > 0 {
			id, n := binary.Varint(waiting)
			if n <= 0 {
				return fmt.Errorf("q3: corrupt pending auctions of person %d", rec.Key)
			}
			waiting = waiting[n:]
			if err := j.emit(rec, Q3Result{p.Name, p.City, p.State, id}); err != nil {
				return err
			}
		}
		return nil
	case KindAuction:
		enc, err := j.persons.Get(j.key[:])
		if err != nil {
			return err
		}
		if enc == nil {
			old, err := j.pending.Get(j.key[:])
			if err != nil {
				return err
			}
			return j.pending.Put(j.key[:], binary.AppendVarint(append([]byte(nil), old...), e.Auction.ID))
		}
		d := decoder{buf: enc}
		r := Q3Result{Name: d.str(), City: d.str(), State: d.str(), Auction: e.Auction.ID}
		if d.err != nil {
			return fmt.Errorf("q3: corrupt stored person %d: %w", rec.Key, d.err)
		}
		if !Q3States[r.State] {
			return nil
		}
		return j.emit(rec, r)
	}
	return nil
}

func (j *q3Join) emit(rec topology.Record[int64, Event], r Q3Result) error {
	return j.ctx.Forward(topology.Record[int64, Q3Result]{Key: rec.Key, Value: r, Timestamp: rec.Timestamp})
}

func (j *q3Join) Close() error { return nil }
