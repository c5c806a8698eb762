package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestPipeline runs the whole example (its own PostgreSQL, an embedded
// broker, both connectors and the topology) and checks the printed
// totals, which run only prints once the sink table equals the SQL sum.
func TestPipeline(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), config{orders: 40, timeout: 3 * time.Minute}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	// 40 orders over 5 customers: 8 each; amounts i%40/2+1.
	for _, want := range []string{"c0       Ada         78.00       8", "c4       Eve         94.00       8"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("missing %q in\n%s", want, out.String())
		}
	}
}
