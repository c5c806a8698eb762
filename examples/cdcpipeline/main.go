package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kafki/kafki/connect"
	_ "github.com/kafki/kafki/connect/postgres"
	"github.com/kafki/kafki/examples/internal/exrun"
	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
)

// Topic names: the CDC source writes <prefix>.<schema>.<table>.
const (
	prefix         = "shop"
	topicCustomers = prefix + ".public.customers"
	topicOrders    = prefix + ".public.orders"
	topicRevenue   = "revenue-per-customer"
)

// Customer is a row of the customers table, as the CDC source writes it
// after the unwrap transform.
type Customer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Order is a row of the orders table.
type Order struct {
	ID         int64   `json:"id"`
	CustomerID string  `json:"customer_id"`
	Amount     float64 `json:"amount"`
}

// Revenue is a customer's running total, a row of the sink table.
type Revenue struct {
	CustomerID string  `json:"customer_id"`
	Name       string  `json:"name"`
	Revenue    float64 `json:"revenue"`
	Orders     int64   `json:"orders"`
}

type config struct {
	brokers string
	pgURL   string
	orders  int
	timeout time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{orders: 200, timeout: 5 * time.Minute}
	fs := flag.NewFlagSet("cdcpipeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.brokers, "brokers", "", "comma-separated seed brokers (default: start an embedded broker)")
	fs.StringVar(&cfg.pgURL, "pg-url", "", "PostgreSQL with wal_level=logical, as postgres://user@host:port/db (default: start one)")
	fs.IntVar(&cfg.orders, "orders", cfg.orders, "orders to insert, half before the pipeline starts (the snapshot), half while it runs (the stream)")
	fs.DurationVar(&cfg.timeout, "timeout", cfg.timeout, "give up when the pipeline takes longer")
	if err := exrun.Parse(fs, args); err != nil {
		return cfg, err
	}
	if cfg.orders < 2 {
		return cfg, errors.New("--orders must be at least 2")
	}
	return cfg, nil
}

func main() { exrun.Main("cdcpipeline", parseFlags, run) }

// buildTopology: orders re-keyed by customer join the customers table and
// are summed per customer; every new total goes to revenue-per-customer.
func buildTopology() (*topology.Topology, error) {
	// One serde per type; every operator finds its serdes here.
	b := stream.NewBuilder(stream.DefaultSerde(serde.JSON[Customer]()), stream.DefaultSerde(serde.JSON[Order]()),
		stream.DefaultSerde(serde.JSON[Revenue]()))
	customers := stream.Table(b, topicCustomers, stream.MaterializedAs[string, Customer]("customers"))
	orders := stream.Stream[string, Order](b, topicOrders)
	byCustomer := stream.SelectKey(orders, func(_ string, o Order) string { return o.CustomerID }, stream.Named("orders-by-customer"))
	withName := stream.JoinTable(byCustomer, customers, func(o Order, c Customer) Revenue {
		return Revenue{CustomerID: c.ID, Name: c.Name, Revenue: o.Amount, Orders: 1}
	}, stream.JoinedAs[string, Order]("join-customers"))
	totals := stream.Aggregate(stream.GroupByKey(withName), func() Revenue { return Revenue{} },
		func(_ string, r Revenue, t Revenue) Revenue {
			t.CustomerID, t.Name = r.CustomerID, r.Name
			t.Revenue += r.Revenue
			t.Orders += r.Orders
			return t
		}, stream.MaterializedAs[string, Revenue]("revenue"))
	totals.ToStream().To(topicRevenue)
	return b.Build()
}

// connectors returns the CDC source on the shop tables and the sink of
// the totals into revenue_per_customer.
func connectors(pgURL string) ([]connect.ConnectorConfig, error) {
	pc, err := pgx.ParseConfig(pgURL)
	if err != nil {
		return nil, fmt.Errorf("--pg-url: %w", err)
	}
	src := map[string]string{
		"connector.class":                "io.debezium.connector.postgresql.PostgresConnector",
		"database.hostname":              pc.Host,
		"database.port":                  strconv.Itoa(int(pc.Port)),
		"database.user":                  pc.User,
		"database.password":              pc.Password,
		"database.dbname":                pc.Database,
		"topic.prefix":                   prefix,
		"table.include.list":             `public\.customers,public\.orders`,
		"publication.autocreate.mode":    "filtered",
		"slot.name":                      "kafki_cdc_example",
		"publication.name":               "kafki_cdc_example",
		"decimal.handling.mode":          "double",
		"poll.interval.ms":               "100",
		"transforms":                     "unwrap,key",
		"transforms.unwrap.type":         "io.debezium.transforms.ExtractNewRecordState",
		"transforms.key.type":            "org.apache.kafka.connect.transforms.ExtractField$Key",
		"transforms.key.field":           "id",
		"key.converter":                  "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "false",
	}
	sink := map[string]string{
		"connector.class":                "io.kafki.connect.postgres.PostgresSinkConnector",
		"connection.url":                 pgURL,
		"topics":                         topicRevenue,
		"table.name.format":              "revenue_per_customer",
		"insert.mode":                    "upsert",
		"pk.mode":                        "record_key",
		"pk.fields":                      "customer_id",
		"key.converter":                  "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "false",
	}
	return []connect.ConnectorConfig{{Name: "shop-cdc", Config: src}, {Name: "revenue-sink", Config: sink}}, nil
}

var customerNames = []string{"Ada", "Bob", "Cy", "Dee", "Eve"}

func insertOrders(ctx context.Context, db *pgx.Conn, from, to int) error {
	var b pgx.Batch
	for i := from; i < to; i++ {
		// Amounts in halves are exact in binary, so sums compare exactly.
		b.Queue("INSERT INTO orders VALUES ($1, $2, $3)", i, fmt.Sprintf("c%d", i%len(customerNames)), float64(i%40)/2+1)
	}
	return db.SendBatch(ctx, &b).Close()
}

func run(ctx context.Context, cfg config, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	pgURL := cfg.pgURL
	if pgURL == "" {
		pg, err := startPostgres(ctx)
		if err != nil {
			return err
		}
		defer pg.stop()
		pgURL = pg.url()
	}
	db, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer db.Close(context.Background())
	for _, q := range []string{
		`DROP TABLE IF EXISTS orders, customers, revenue_per_customer`,
		`CREATE TABLE customers (id text PRIMARY KEY, name text NOT NULL)`,
		`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id text NOT NULL REFERENCES customers, amount numeric(10,2) NOT NULL)`,
		`CREATE TABLE revenue_per_customer (customer_id text PRIMARY KEY, name text, revenue double precision, orders bigint)`,
		`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'kafki_cdc_example'`,
		`DROP PUBLICATION IF EXISTS kafki_cdc_example`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			return fmt.Errorf("prepare tables: %s: %w", q, err)
		}
	}
	for i, n := range customerNames {
		if _, err := db.Exec(ctx, "INSERT INTO customers VALUES ($1, $2)", fmt.Sprintf("c%d", i), n); err != nil {
			return err
		}
	}
	half := cfg.orders / 2
	if err := insertOrders(ctx, db, 0, half); err != nil {
		return err
	}

	broker, err := exrun.Connect(cfg.brokers)
	if err != nil {
		return err
	}
	defer broker.Close()
	fmt.Fprintf(stdout, "cdcpipeline: PostgreSQL orders ⋈ customers -> CDC -> Kafki (revenue per customer) -> PostgreSQL revenue_per_customer, on %v\n", broker.Addrs)
	if err := broker.EnsureTopics(ctx, 1, topicCustomers, topicOrders, topicRevenue); err != nil {
		return err
	}
	ccs, err := connectors(pgURL)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kafki-cdc-offsets-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	worker := connect.Config{
		"bootstrap.servers":            strings.Join(broker.Addrs, ","),
		"offset.storage.file.filename": filepath.Join(dir, "offsets.json"),
		"offset.flush.interval.ms":     "500",
	}
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { workerDone <- connect.Standalone(wctx, worker, ccs, log) }()
	defer func() { stopWorker(); <-workerDone }()

	topo, err := buildTopology()
	if err != nil {
		return err
	}
	_, err = exrun.RunApp(ctx, broker, topo, "kafki-cdc-revenue", exrun.Until(func(ctx context.Context, app *runtime.App) error {
		ctx, cancel := exrun.StopOnDone(ctx, app)
		defer cancel()
		// The second half of the orders arrives through the stream.
		if err := insertOrders(ctx, db, half, cfg.orders); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "inserted %d orders before the pipeline started and %d while it ran\n", half, cfg.orders-half)
		return waitEqual(ctx, db, app)
	}))
	if err != nil {
		return err
	}
	return printTable(ctx, db, stdout)
}

