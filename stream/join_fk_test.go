package stream_test

import (
	"strings"
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology/topologytest"
)

// product is the foreign key of an order value "product:quantity".
func product(order string) string { p, _, _ := strings.Cut(order, ":"); return p }

type fkCase struct {
	orders, products *topologytest.InputTopic[string, string]
	out              *topologytest.OutputTopic[string, string]
}

func newFKCase(t *testing.T, join func(o, p stream.KTable[string, string]) stream.KTable[string, string]) fkCase {
	b := stream.NewBuilder()
	orders := stream.Table(b, "orders", stream.ConsumedWith(serde.String(), serde.String()))
	products := stream.Table(b, "products", stream.ConsumedWith(serde.String(), serde.String()))
	join(orders, products).ToStream().To("out")
	d := newDriver(t, b)
	return fkCase{
		orders:   topologytest.CreateInputTopic(d, "orders", serde.String(), serde.String()),
		products: topologytest.CreateInputTopic(d, "products", serde.String(), serde.String()),
		out:      topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())}
}

func TestForeignKeyInnerJoin(t *testing.T) {
	c := newFKCase(t, func(o, p stream.KTable[string, string]) stream.KTable[string, string] {
		return stream.JoinForeignKey(o, p, product, func(order, name string) string { return order + "/" + name }, stream.TableJoinedAs[string, string]("orders-products"))
	})
	pipe(t, c.products, "p1", "apple", 1)
	pipe(t, c.orders, "o1", "p1:2", 2)
	pipe(t, c.orders, "o2", "p2:1", 3) // no product p2 yet: nothing
	pipe(t, c.products, "p2", "pear", 4)
	pipe(t, c.products, "p1", "green-apple", 5)
	pipe(t, c.orders, "o1", "p2:5", 6) // moves to p2: p1's updates no longer reach it
	pipe(t, c.products, "p1", "red-apple", 7)
	tombstone(t, c.products, "p2", 8) // both orders lose their result
	tombstone(t, c.orders, "o2", 9)   // a deleted order is deleted downstream
	expect(t, "fk inner join", readAll(t, c.out),
		"o1=p1:2/apple@2 o2=p2:1/pear@4 o1=p1:2/green-apple@5 o1=p2:5/pear@6 o1=<nil>@8 o2=<nil>@8 o2=<nil>@9")
}

func TestForeignKeyLeftJoin(t *testing.T) {
	c := newFKCase(t, func(o, p stream.KTable[string, string]) stream.KTable[string, string] {
		return stream.LeftJoinForeignKey(o, p, product, func(order string, name *string) string { return order + "/" + orNull(name) })
	})
	pipe(t, c.orders, "o1", "p1:2", 1)
	pipe(t, c.products, "p1", "apple", 2)
	tombstone(t, c.products, "p1", 3)
	pipe(t, c.orders, "o1", "p3:1", 4) // moves to a key with no row
	tombstone(t, c.orders, "o1", 5)
	expect(t, "fk left join", readAll(t, c.out), "o1=p1:2/null@1 o1=p1:2/apple@2 o1=p1:2/null@3 o1=p3:1/null@4 o1=<nil>@5")
}

func TestForeignKeyJoinTopicsFollowTheirTables(t *testing.T) {
	b := stream.NewBuilder()
	orders := stream.Table(b, "orders", stream.ConsumedWith(serde.String(), serde.String()))
	products := stream.Table(b, "products", stream.ConsumedWith(serde.String(), serde.String()))
	stream.JoinForeignKey(orders, products, product, func(o, n string) string { return o + n }, stream.TableJoinedAs[string, string]("fk")).ToStream().To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range topo.InternalTopics("app") {
		got[it.Name] = strings.Join(it.SourceTopics, ",")
	}
	// The two topics feed each other, so their counts must come from the
	// tables they are co-partitioned with.
	want := map[string]string{"app-fk-subscription-registration-repartition": "products", "app-fk-subscription-response-repartition": "orders"}
	for name, src := range want {
		if got[name] != src {
			t.Errorf("%s takes its partition count from %q, want %q", name, got[name], src)
		}
	}
}

// An answer from the right side carries the later of the order's and the
// product's timestamps (Kafka Streams' SubscriptionJoinProcessorSupplier);
// one triggered by a product update carries the update's.
func TestForeignKeyJoinTimestamps(t *testing.T) {
	c := newFKCase(t, func(o, p stream.KTable[string, string]) stream.KTable[string, string] {
		return stream.JoinForeignKey(o, p, product, func(order, name string) string { return order + "/" + name })
	})
	pipe(t, c.products, "p1", "apple", 10)
	pipe(t, c.orders, "o1", "p1:2", 5)
	pipe(t, c.products, "p1", "pear", 7)
	tombstone(t, c.orders, "o1", 3)
	expect(t, "fk join timestamps", readAll(t, c.out), "o1=p1:2/apple@10 o1=p1:2/pear@7 o1=<nil>@7")
}
