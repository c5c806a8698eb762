package main

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Customer is a row of the customers table, keyed by ID.
type Customer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Tier string `json:"tier"`
}

// Product is a row of the products table, keyed by ID.
type Product struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int64  `json:"price_cents"`
}

// Order is an event of the orders stream, keyed by ID.
type Order struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	ProductID  string `json:"product_id"`
	Quantity   int64  `json:"quantity"`
	Time       int64  `json:"time"` // ms since the epoch, also the record timestamp
}

// Payment is an event of the payments stream, keyed by the order it pays.
type Payment struct {
	OrderID string `json:"order_id"`
	Amount  int64  `json:"amount_cents"`
	Method  string `json:"method"`
	Time    int64  `json:"time"`
}

// EnrichedOrder is an order with its customer and product.
type EnrichedOrder struct {
	Order    Order    `json:"order"`
	Customer Customer `json:"customer"`
	Product  Product  `json:"product"`
	Total    int64    `json:"total_cents"`
}

// PaidOrder is an enriched order with the payment that arrived for it
// within the join window.
type PaidOrder struct {
	EnrichedOrder
	Payment Payment `json:"payment"`
}

// input is the generated data of a run.
type input struct {
	customers []Customer
	products  []Product
	orders    []Order
	payments  []Payment
}

var (
	customerNames = []string{"Ada", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Margaret", "Dennis", "Frances", "Niklaus"}
	tiers         = []string{"standard", "gold", "platinum"}
	productNames  = []string{"keyboard", "mouse", "monitor", "laptop", "headset", "webcam", "dock", "cable"}
	methods       = []string{"card", "transfer", "wallet"}
)

// generate returns n orders over an hour of event time from base, with
// their customers and products, and payments: most orders are paid
// within the 10-minute join window, some a quarter of an hour later (too
// late to join) and some never.
func generate(n int, base int64) input {
	rng := rand.New(rand.NewPCG(10, uint64(n)))
	var in input
	for i, name := range customerNames {
		in.customers = append(in.customers, Customer{ID: fmt.Sprintf("c%02d", i), Name: name, Tier: tiers[i%len(tiers)]})
	}
	for i, name := range productNames {
		in.products = append(in.products, Product{ID: fmt.Sprintf("p%02d", i), Name: name, Price: int64(500 + 1500*i)})
	}
	for i := range n {
		o := Order{
			ID:         fmt.Sprintf("o%04d", i),
			CustomerID: in.customers[rng.IntN(len(in.customers))].ID,
			ProductID:  in.products[rng.IntN(len(in.products))].ID,
			Quantity:   1 + rng.Int64N(3),
			Time:       base + int64(i)*time.Hour.Milliseconds()/int64(n),
		}
		in.orders = append(in.orders, o)
		var delay time.Duration
		switch r := rng.IntN(10); {
		case r < 7:
			delay = time.Duration(rng.Int64N(int64(9 * time.Minute)))
		case r < 9:
			delay = 15 * time.Minute
		default:
			continue // never paid
		}
		in.payments = append(in.payments, Payment{OrderID: o.ID, Amount: o.Quantity * in.product(o.ProductID).Price,
			Method: methods[rng.IntN(len(methods))], Time: o.Time + delay.Milliseconds()})
	}
	return in
}

func (in input) product(id string) Product {
	for _, p := range in.products {
		if p.ID == id {
			return p
		}
	}
	return Product{}
}
