package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/examples/internal/exrun"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/serde/avro"
	"github.com/kafki/kafki/serde/registry"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
)

// OrderV1 is the first version of the order schema.
type OrderV1 struct {
	Customer string  `avro:"customer"`
	Qty      int32   `avro:"qty"`
	Price    float64 `avro:"price"`
}

// Order is the current version: qty widened to long and a note added with
// a default, a BACKWARD-compatible evolution, so v1 records still decode.
type Order struct {
	Customer string  `avro:"customer"`
	Qty      int64   `avro:"qty"`
	Price    float64 `avro:"price"`
	Note     string  `avro:"note"`
}

// Total is the aggregate per customer.
type Total struct {
	Customer string  `avro:"customer"`
	Orders   int64   `avro:"orders"`
	Items    int64   `avro:"items"`
	Amount   float64 `avro:"amount"`
}

const (
	orderV1Schema = `{"type":"record","name":"Order","namespace":"kafki.examples","fields":[
		{"name":"customer","type":"string"},{"name":"qty","type":"int"},{"name":"price","type":"double"}]}`
	orderSchema = `{"type":"record","name":"Order","namespace":"kafki.examples","fields":[
		{"name":"customer","type":"string"},{"name":"qty","type":"long"},{"name":"price","type":"double"},
		{"name":"note","type":"string","default":""}]}`
	totalSchema = `{"type":"record","name":"Total","namespace":"kafki.examples","fields":[
		{"name":"customer","type":"string"},{"name":"orders","type":"long"},{"name":"items","type":"long"},
		{"name":"amount","type":"double"}]}`
)

type config struct {
	brokers       string // empty: embedded broker
	commandConfig string
	registry      string // empty: embedded registry
	input         string
	output        string
	appID         string
	orders        int
	timeout       time.Duration
	verbose       bool
}

func defaultConfig() config {
	return config{input: "orders-avro", output: "customer-totals-avro", appID: "kafki-avroorders",
		orders: 1000, timeout: 3 * time.Minute}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("avroorders", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.brokers, "brokers", "", "comma-separated seed brokers (default: start an embedded broker)")
	fs.StringVar(&cfg.commandConfig, "command-config", "", "Kafka client properties file: security.protocol, ssl.*, sasl.* (TLS and SASL)")
	fs.StringVar(&cfg.registry, "registry", "", "schema registry URL (default: start an embedded registry on the broker)")
	fs.StringVar(&cfg.input, "input", cfg.input, "input topic: Avro orders keyed by customer")
	fs.StringVar(&cfg.output, "output", cfg.output, "output topic: Avro totals keyed by customer")
	fs.StringVar(&cfg.appID, "app-id", cfg.appID, "application id")
	fs.IntVar(&cfg.orders, "orders", cfg.orders, "how many orders to write")
	fs.DurationVar(&cfg.timeout, "timeout", cfg.timeout, "give up when processing takes longer")
	fs.BoolVar(&cfg.verbose, "v", false, "log progress on standard error")
	if err := exrun.Parse(fs, args); err != nil {
		return cfg, err
	}
	if cfg.orders < 1 {
		return cfg, fmt.Errorf("--orders must be at least 1, got %d", cfg.orders)
	}
	return cfg, nil
}

func main() {
	exrun.Main("avroorders", parseFlags, func(ctx context.Context, cfg config, stdout io.Writer) error {
		_, err := run(ctx, cfg, stdout)
		return err
	})
}

// buildTopology reads orders with the current reader schema (v1 records
// are resolved against it), totals them per customer and writes every
// updated total.
func buildTopology(cfg config, orders serde.Serde[Order], totals serde.Serde[Total]) (*topology.Topology, error) {
	b := stream.NewBuilder()
	in := stream.Stream(b, cfg.input, stream.ConsumedWith(serde.String(), orders))
	byCustomer := stream.GroupByKey(in)
	sum := stream.Aggregate(byCustomer, func() Total { return Total{} },
		func(customer string, o Order, t Total) Total {
			t.Customer = customer
			t.Orders++
			t.Items += o.Qty
			t.Amount += float64(o.Qty) * o.Price
			return t
		}, stream.MaterializedAs[string, Total]("customer-totals").WithValueSerde(totals))
	sum.ToStream().To(cfg.output)
	return b.Build()
}

