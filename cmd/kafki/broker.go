package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
)

type brokerOpts struct {
	listen      string
	n           int
	dataDir     string
	configs     []string
	autoCreate  bool
	defaultPart int
	sync        bool
	logLevel    string
	sec         brokerSecurity
}

func (a *app) brokerCmd() *cobra.Command {
	var o brokerOpts
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run a Kafka-protocol broker for development (franz-go's kfake)",
		Long: `broker runs an in-process Kafka-protocol cluster for development and tests:
one or more brokers on consecutive ports of --listen. Records are kept in
memory, or in --data-dir, which keeps topics, records, committed offsets and
transactions across restarts (also across a kill -9, up to what the operating
system had been handed). SIGINT or SIGTERM stops it cleanly.

It is not a production broker: use it for development, demos and tests.`,
		Example: `  kafki broker
  kafki broker --listen 127.0.0.1:9092 --brokers 3 --data-dir ./data
  kafki broker --auto-create-topics --config log.retention.ms=3600000
  kafki certs --dir certs && kafki broker --tls-cert certs/broker.pem --tls-key certs/broker.key --tls-client-ca certs/ca.pem
  kafki broker --superuser admin:admin-secret --user alice:alice-secret --acls`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runBroker(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:9092", "host:port of the first broker; more brokers use the next ports (port 0: any free ports)")
	f.IntVar(&o.n, "brokers", 1, "number of brokers")
	f.StringVar(&o.dataDir, "data-dir", "", "keep the cluster's state in this directory across restarts (default: memory only)")
	f.StringArrayVar(&o.configs, "config", nil, "broker config key=value (repeatable), e.g. log.retention.ms=600000")
	f.BoolVar(&o.autoCreate, "auto-create-topics", false, "create a topic when a client asks for one that does not exist")
	f.IntVar(&o.defaultPart, "default-partitions", 1, "partitions of auto-created topics and of topics created without --partitions")
	f.BoolVar(&o.sync, "sync", false, "with --data-dir: fsync every write (survives a machine crash, slower)")
	f.StringVar(&o.logLevel, "log-level", "none", "broker log on standard error: none, error, warn, info or debug")
	o.sec.flags(f)
	return cmd
}

// kfakeBrokerConfigs are the broker configs kfake accepts.
var kfakeBrokerConfigs = []string{
	"broker.id", "broker.rack", "compression.type", "connections.max.reauth.ms",
	"default.replication.factor", "fetch.max.bytes", "max.incremental.fetch.session.cache.slots",
	"group.consumer.heartbeat.interval.ms", "group.consumer.session.timeout.ms", "group.max.size",
	"group.min.session.timeout.ms", "group.max.session.timeout.ms", "log.cleaner.backoff.ms",
	"log.dir", "log.message.timestamp.type", "transaction.max.timeout.ms",
	"transactional.id.expiration.ms", "log.retention.bytes", "log.retention.ms", "log.segment.bytes",
	"log.roll.ms", "message.max.bytes", "min.insync.replicas", "offsets.retention.minutes",
	"offset.retention.ms", "offsets.retention.check.interval.ms", "sasl.enabled.mechanisms",
	"group.share.heartbeat.interval.ms", "group.share.session.timeout.ms",
	"group.share.delivery.count.limit", "group.share.record.lock.duration.ms",
	"share.record.lock.sweep.interval.ms", "group.share.partition.max.record.locks",
	"group.share.max.share.sessions", "group.share.max.size", "state.log.compact.bytes", "super.users",
}

func parseBrokerConfigs(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	known := make(map[string]bool, len(kfakeBrokerConfigs))
	for _, k := range kfakeBrokerConfigs {
		known[k] = true
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("bad --config %q: want key=value", kv)
		}
		if !known[k] {
			names := append([]string(nil), kfakeBrokerConfigs...)
			sort.Strings(names)
			return nil, usagef("bad --config %s: the development broker does not know %q (it knows %s)", kv, k, strings.Join(names, ", "))
		}
		if strings.HasSuffix(k, ".ms") || strings.HasSuffix(k, ".bytes") || strings.HasSuffix(k, ".minutes") ||
			strings.HasSuffix(k, ".slots") || strings.HasSuffix(k, ".size") || strings.HasSuffix(k, ".factor") ||
			strings.HasSuffix(k, ".replicas") || strings.HasSuffix(k, ".limit") || strings.HasSuffix(k, ".locks") ||
			strings.HasSuffix(k, ".sessions") {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return nil, usagef("bad --config %s: %q is not an integer", kv, v)
			}
		}
		out[k] = v
	}
	return out, nil
}

