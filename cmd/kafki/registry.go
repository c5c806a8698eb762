package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kafki/kafki/serde/registry"
)

type registryOpts struct {
	listen        string
	topic         string
	compatibility string
	basicAuth     string
	logLevel      string
	tlsCert       string
	tlsKey        string
	tlsClientCA   string
}

func (a *app) registryCmd() *cobra.Command {
	var o registryOpts
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Run a schema registry (Confluent REST API) that keeps its state in a Kafka topic",
		Long: `registry serves the schema registry REST API (subjects, versions, schemas by
id, compatibility and config, soft and hard deletes) for Avro schemas. Its
state lives in a compacted Kafka topic (default _schemas), so it survives
restarts and several registry processes on the same topic agree.

  kafki broker &
  kafki registry --listen 127.0.0.1:8081
  curl -X POST -H "Content-Type: application/vnd.schemaregistry.v1+json" \
    --data '{"schema": "{\"type\": \"string\"}"}' \
    http://127.0.0.1:8081/subjects/test-value/versions`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runRegistry(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8081", "HTTP address to serve on")
	f.StringVar(&o.topic, "topic", "_schemas", "compacted topic that holds the registry's state")
	f.StringVar(&o.compatibility, "compatibility", "BACKWARD", "global compatibility level until one is set through the API: BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE")
	f.StringVar(&o.basicAuth, "basic-auth", "", "require HTTP basic authentication as user:password")
	f.StringVar(&o.logLevel, "log-level", "info", "log on standard error: debug, info, warn or error")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (chain); needs --tls-key")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&o.tlsClientCA, "tls-client-ca", "", "with --tls-cert: require client certificates signed by a CA in this PEM file")
	return cmd
}

var compatibilityLevels = []string{"BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"}

func (a *app) runRegistry(ctx context.Context, o registryOpts) error {
	level := strings.ToUpper(o.compatibility)
	known := false
	for _, l := range compatibilityLevels {
		known = known || l == level
	}
	if !known {
		return usagef("bad --compatibility %q: want one of %s", o.compatibility, strings.Join(compatibilityLevels, ", "))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usagef("bad --log-level %q: want debug, info, warn or error", o.logLevel)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return usagef("bad --listen %q: %v", o.listen, err)
	}
	var user, pass string
	if o.basicAuth != "" {
		var ok bool
		if user, pass, ok = strings.Cut(o.basicAuth, ":"); !ok {
			return usagef("bad --basic-auth: want user:password")
		}
	}
	serverTLS, err := serverTLSConfig(o.tlsCert, o.tlsKey, o.tlsClientCA)
	if err != nil {
		return err
	}
	// Fail fast, naming the address, when the cluster is not there: the
	// server's own client would retry forever.
	cl, err := a.connect(ctx)
	if err != nil {
		return err
	}
	cl.Close()
	seeds, _ := a.seedBrokers()
	sec, err := a.securityOpts()
	if err != nil {
		return err
	}
	scheme := "http"
	if serverTLS != nil {
		scheme = "https"
	}

	opts := []registry.ServerOpt{
		registry.Topic(o.topic),
		registry.DefaultCompatibility(level),
		registry.Logger(slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))),
		registry.OnListen(func(addr net.Addr) {
			fmt.Fprintf(a.stdout, "Schema registry listening on %s://%s (state in topic %s on %s)   Stop: Ctrl-C\n",
				scheme, addr, o.topic, strings.Join(seeds, ","))
		}),
	}
	if user != "" || pass != "" {
		opts = append(opts, registry.ServerBasicAuth(user, pass))
	}
	if serverTLS != nil {
		opts = append(opts, registry.ServerTLS(serverTLS))
	}
	if len(sec) > 0 {
		opts = append(opts, registry.KafkaOpts(sec...))
	}
	srv, err := registry.NewServer(seeds, opts...)
	if err != nil {
		return fmt.Errorf("start registry: %w", err)
	}
	if err := srv.Run(ctx, o.listen); err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("cannot listen on %s: the address is in use", o.listen)
		}
		return fmt.Errorf("registry: %w", err)
	}
	fmt.Fprintln(a.stdout, "Schema registry stopped.")
	return nil
}
