package registry_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	"github.com/kafki/kafki/serde/registry"
)

// A registry process, as `kafki registry --listen 127.0.0.1:8081 --brokers
// ...` runs it: state in the _schemas topic of the cluster, served until
// SIGINT or SIGTERM.
func ExampleServer_Run() {
	srv, err := registry.NewServer([]string{"127.0.0.1:9092"},
		registry.DefaultCompatibility(registry.CompatBackward))
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx, "127.0.0.1:8081"); err != nil {
		log.Fatal(err)
	}
}