// listenAddrs returns the addresses the brokers listen on: host with
// consecutive ports from the one given, or any free ports for port 0.
func listenAddrs(listen string, n int) (host string, ports []int, err error) {
	h, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", nil, usagef("bad --listen %q: want host:port", listen)
	}
	if h == "" || h == "localhost" {
		h = "127.0.0.1"
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return "", nil, usagef("bad --listen %q: the host must be an IP address or localhost", listen)
	}
	if ip.IsUnspecified() {
		return "", nil, usagef("bad --listen %q: the broker tells clients the address it listens on, so it needs a specific address such as 127.0.0.1, not %s", listen, h)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port+n-1 > 65535 {
		return "", nil, usagef("bad --listen %q: bad port", listen)
	}
	ports = make([]int, n)
	if port != 0 {
		for i := range ports {
			ports[i] = port + i
		}
	}
	return h, ports, nil
}

func (a *app) runBroker(ctx context.Context, o brokerOpts) error {
	if o.n < 1 || o.n > 64 {
		return usagef("--brokers must be between 1 and 64, got %d", o.n)
	}
	if o.defaultPart < 1 {
		return usagef("--default-partitions must be at least 1, got %d", o.defaultPart)
	}
	if o.sync && o.dataDir == "" {
		return usagef("--sync needs --data-dir")
	}
	level, err := parseLogLevel(o.logLevel)
	if err != nil {
		return err
	}
	bcfgs, err := parseBrokerConfigs(o.configs)
	if err != nil {
		return err
	}
	host, ports, err := listenAddrs(o.listen, o.n)
	if err != nil {
		return err
	}
	secOpts, secDesc, err := o.sec.kfakeOpts()
	if err != nil {
		return err
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(o.n),
		kfake.Ports(ports...),
		kfake.DefaultNumPartitions(o.defaultPart),
		kfake.WithLogger(kfake.BasicLogger(a.stderr, level)),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			// kfake listens on 127.0.0.1; move it to the host asked for.
			_, port, _ := net.SplitHostPort(addr)
			return net.Listen(network, net.JoinHostPort(host, port))
		}),
	}
	opts = append(opts, secOpts...)
	if o.autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if len(bcfgs) > 0 {
		opts = append(opts, kfake.BrokerConfigs(bcfgs))
	}
	dataDir := ""
	if o.dataDir != "" {
		if dataDir, err = filepath.Abs(o.dataDir); err != nil {
			return fmt.Errorf("bad --data-dir %q: %v", o.dataDir, err)
		}
		opts = append(opts, kfake.DataDir(dataDir))
		if o.sync {
			opts = append(opts, kfake.SyncWrites())
		}
	}

	c, err := kfake.NewCluster(opts...)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "listen" {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("cannot listen on %s: the address is in use (is another broker running? pick another with --listen)", op.Addr)
			}
			return fmt.Errorf("cannot listen on %s: %v", op.Addr, op.Err)
		}
		if dataDir != "" {
			return fmt.Errorf("cannot start the broker with data dir %s: %v", dataDir, err)
		}
		return fmt.Errorf("cannot start the broker: %v", err)
	}
	addrs := c.ListenAddrs()
	bootstrap := strings.Join(addrs, ",")
	what := "broker"
	if len(addrs) > 1 {
		what = "brokers"
	}
	fmt.Fprintf(a.stdout, "Kafka %s listening on %s (bootstrap: %s)\n", what, strings.Join(addrs, ", "), bootstrap)
	if dataDir != "" {
		fmt.Fprintf(a.stdout, "Data dir: %s (kept across restarts)\n", dataDir)
	} else {
		fmt.Fprintln(a.stdout, "Data: in memory only, lost on exit (keep it with --data-dir DIR)")
	}
	fmt.Fprintf(a.stdout, "Security: %s\n", secDesc)
	fmt.Fprintf(a.stdout, "Clients: export %s=%s   Stop: Ctrl-C\n", EnvBrokers, bootstrap)
	if f, ok := a.stdout.(interface{ Sync() error }); ok {
		f.Sync()
	}

	<-ctx.Done()
	fmt.Fprintln(a.stdout, "Stopping the broker...")
	start := time.Now()
	c.Close()
	fmt.Fprintf(a.stdout, "Broker stopped (%s).\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func parseLogLevel(s string) (kfake.LogLevel, error) {
	switch strings.ToLower(s) {
	case "none", "":
		return kfake.LogLevelNone, nil
	case "error":
		return kfake.LogLevelError, nil
	case "warn":
		return kfake.LogLevelWarn, nil
	case "info":
		return kfake.LogLevelInfo, nil
	case "debug":
		return kfake.LogLevelDebug, nil
	}
	return 0, usagef("bad --log-level %q: want none, error, warn, info or debug", s)
}
