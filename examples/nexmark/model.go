package nexmark

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/kafki/kafki/serde"
)

// Kind says which of the three records an Event holds.
type Kind uint8

// The event kinds.
const (
	KindPerson Kind = iota + 1
	KindAuction
	KindBid
)

// Person is a new user of the auction site.
type Person struct {
	ID           int64
	Name         string
	EmailAddress string
	CreditCard   string
	City         string
	State        string
	DateTime     int64 // event time, ms since the epoch
	Extra        string
}

// Auction is an item put up for auction by a seller (a Person).
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTime    int64
	Expires     int64
	Seller      int64
	Category    int64
	Extra       string
}

// Bid is a bid on an auction by a bidder (a Person). Prices are in cents
// of a US dollar.
type Bid struct {
	Auction  int64
	Bidder   int64
	Price    int64
	Channel  string
	URL      string
	DateTime int64
	Extra    string
}

// Event is one record of the Nexmark stream: exactly one of Person,
// Auction and Bid is set, as Kind says.
type Event struct {
	Kind    Kind
	Person  *Person
	Auction *Auction
	Bid     *Bid
}

// Timestamp returns the event's time.
func (e Event) Timestamp() int64 {
	switch e.Kind {
	case KindPerson:
		return e.Person.DateTime
	case KindAuction:
		return e.Auction.DateTime
	case KindBid:
		return e.Bid.DateTime
	}
	return 0
}

// errCorrupt is returned for bytes that are not an encoded event.
var errCorrupt = errors.New("nexmark: corrupt event encoding")

type eventSerde struct{}

// EventSerde returns the serde of Event: a kind byte, then the record's
// fields in declaration order, integers as varints, strings
// length-prefixed. Decoding checks every length against the input.
func EventSerde() serde.Serde[Event] { return eventSerde{} }

func (eventSerde) Serialize(topic string, _ []serde.Header, e Event) ([]byte, error) {
	return appendEvent(make([]byte, 0, 128), e)
}

func (eventSerde) Deserialize(topic string, _ []serde.Header, data []byte) (Event, error) {
	e, err := decodeEvent(data)
	if err != nil {
		return Event{}, fmt.Errorf("topic %s: %w", topic, err)
	}
	return e, nil
}

type bidSerde struct{}

// BidSerde returns the serde of Bid, the encoding of a bid event without
// its kind byte.
func BidSerde() serde.Serde[Bid] { return bidSerde{} }

func (bidSerde) Serialize(_ string, _ []serde.Header, b Bid) ([]byte, error) {
	return appendBid(make([]byte, 0, 96), &b), nil
}

func (bidSerde) Deserialize(topic string, _ []serde.Header, data []byte) (Bid, error) {
	d := decoder{buf: data}
	b := d.bid()
	if d.err != nil || len(d.buf) != 0 {
		return Bid{}, fmt.Errorf("topic %s: bid: %w", topic, errCorrupt)
	}
	return *b, nil
}

func appendEvent(dst []byte, e Event) ([]byte, error) {
	dst = append(dst, byte(e.Kind))
	switch {
	case e.Kind == KindPerson && e.Person != nil:
		p := e.Person
		dst = binary.AppendVarint(dst, p.ID)
		dst = appendStrings(dst, p.Name, p.EmailAddress, p.CreditCard, p.City, p.State)
		dst = binary.AppendVarint(dst, p.DateTime)
		return appendStrings(dst, p.Extra), nil
	case e.Kind == KindAuction && e.Auction != nil:
		a := e.Auction
		dst = binary.AppendVarint(dst, a.ID)
		dst = appendStrings(dst, a.ItemName, a.Description)
		for _, n := range []int64{a.InitialBid, a.Reserve, a.DateTime, a.Expires, a.Seller, a.Category} {
			dst = binary.AppendVarint(dst, n)
		}
		return appendStrings(dst, a.Extra), nil
	case e.Kind == KindBid && e.Bid != nil:
		return appendBid(dst, e.Bid), nil
	}
	return nil, fmt.Errorf("nexmark: event of kind %d without its record", e.Kind)
}

func appendBid(dst []byte, b *Bid) []byte {
	dst = binary.AppendVarint(dst, b.Auction)
	dst = binary.AppendVarint(dst, b.Bidder)
	dst = binary.AppendVarint(dst, b.Price)
	dst = appendStrings(dst, b.Channel, b.URL)
	dst = binary.AppendVarint(dst, b.DateTime)
	return appendStrings(dst, b.Extra)
}

func appendStrings(dst []byte, ss ...string) []byte {
	for _, s := range ss {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// decoder reads fields and remembers the first error.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) str() string {
	if d.err != nil {
		return ""
	}
	l, n := binary.Uvarint(d.buf)
	if n <= 0 || l > uint64(len(d.buf)-n) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.buf[n : n+int(l)])
	d.buf = d.buf[n+int(l):]
	return s
}

func (d *decoder) bid() *Bid {
	return &Bid{Auction: d.int(), Bidder: d.int(), Price: d.int(), Channel: d.str(), URL: d.str(), DateTime: d.int(), Extra: d.str()}
}

func decodeEvent(data []byte) (Event, error) {
	if len(data) == 0 {
		return Event{}, errCorrupt
	}
	d := decoder{buf: data[1:]}
	e := Event{Kind: Kind(data[0])}
	switch e.Kind {
	case KindPerson:
		e.Person = &Person{ID: d.int(), Name: d.str(), EmailAddress: d.str(), CreditCard: d.str(), City: d.str(),
			State: d.str(), DateTime: d.int(), Extra: d.str()}
	case KindAuction:
		e.Auction = &Auction{ID: d.int(), ItemName: d.str(), Description: d.str(), InitialBid: d.int(), Reserve: d.int(),
			DateTime: d.int(), Expires: d.int(), Seller: d.int(), Category: d.int(), Extra: d.str()}
	case KindBid:
		e.Bid = d.bid()
	default:
		return Event{}, fmt.Errorf("%w: unknown kind %d", errCorrupt, data[0])
	}
	if d.err != nil {
		return Event{}, d.err
	}
	if len(d.buf) != 0 {
		return Event{}, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.buf))
	}
	return e, nil
}
