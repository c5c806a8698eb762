package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kafki/kafki/examples/internal/exrun"
	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic names.
const (
	topicCustomers = "customers"
	topicProducts  = "products"
	topicOrders    = "orders"
	topicPayments  = "payments"
	topicEnriched  = "orders-enriched"
	topicPaid      = "orders-paid"
)

// paymentWindow is how long after (or before) its order a payment joins.
const paymentWindow = 10 * time.Minute

// config is what the flags set.
type config struct {
	brokers       string
	commandConfig string
	appID         string
	orders        int
	partitions    int
	baseTime      int64
	timeout       time.Duration
}

func defaultConfig() config {
	return config{appID: "kafki-enrich", orders: 60, partitions: 2,
		baseTime: time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC).UnixMilli(), timeout: 5 * time.Minute}
}

func (c config) validate() error {
	switch {
	case c.orders < 1:
		return errors.New("--orders must be at least 1")
	case c.partitions < 1:
		return errors.New("--partitions must be at least 1")
	case c.appID == "":
		return errors.New("--app-id must not be empty")
	case c.timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("enrich", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.brokers, "brokers", "", "comma-separated seed brokers (default: start an embedded broker)")
	fs.StringVar(&cfg.commandConfig, "command-config", "", "Kafka client properties file: security.protocol, ssl.*, sasl.* (TLS and SASL)")
	fs.StringVar(&cfg.appID, "app-id", cfg.appID, "application id")
	fs.IntVar(&cfg.orders, "orders", cfg.orders, "orders to generate over an hour of event time")
	fs.IntVar(&cfg.partitions, "partitions", cfg.partitions, "partitions of every topic this program creates")
	fs.DurationVar(&cfg.timeout, "timeout", cfg.timeout, "give up when processing takes longer")
	if err := exrun.Parse(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func main() { exrun.Main("enrich", parseFlags, run) }

// buildTopology: orders re-keyed by customer join the customers table,
// then look their product up in the products global table (every instance
// holds all of it, so no re-key is needed; written to orders-enriched),
// and re-keyed by order id join the payments stream within paymentWindow
// (written to orders-paid). Each re-key goes through a repartition topic,
// so the customers topic must have as many partitions as the orders topic.
func buildTopology() (*topology.Topology, error) {
	// One serde per type; every operator finds its serdes here.
	b := stream.NewBuilder(stream.DefaultSerde(serde.JSON[Customer]()), stream.DefaultSerde(serde.JSON[Product]()),
		stream.DefaultSerde(serde.JSON[Order]()), stream.DefaultSerde(serde.JSON[EnrichedOrder]()),
		stream.DefaultSerde(serde.JSON[Payment]()), stream.DefaultSerde(serde.JSON[PaidOrder]()))
	customers := stream.Table(b, topicCustomers, stream.MaterializedAs[string, Customer]("customers"))
	products := stream.GlobalTable(b, topicProducts, stream.MaterializedAs[string, Product]("products"))
	orders := stream.Stream[string, Order](b, topicOrders)

	byCustomer := stream.SelectKey(orders, func(_ string, o Order) string { return o.CustomerID }, stream.Named("orders-by-customer"))
	withCustomer := stream.JoinTable(byCustomer, customers, func(o Order, c Customer) EnrichedOrder {
		return EnrichedOrder{Order: o, Customer: c}
	}, stream.JoinedAs[string, Order]("join-customers"))

	enriched := stream.JoinGlobal(withCustomer, products, func(_ string, e EnrichedOrder) string { return e.Order.ProductID },
		func(e EnrichedOrder, p Product) EnrichedOrder {
			e.Product, e.Total = p, p.Price*e.Order.Quantity
			return e
		}, stream.Named("join-products"))
	byOrder := stream.SelectKey(enriched, func(_ string, e EnrichedOrder) string { return e.Order.ID }, stream.Named("orders-by-id"))
	byOrder.To(topicEnriched)

	payments := stream.Stream[string, Payment](b, topicPayments)
	// The generous grace accepts payments written long after their orders
	// in wall-clock time; the 10-minute window alone decides what joins.
	paid := stream.Join(byOrder, payments, func(e EnrichedOrder, p Payment) PaidOrder {
		return PaidOrder{EnrichedOrder: e, Payment: p}
	}, stream.JoinTimeDifference(paymentWindow, 2*time.Hour), stream.StreamJoinedAs[string, EnrichedOrder, Payment]("join-payments"))
	paid.To(topicPaid)

	topo, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build topology: %w", err)
	}
	return topo, nil
}

// run loads the tables, starts the application, writes the orders, then
// the payments, and prints what was joined.
func run(ctx context.Context, cfg config, stdout io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	broker, err := exrun.Connect(cfg.brokers, cfg.commandConfig)
	if err != nil {
		return err
	}
	defer broker.Close()
	fmt.Fprintf(stdout, "enrich on %v: orders ⋈ customers ⋈ products -> %s; ⋈ payments within %v -> %s\n",
		broker.Addrs, topicEnriched, paymentWindow, topicPaid)
	if err := broker.EnsureTopics(ctx, int32(cfg.partitions),
		topicCustomers, topicProducts, topicOrders, topicPayments, topicEnriched, topicPaid); err != nil {
		return err
	}
	in := generate(cfg.orders, cfg.baseTime)
	// The table rows are older than every order, as a table loaded first.
	before := cfg.baseTime - time.Hour.Milliseconds()
	var rows []*kgo.Record
	for _, c := range in.customers {
		rows = append(rows, jsonRecord(topicCustomers, c.ID, c, before))
	}
	for _, p := range in.products {
		rows = append(rows, jsonRecord(topicProducts, p.ID, p, before))
	}
	if err := broker.Produce(ctx, rows); err != nil {
		return err
	}

	topo, err := buildTopology()
	if err != nil {
		return err
	}
	if _, err := exrun.RunApp(ctx, broker, topo, cfg.appID, exrun.Until(func(ctx context.Context, app *runtime.App) error {
		return feed(ctx, broker, app, cfg, topo, in)
	})); err != nil {
		return err
	}
	return report(ctx, broker, stdout, in)
}

// feed writes the orders once the tables are loaded, and the payments once
// the orders are processed, so that each join finds what it should.
func feed(ctx context.Context, broker *exrun.Broker, app *runtime.App, cfg config, topo *topology.Topology, in input) error {
	ctx, cancel := exrun.StopOnDone(ctx, app)
	defer cancel()
	wait := func(what string) error {
		if err := broker.WaitDrained(ctx, cfg.appID, topo, 100*time.Millisecond); err != nil {
			if aerr := app.Err(); aerr != nil {
				return fmt.Errorf("application failed: %w", aerr)
			}
			return fmt.Errorf("waiting for the %s: %w", what, err)
		}
		return nil
	}
	if err := wait("tables"); err != nil {
		return err
	}
	var recs []*kgo.Record
	for _, o := range in.orders {
		recs = append(recs, jsonRecord(topicOrders, o.ID, o, o.Time))
	}
	if err := broker.Produce(ctx, recs); err != nil {
		return err
	}
	if err := wait("orders"); err != nil {
		return err
	}
	recs = recs[:0]
	for _, p := range in.payments {
		recs = append(recs, jsonRecord(topicPayments, p.OrderID, p, p.Time))
	}
	if err := broker.Produce(ctx, recs); err != nil {
		return err
	}
	return wait("payments")
}

func jsonRecord[T any](topic, key string, v T, ts int64) *kgo.Record {
	b, err := serde.JSON[T]().Serialize(topic, nil, v)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err)) // plain structs always encode
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: b, Timestamp: time.UnixMilli(ts)}
}
