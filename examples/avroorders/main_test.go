package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/kafki/kafki/internal/kafkatest"
)

// TestAvroOrders runs the example end to end: orders in two schema
// versions through the embedded registry and the runtime; run itself
// checks every total against a direct computation, and this test checks
// the count of customers and that both schema versions were written.
func TestAvroOrders(t *testing.T) {
	c := kafkatest.New(t, 1)
	cfg := defaultConfig()
	cfg.brokers = strings.Join(c.Brokers, ",")
	cfg.input, cfg.output, cfg.appID = c.Topic("orders"), c.Topic("totals"), c.Topic("avroorders")
	cfg.orders = 300
	var out strings.Builder
	got, err := run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatalf("%v\noutput:\n%s", err, out.String())
	}
	if len(got) != 5 {
		t.Fatalf("totals for %d customers, want 5:\n%s", len(got), out.String())
	}
	if !strings.Contains(out.String(), "150 with schema v1, 150 with v2") {
		t.Fatalf("output does not say both schema versions were written:\n%s", out.String())
	}
}

func TestFlags(t *testing.T) {
	if _, err := parseFlags([]string{"--orders", "0"}, io.Discard); err == nil || !strings.Contains(err.Error(), "--orders") {
		t.Fatalf("--orders 0: %v", err)
	}
}
