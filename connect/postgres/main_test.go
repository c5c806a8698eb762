package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/kafki/kafki/connect"
	_ "github.com/kafki/kafki/connect/postgres"
)

// envChild makes the test binary a standalone worker (for the crash
// test, which SIGKILLs it): the value is a JSON object with the worker
// configuration and the connector configurations.
const envChild = "KAFKI_CONNECT_CHILD"

type childSpec struct {
	Distributed bool                      `json:"distributed"`
	Worker      connect.Config            `json:"worker"`
	Connectors  []connect.ConnectorConfig `json:"connectors"`
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(envChild); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

func runChild(spec string) int {
	var cs childSpec
	if err := json.Unmarshal([]byte(spec), &cs); err != nil {
		fmt.Fprintln(os.Stderr, "child spec:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if cs.Distributed {
		if err := connect.RunDistributed(ctx, cs.Worker, log, nil); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
		return 0
	}
	if err := connect.Standalone(ctx, cs.Worker, cs.Connectors, log); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

func workerConfig(brokers []string, dir string) connect.Config {
	return connect.Config{
		"bootstrap.servers":            strings.Join(brokers, ","),
		"key.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":              "org.apache.kafka.connect.json.JsonConverter",
		"offset.storage.file.filename": dir + "/offsets.json",
		"offset.flush.interval.ms":     "200",
	}
}

func cdcConfig(name string, port int, db, prefix string) connect.ConnectorConfig {
	return connect.ConnectorConfig{Name: name, Config: map[string]string{
		"connector.class":       "io.debezium.connector.postgresql.PostgresConnector",
		"database.hostname":     "127.0.0.1",
		"database.port":         fmt.Sprint(port),
		"database.user":         "postgres",
		"database.dbname":       db,
		"topic.prefix":          prefix,
		"table.include.list":    "public\\..*",
		"slot.name":             "slot_" + db,
		"publication.name":      "pub_" + db,
		"poll.interval.ms":      "100",
		"decimal.handling.mode": "string",
	}}
}
