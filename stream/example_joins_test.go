package stream_test

import (
	"fmt"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology/topologytest"
)

// printRecords prints what the topology wrote to topic, a deleted row as
// "<deleted>".
func printRecords[K, V any](d *topologytest.Driver, topic string, ks serde.Serde[K], vs serde.Serde[V]) {
	recs, err := topologytest.CreateOutputTopic(d, topic, ks, vs).ReadRecords()
	if err != nil {
		fmt.Println(err)
	}
	for _, r := range recs {
		if r.NullValue {
			fmt.Println(r.Key, "<deleted>")
		} else {
			fmt.Println(r.Key, r.Value)
		}
	}
}

// Clicks joined with the users table: each click looks up the user's row
// as it is when the click arrives; a click with no row is dropped (an
// inner join; LeftJoinTable would keep it).
func ExampleJoinTable() {
	b := stream.NewBuilder()
	users := stream.Table[string, string](b, "users")
	clicks := stream.Stream[string, string](b, "clicks")
	stream.JoinTable(clicks, users, func(page, name string) string { return name + " opened " + page }).To("named-clicks")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	u := topologytest.CreateInputTopic(d, "users", serde.String(), serde.String())
	c := topologytest.CreateInputTopic(d, "clicks", serde.String(), serde.String())
	_ = c.Pipe("u1", "/home", time.UnixMilli(1)) // no user yet: dropped
	_ = u.Pipe("u1", "ann", time.UnixMilli(2))
	_ = c.Pipe("u1", "/cart", time.UnixMilli(3))
	_ = u.Pipe("u1", "anna", time.UnixMilli(4)) // a table update alone emits nothing
	_ = c.Pipe("u1", "/pay", time.UnixMilli(5))
	printRecords(d, "named-clicks", serde.String(), serde.String())
	// Output:
	// u1 ann opened /cart
	// u1 anna opened /pay
}

// Orders joined with a global table of customer names, looked up by the
// order's customer (not the order's key): a global table is complete on
// every instance, so nothing is repartitioned.
func ExampleJoinGlobal() {
	b := stream.NewBuilder(stream.DefaultSerde(serde.JSON[order]()))
	names := stream.GlobalTable[string, string](b, "customer-names")
	orders := stream.Stream[string, order](b, "orders")
	stream.JoinGlobal(orders, names, func(_ string, o order) string { return o.Customer },
		func(o order, name string) string { return fmt.Sprintf("%s paid %d", name, o.Amount) }).To("receipts")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	n := topologytest.CreateInputTopic(d, "customer-names", serde.String(), serde.String())
	in := topologytest.CreateInputTopic(d, "orders", serde.String(), serde.JSON[order]())
	_ = n.Pipe("c1", "Ann", time.UnixMilli(0))
	_ = n.Pipe("c2", "Bob", time.UnixMilli(0))
	_ = in.Pipe("o1", order{"c2", 7}, time.UnixMilli(1))
	_ = in.Pipe("o2", order{"c1", 5}, time.UnixMilli(2))
	_ = in.Pipe("o3", order{"c9", 1}, time.UnixMilli(3)) // no such customer: dropped
	printRecords(d, "receipts", serde.String(), serde.String())
	// Output:
	// o1 Bob paid 7
	// o2 Ann paid 5
}

// Two tables with the same key joined into a third: the result changes
// whenever either side does, and a row deleted on either side deletes
// the joined row (LeftJoinTables and OuterJoinTables keep one-sided rows).
func ExampleJoinTables() {
	b := stream.NewBuilder()
	names := stream.Table[string, string](b, "names")
	balances := stream.Table[string, int64](b, "balances")
	stream.JoinTables(names, balances, func(name string, balance int64) string {
		return fmt.Sprintf("%s has %d", name, balance)
	}).ToStream().To("statements")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	n := topologytest.CreateInputTopic(d, "names", serde.String(), serde.String())
	bal := topologytest.CreateInputTopic(d, "balances", serde.String(), serde.Int64())
	_ = n.Pipe("a1", "ann", time.UnixMilli(1)) // no balance yet: nothing
	_ = bal.Pipe("a1", 10, time.UnixMilli(2))
	_ = bal.Pipe("a1", 15, time.UnixMilli(3))
	_ = n.Pipe("a1", "anna", time.UnixMilli(4))
	_ = bal.PipeTombstone("a1", time.UnixMilli(5))
	printRecords(d, "statements", serde.String(), serde.String())
	// Output:
	// a1 ann has 10
	// a1 ann has 15
	// a1 anna has 15
	// a1 <deleted>
}

// A foreign-key join: each order (keyed by order id) joins the customer
// its value names. The result stays keyed by order and follows both
// sides: renaming a customer updates every order of theirs.
func ExampleJoinForeignKey() {
	b := stream.NewBuilder(stream.DefaultSerde(serde.JSON[order]()))
	orders := stream.Table[string, order](b, "orders")
	customers := stream.Table[string, string](b, "customers")
	stream.JoinForeignKey(orders, customers, func(o order) string { return o.Customer },
		func(o order, name string) string { return fmt.Sprintf("%s: %d", name, o.Amount) }).
		ToStream().To("orders-with-names")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	o := topologytest.CreateInputTopic(d, "orders", serde.String(), serde.JSON[order]())
	c := topologytest.CreateInputTopic(d, "customers", serde.String(), serde.String())
	_ = c.Pipe("c1", "Ann", time.UnixMilli(1))
	_ = o.Pipe("o1", order{"c1", 5}, time.UnixMilli(2))
	_ = o.Pipe("o2", order{"c1", 8}, time.UnixMilli(3))
	_ = o.Pipe("o3", order{"c2", 1}, time.UnixMilli(4)) // no customer c2 yet: nothing
	_ = c.Pipe("c1", "Anna", time.UnixMilli(5))         // both of c1's orders follow
	_ = c.Pipe("c2", "Bob", time.UnixMilli(6))
	_ = o.PipeTombstone("o1", time.UnixMilli(7))
	printRecords(d, "orders-with-names", serde.String(), serde.String())
	// Output:
	// o1 Ann: 5
	// o2 Ann: 8
	// o1 Anna: 5
	// o2 Anna: 8
	// o3 Bob: 1
	// o1 <deleted>
}
