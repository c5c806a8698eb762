package nexmark

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The constants of the Nexmark generator (Beam's NexmarkUtils and
// GeneratorConfig, which Flink's nexmark suite reuses).
const (
	// FirstPersonID, FirstAuctionID and FirstCategoryID are the smallest ids.
	FirstPersonID   = 1000
	FirstAuctionID  = 1000
	FirstCategoryID = 10
	// NumCategories is how many auction categories there are.
	NumCategories = 5

	// Of every ProportionDenominator events, PersonProportion are persons,
	// AuctionProportion auctions and the rest bids.
	PersonProportion      = 1
	AuctionProportion     = 3
	BidProportion         = 46
	ProportionDenominator = PersonProportion + AuctionProportion + BidProportion

	// Hot auctions, sellers and bidders: ids rounded down to a multiple of
	// these ratios, chosen with the probabilities of the *Ratio fields of
	// GeneratorConfig.
	hotAuctionRatio = 100
	hotSellerRatio  = 100
	hotBidderRatio  = 100

	// Ids are drawn from the most recent numActive persons and
	// numInFlightAuctions auctions, plus a small lead into the future.
	numActivePeople     = 1000
	numInFlightAuctions = 100
	personIDLead        = 10
	auctionIDLead       = 10
)

var (
	usStates   = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	channels   = []string{"Google", "Facebook", "Baidu", "Apple"}
)

// GeneratorConfig configures a Generator. The zero value is Nexmark's
// default: 10,000 events per second of event time from BaseTime 0.
type GeneratorConfig struct {
	// Seed makes the sequence reproducible; equal seeds give equal events.
	Seed uint64
	// BaseTime is the event time of the first event, ms since the epoch.
	BaseTime int64
	// EventsPerSecond is the event-time rate (default 10,000): event n
	// happens at BaseTime + n*1000/EventsPerSecond ms.
	EventsPerSecond int64
	// HotAuctionRatio, HotSellersRatio and HotBiddersRatio: a bid goes to
	// a hot auction with probability 1-1/HotAuctionRatio, and so on.
	// Defaults 2, 4, 4 as in Nexmark.
	HotAuctionRatio, HotSellersRatio, HotBiddersRatio int
}

// Generator produces the Nexmark event sequence. It is not safe for
// concurrent use.
type Generator struct {
	cfg GeneratorConfig
	rng *rand.Rand
	n   int64 // id of the next event
}

// NewGenerator returns a generator at event 0.
func NewGenerator(cfg GeneratorConfig) *Generator {
	if cfg.EventsPerSecond <= 0 {
		cfg.EventsPerSecond = 10_000
	}
	if cfg.HotAuctionRatio <= 0 {
		cfg.HotAuctionRatio = 2
	}
	if cfg.HotSellersRatio <= 0 {
		cfg.HotSellersRatio = 4
	}
	if cfg.HotBiddersRatio <= 0 {
		cfg.HotBiddersRatio = 4
	}
	return &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6e65786d61726b))}
}

// Count returns how many events the generator has produced.
func (g *Generator) Count() int64 { return g.n }

// Next returns the next event.
func (g *Generator) Next() Event {
	id := g.n
	g.n++
	ts := g.cfg.BaseTime + id*1000/g.cfg.EventsPerSecond
	switch rem := id % ProportionDenominator; {
	case rem < PersonProportion:
		return Event{Kind: KindPerson, Person: g.person(id, ts)}
	case rem < PersonProportion+AuctionProportion:
		return Event{Kind: KindAuction, Auction: g.auction(id, ts)}
	default:
		return Event{Kind: KindBid, Bid: g.bid(id, ts)}
	}
}

// lastBase0PersonID is the 0-based id of the last person generated at or
// before event id.
func lastBase0PersonID(id int64) int64 {
	epoch, off := id/ProportionDenominator, id%ProportionDenominator
	if off >= PersonProportion {
		off = PersonProportion - 1
	}
	return epoch*PersonProportion + off
}

// lastBase0AuctionID is the 0-based id of the last auction generated at or
// before event id.
func lastBase0AuctionID(id int64) int64 {
	epoch, off := id/ProportionDenominator, id%ProportionDenominator
	switch {
	case off < PersonProportion:
		epoch--
		off = AuctionProportion - 1
	case off >= PersonProportion+AuctionProportion:
		off = AuctionProportion - 1
	default:
		off -= PersonProportion
	}
	return epoch*AuctionProportion + off
}

