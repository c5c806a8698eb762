package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	cmd.AddCommand(a.connectStandaloneCmd(), a.connectDistributedCmd())
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
	wcfg, err := a.workerConfig(ctx, workerFile)
	if err != nil {
		return err
	}
	var ccs []connect.ConnectorConfig
	for _, p := range connectorFiles {
		cc, err := connect.LoadConnectorConfig(p)
		if err != nil {
			return err
		}
		ccs = append(ccs, cc)
	}
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

func (a *app) connectDistributedCmd() *cobra.Command {
	var logLevel string
	cmd := &cobra.Command{
		Use:   "distributed worker.properties",
		Short: "Run a worker of a Connect cluster: tasks shared through a consumer group, the REST API (as connect-distributed)",
		Long: `distributed runs one worker of a Connect cluster until interrupted, as
Kafka's connect-distributed. Workers with the same group.id share the
connectors' tasks; configurations, offsets and task states live in the
compacted topics config.storage.topic (connect-configs),
offset.storage.topic (connect-offsets) and status.storage.topic
(connect-status). Connectors are managed through Kafka Connect's REST API
on listeners (default http://127.0.0.1:8083):

  curl -X POST -H "Content-Type: application/json" --data @pg-cdc.json http://127.0.0.1:8083/connectors
  curl http://127.0.0.1:8083/connectors/pg-cdc/status
  curl -X PUT http://127.0.0.1:8083/connectors/pg-cdc/pause
  curl -X PUT http://127.0.0.1:8083/connectors/pg-cdc/resume
  curl -X POST http://127.0.0.1:8083/connectors/pg-cdc/restart
  curl -X DELETE http://127.0.0.1:8083/connectors/pg-cdc`,
		Args: exactArgs("worker.properties"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("bad --log-level %q: want debug, info, warn or error", logLevel)
			}
			wcfg, err := a.workerConfig(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
			err = connect.RunDistributed(cmd.Context(), wcfg, log, func(addr net.Addr) {
				fmt.Fprintf(a.stdout, "Connect worker (distributed) REST API on http://%s, cluster %s   Stop: Ctrl-C\n", addr, wcfg["bootstrap.servers"])
			})
			if errors.Is(err, connect.ErrConfig) {
				return usageError{err}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log on standard error: debug, info, warn or error")
	return cmd
}

// workerConfig reads a worker properties file, filling bootstrap.servers
// from --brokers when it is missing, and checks the cluster answers.
func (a *app) workerConfig(ctx context.Context, path string) (connect.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("worker configuration: %w", err)
	}
	wcfg, err := connect.ParseProperties(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("worker configuration %s: %w", path, err)
	}
	if wcfg["bootstrap.servers"] == "" {
		seeds, err := a.seedBrokers()
		if err != nil {
			return nil, err
		}
		wcfg["bootstrap.servers"] = strings.Join(seeds, ",")
	}
	a.brokers = wcfg["bootstrap.servers"]
	cl, err := a.connect(ctx)
	if err != nil {
		return nil, err
	}
	cl.Close()
	return wcfg, nil
}