// waitEqual waits until the sink table holds what SQL computes from the
// source tables.
func waitEqual(ctx context.Context, db *pgx.Conn, app *runtime.App) error {
	for {
		want, err := query(ctx, db, `SELECT c.id, c.name, sum(o.amount)::float8, count(*) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.id, c.name ORDER BY c.id`)
		if err != nil {
			return err
		}
		got, err := query(ctx, db, `SELECT customer_id, name, revenue, orders FROM revenue_per_customer ORDER BY customer_id`)
		if err != nil {
			return err
		}
		if equal(got, want) {
			return nil
		}
		if aerr := app.Err(); aerr != nil {
			return fmt.Errorf("application failed: %w", aerr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("revenue_per_customer is %v, want %v: %w", got, want, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func query(ctx context.Context, db *pgx.Conn, q string) ([]Revenue, error) {
	rows, err := db.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Revenue, error) {
		var v Revenue
		err := r.Scan(&v.CustomerID, &v.Name, &v.Revenue, &v.Orders)
		return v, err
	})
}

func equal(a, b []Revenue) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].CustomerID != b[i].CustomerID || a[i].Name != b[i].Name || a[i].Orders != b[i].Orders || math.Abs(a[i].Revenue-b[i].Revenue) > 1e-9 {
			return false
		}
	}
	return true
}

func printTable(ctx context.Context, db *pgx.Conn, stdout io.Writer) error {
	rows, err := query(ctx, db, `SELECT customer_id, name, revenue, orders FROM revenue_per_customer ORDER BY customer_id`)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "revenue_per_customer (equal to SUM over the orders table):")
	fmt.Fprintf(stdout, "  %-8s %-6s %10s %7s\n", "customer", "name", "revenue", "orders")
	for _, r := range rows {
		fmt.Fprintf(stdout, "  %-8s %-6s %10.2f %7d\n", r.CustomerID, r.Name, r.Revenue, r.Orders)
	}
	return nil
}