// generate returns the orders to write, alternating schema versions, and
// the totals one pass over them gives.
func generate(n int) (v1 []OrderV1, v2 []Order, want map[string]Total) {
	customers := []string{"ann", "bob", "cid", "dee", "eve"}
	want = map[string]Total{}
	for i := 0; i < n; i++ {
		c := customers[i%len(customers)]
		qty, price := int64(i%4+1), float64(i%9)+0.25
		if i%2 == 0 {
			v1 = append(v1, OrderV1{Customer: c, Qty: int32(qty), Price: price})
		} else {
			v2 = append(v2, Order{Customer: c, Qty: qty, Price: price, Note: "gift"})
		}
		t := want[c]
		t.Customer, t.Orders, t.Items, t.Amount = c, t.Orders+1, t.Items+qty, t.Amount+float64(qty)*price
		want[c] = t
	}
	return v1, v2, want
}

// run runs the example and returns the final totals it read back.
func run(ctx context.Context, cfg config, stdout io.Writer) (map[string]Total, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	logger := slog.New(slog.DiscardHandler)
	if cfg.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	broker, err := exrun.Connect(cfg.brokers, cfg.commandConfig)
	if err != nil {
		return nil, err
	}
	defer broker.Close()
	registryURL := cfg.registry
	if registryURL == "" {
		url, stop, err := startRegistry(ctx, broker.Addrs, logger)
		if err != nil {
			return nil, err
		}
		defer stop()
		registryURL = url
	}
	fmt.Fprintf(stdout, "Avro orders on %s, schema registry %s\n", strings.Join(broker.Addrs, ","), registryURL)
	reg, err := registry.NewClient([]string{registryURL})
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	ordersV1, err := avro.New[OrderV1](reg, orderV1Schema)
	if err != nil {
		return nil, err
	}
	orders, err := avro.New[Order](reg, orderSchema)
	if err != nil {
		return nil, err
	}
	totals, err := avro.New[Total](reg, totalSchema)
	if err != nil {
		return nil, err
	}
	if err := broker.EnsureTopics(ctx, 2, cfg.input, cfg.output); err != nil {
		return nil, err
	}

	// The producer side writes both schema versions, as two generations of
	// an upstream service would.
	v1, v2, want := generate(cfg.orders)
	var recs []*kgo.Record
	for i := range max(len(v1), len(v2)) {
		if i < len(v1) {
			val, err := ordersV1.Serialize(cfg.input, nil, v1[i])
			if err != nil {
				return nil, err
			}
			recs = append(recs, &kgo.Record{Topic: cfg.input, Key: []byte(v1[i].Customer), Value: val})
		}
		if i < len(v2) {
			val, err := orders.Serialize(cfg.input, nil, v2[i])
			if err != nil {
				return nil, err
			}
			recs = append(recs, &kgo.Record{Topic: cfg.input, Key: []byte(v2[i].Customer), Value: val})
		}
	}
	if err := broker.Produce(ctx, recs); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "wrote %d orders (%d with schema v1, %d with v2) to %s\n", len(recs), len(v1), len(v2), cfg.input)

	topo, err := buildTopology(cfg, orders, totals)
	if err != nil {
		return nil, fmt.Errorf("build topology: %w", err)
	}
	if _, err := exrun.RunApp(ctx, broker, topo, cfg.appID, exrun.Logger(logger)); err != nil {
		return nil, err
	}

	// Read the totals back with a generic reader, as a consumer that has
	// no Go type for them would.
	generic, err := avro.NewGeneric(reg, totalSchema)
	if err != nil {
		return nil, err
	}
	out, err := broker.ReadAll(ctx, cfg.output)
	if err != nil {
		return nil, err
	}
	got := map[string]Total{}
	for _, r := range out {
		m, err := generic.Deserialize(r.Topic, nil, r.Value)
		if err != nil {
			return nil, fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		t := Total{Customer: m["customer"].(string), Orders: m["orders"].(int64), Items: m["items"].(int64), Amount: m["amount"].(float64)}
		got[t.Customer] = t // records of one key are in order in their partition
	}
	names := make([]string, 0, len(got))
	for c := range got {
		names = append(names, c)
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "%-10s %8s %8s %12s\n", "customer", "orders", "items", "amount")
	for _, c := range names {
		t := got[c]
		fmt.Fprintf(stdout, "%-10s %8d %8d %12.2f\n", c, t.Orders, t.Items, t.Amount)
	}
	for c, w := range want {
		if got[c] != w {
			return got, fmt.Errorf("total for %s is %+v, want %+v", c, got[c], w)
		}
	}
	return got, nil
}

// startRegistry serves an embedded schema registry on a free loopback port.
func startRegistry(ctx context.Context, brokers []string, logger *slog.Logger) (string, func(), error) {
	srv, err := registry.NewServer(brokers, registry.Logger(logger))
	if err != nil {
		return "", nil, fmt.Errorf("schema registry: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return "", nil, fmt.Errorf("schema registry: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		return "", nil, fmt.Errorf("schema registry: %w", err)
	}
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}