// nextBase0PersonID picks a recent person, or one a little in the future.
func (g *Generator) nextBase0PersonID(id int64) int64 {
	num := lastBase0PersonID(id) + 1
	active := min(num, numActivePeople)
	return num - active + g.rng.Int64N(active+personIDLead)
}

// nextBase0AuctionID picks an auction in flight, or one a little ahead.
func (g *Generator) nextBase0AuctionID(id int64) int64 {
	maxAuction := lastBase0AuctionID(id)
	minAuction := max(maxAuction-numInFlightAuctions, 0)
	return minAuction + g.rng.Int64N(maxAuction-minAuction+1+auctionIDLead)
}

// price is Nexmark's price: 10^(0..6) dollars, in cents.
func (g *Generator) price() int64 {
	return int64(math.Round(math.Pow(10, g.rng.Float64()*6) * 100))
}

// str returns a random lowercase string of up to maxLen letters with
// spaces, at least 1 character.
func (g *Generator) str(maxLen int) string {
	n := 1 + g.rng.IntN(maxLen)
	var b strings.Builder
	b.Grow(n)
	for range n {
		if g.rng.IntN(13) == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(byte('a' + g.rng.IntN(26)))
		}
	}
	return b.String()
}

func (g *Generator) person(id, ts int64) *Person {
	pid := lastBase0PersonID(id) + FirstPersonID
	name := firstNames[g.rng.IntN(len(firstNames))] + " " + lastNames[g.rng.IntN(len(lastNames))]
	return &Person{
		ID:           pid,
		Name:         name,
		EmailAddress: g.str(7) + "@" + g.str(5) + ".com",
		CreditCard: strconv.Itoa(1000+g.rng.IntN(9000)) + " " + strconv.Itoa(1000+g.rng.IntN(9000)) + " " +
			strconv.Itoa(1000+g.rng.IntN(9000)) + " " + strconv.Itoa(1000+g.rng.IntN(9000)),
		City:     usCities[g.rng.IntN(len(usCities))],
		State:    usStates[g.rng.IntN(len(usStates))],
		DateTime: ts,
		Extra:    g.str(40),
	}
}

func (g *Generator) auction(id, ts int64) *Auction {
	var seller int64
	if g.rng.IntN(g.cfg.HotSellersRatio) > 0 {
		seller = (lastBase0PersonID(id) / hotSellerRatio) * hotSellerRatio
	} else {
		seller = g.nextBase0PersonID(id)
	}
	initial := g.price()
	return &Auction{
		ID:          lastBase0AuctionID(id) + FirstAuctionID,
		ItemName:    g.str(20),
		Description: g.str(100),
		InitialBid:  initial,
		Reserve:     initial + g.price(),
		DateTime:    ts,
		// Auctions last 1 to 20 seconds of event time.
		Expires:  ts + 1000 + g.rng.Int64N(19_000),
		Seller:   seller + FirstPersonID,
		Category: FirstCategoryID + g.rng.Int64N(NumCategories),
		Extra:    g.str(40),
	}
}

func (g *Generator) bid(id, ts int64) *Bid {
	var auction, bidder int64
	if g.rng.IntN(g.cfg.HotAuctionRatio) > 0 {
		auction = (lastBase0AuctionID(id) / hotAuctionRatio) * hotAuctionRatio
	} else {
		auction = g.nextBase0AuctionID(id)
	}
	if g.rng.IntN(g.cfg.HotBiddersRatio) > 0 {
		bidder = (lastBase0PersonID(id)/hotBidderRatio)*hotBidderRatio + 1
	} else {
		bidder = g.nextBase0PersonID(id)
	}
	ch := g.rng.IntN(len(channels))
	return &Bid{
		Auction:  auction + FirstAuctionID,
		Bidder:   bidder + FirstPersonID,
		Price:    g.price(),
		Channel:  channels[ch],
		URL:      "https://www.nexmark.com/" + g.str(5) + "/item.htm?query=1&channel_id=" + strconv.Itoa(ch),
		DateTime: ts,
		Extra:    g.str(20),
	}
}
