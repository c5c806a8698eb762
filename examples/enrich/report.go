package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/kafki/kafki/examples/internal/exrun"
	"github.com/kafki/kafki/serde"
)

// report reads both outputs and prints the paid orders.
func report(ctx context.Context, broker *exrun.Broker, w io.Writer, in input) error {
	enriched, err := readJSON[EnrichedOrder](ctx, broker, topicEnriched)
	if err != nil {
		return err
	}
	paid, err := readJSON[PaidOrder](ctx, broker, topicPaid)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d orders, %d enriched with their customer and product (%s)\n", len(in.orders), len(enriched), topicEnriched)
	fmt.Fprintf(w, "%d payments, %d joined their order within %v (%s):\n\n", len(in.payments), len(paid), paymentWindow, topicPaid)
	slices.SortFunc(paid, func(a, b PaidOrder) int { return cmp.Compare(a.Order.ID, b.Order.ID) })
	fmt.Fprintf(w, "%-6s %-9s %-8s %-9s %3s %9s %9s %-8s %s\n", "order", "customer", "tier", "product", "qty", "total", "paid", "method", "after")
	for _, p := range paid {
		fmt.Fprintf(w, "%-6s %-9s %-8s %-9s %3d %9s %9s %-8s %s\n", p.Order.ID, p.Customer.Name, p.Customer.Tier, p.Product.Name,
			p.Order.Quantity, money(p.Total), money(p.Payment.Amount), p.Payment.Method,
			(time.Duration(p.Payment.Time-p.Order.Time) * time.Millisecond).Round(time.Second))
	}
	return nil
}

func money(cents int64) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

func readJSON[T any](ctx context.Context, broker *exrun.Broker, topic string) ([]T, error) {
	recs, err := broker.ReadAll(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(recs))
	for _, r := range recs {
		v, err := serde.JSON[T]().Deserialize(topic, nil, r.Value)
		if err != nil {
			return nil, fmt.Errorf("%s offset %d: %w", topic, r.Offset, err)
		}
		out = append(out, v)
	}
	return out, nil
}
