package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd runs the example on an embedded broker and checks the
// printed paid orders against a direct computation of both joins.
func TestEndToEnd(t *testing.T) {
	cfg := defaultConfig()
	cfg.orders, cfg.timeout = 40, time.Minute
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	in := generate(cfg.orders, cfg.baseTime)
	customers := map[string]Customer{}
	for _, c := range in.customers {
		customers[c.ID] = c
	}
	orders := map[string]Order{}
	for _, o := range in.orders {
		orders[o.ID] = o
	}
	var want []string
	late := 0
	for _, p := range in.payments {
		o := orders[p.OrderID]
		if d := p.Time - o.Time; d < -paymentWindow.Milliseconds() || d > paymentWindow.Milliseconds() {
			late++
			continue
		}
		c, pr := customers[o.CustomerID], in.product(o.ProductID)
		want = append(want, fmt.Sprintf("%s %s %s %s %d %s %s %s", o.ID, c.Name, c.Tier, pr.Name, o.Quantity,
			money(pr.Price*o.Quantity), money(p.Amount), p.Method))
	}
	slices.Sort(want)
	if late == 0 || len(want) == 0 || len(in.payments) == len(in.orders) {
		t.Fatalf("generated input lacks late payments (%d), joined ones (%d) or unpaid orders", late, len(want))
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 9 && strings.HasPrefix(f[0], "o0") {
			got = append(got, strings.Join(f[:8], " "))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paid orders:\n got %v\nwant %v\noutput:\n%s", got, want, out.String())
	}
	if s := fmt.Sprintf("%d orders, %d enriched", cfg.orders, cfg.orders); !strings.Contains(out.String(), s) {
		t.Fatalf("output lacks %q:\n%s", s, out.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--orders", "0"}, {"--partitions", "0"}, {"x"}} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%v) accepted bad input", args)
		}
	}
}
