package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kafki/kafki/connect"
	_ "github.com/kafki/kafki/connect/file"     // registers the file sink
	_ "github.com/kafki/kafki/connect/postgres" // registers the PostgreSQL CDC source and sink
)

func (a *app) connectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connect",
		Short: "Run connectors (Kafka Connect): change data capture from PostgreSQL, PostgreSQL and file sinks",
	}
	cmd.AddCommand(a.connectStandaloneCmd())
	return cmd
}

func (a *app) connectStandaloneCmd() *cobra.Command {
	var logLevel string
	cmd := &cobra.Command{
		Use:   "standalone worker.properties connector.json...",
		Short: "Run connectors in this process, source offsets in a local file (as connect-standalone)",
		Long: `standalone runs the connectors of the given configuration files in this
process until interrupted, as Kafka's connect-standalone.

worker.properties (Java properties) names the cluster and the defaults:

  bootstrap.servers=127.0.0.1:9092
  key.converter=org.apache.kafka.connect.json.JsonConverter
  value.converter=org.apache.kafka.connect.json.JsonConverter
  offset.storage.file.filename=/tmp/connect.offsets
  offset.flush.interval.ms=10000

Each connector file is JSON as the REST API takes it ({"name": ...,
"config": {...}}), a flat JSON object, or a properties file.

Connector classes: ` + strings.Join(connect.ConnectorClasses(), ", ") + `

bootstrap.servers defaults to --brokers / $` + EnvBrokers + ` when the file leaves it out.`,
		Args: minArgs("worker.properties"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runStandalone(cmd.Context(), args[0], args[1:], logLevel)
		},
	}
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log on standard error: debug, info, warn or error")
	return cmd
}

func (a *app) runStandalone(ctx context.Context, workerFile string, connectorFiles []string, logLevel string) error {
	if len(connectorFiles) == 0 {
		return usagef("missing connector.json")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
		return usagef("bad --log-level %q: want debug, info, warn or error", logLevel)
	}
	f, err := os.Open(workerFile)
	if err != nil {
		return fmt.Errorf("worker configuration: %w", err)
	}
	wcfg, err := connect.ParseProperties(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("worker configuration %s: %w", workerFile, err)
	}
	if wcfg["bootstrap.servers"] == "" {
		seeds, err := a.seedBrokers()
		if err != nil {
			return err
		}
		wcfg["bootstrap.servers"] = strings.Join(seeds, ",")
	}
	var ccs []connect.ConnectorConfig
	for _, p := range connectorFiles {
		cc, err := connect.LoadConnectorConfig(p)
		if err != nil {
			return err
		}
		ccs = append(ccs, cc)
	}
	// Fail fast, naming the address, when the cluster is not there.
	a.brokers = wcfg["bootstrap.servers"]
	cl, err := a.connect(ctx)
	if err != nil {
		return err
	}
	cl.Close()
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
	fmt.Fprintf(a.stdout, "Connect worker (standalone) running %d connector(s) on %s   Stop: Ctrl-C\n", len(ccs), wcfg["bootstrap.servers"])
	if err := connect.Standalone(ctx, wcfg, ccs, log); err != nil {
		if errors.Is(err, connect.ErrConfig) {
			return usageError{err}
		}
		return err
	}
	fmt.Fprintln(a.stdout, "Connect worker stopped.")
	return nil
}
