package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (a *app) topicsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "Create, list, describe and delete topics",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q (want create, list, describe or delete)", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(a.topicsCreateCmd(), a.topicsListCmd(), a.topicsDescribeCmd(), a.topicsDeleteCmd())
	return cmd
}

func (a *app) admin(ctx context.Context) (*kadm.Client, func(), error) {
	cl, err := a.connect(ctx)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), func() { closeClient(cl) }, nil
}

func (a *app) topicsCreateCmd() *cobra.Command {
	var (
		partitions  int32
		replication int16
		configs     []string
		ifNotExists bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Example: `  kafki topics create test --partitions 1
  kafki topics create orders --partitions 6 --replication-factor 3 --config cleanup.policy=compact`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validTopicName(name); err != nil {
				return usageError{err}
			}
			if cmd.Flags().Changed("partitions") && partitions < 1 {
				return usagef("--partitions must be at least 1, got %d", partitions)
			}
			if cmd.Flags().Changed("replication-factor") && replication < 1 {
				return usagef("--replication-factor must be at least 1, got %d", replication)
			}
			cfgs, err := parseTopicConfigs(configs)
			if err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			adm, done, err := a.admin(ctx)
			if err != nil {
				return err
			}
			defer done()
			octx, cancel := a.opContext(ctx)
			defer cancel()
			resp, err := adm.CreateTopic(octx, partitions, replication, cfgs, name)
			if err == nil {
				err = resp.Err
			}
			if errors.Is(err, kerr.TopicAlreadyExists) {
				if ifNotExists {
					return nil
				}
				return fmt.Errorf("topic %q already exists", name)
			}
			if err != nil {
				if resp.ErrMessage != "" && !isContextErr(err) {
					err = fmt.Errorf("%s (%s)", kafkaErr(err), resp.ErrMessage)
				}
				return a.opError(ctx, "create topic "+strconv.Quote(name), err)
			}
			fmt.Fprintf(a.stdout, "Created topic %s.\n", name)
			return nil
		},
	}
	f := cmd.Flags()
	f.Int32Var(&partitions, "partitions", -1, "number of partitions (default: the broker's num.partitions)")
	f.Int16Var(&replication, "replication-factor", -1, "copies of each partition (default: the broker's default.replication.factor)")
	f.StringArrayVar(&configs, "config", nil, "topic config key=value (repeatable), e.g. cleanup.policy=compact")
	f.BoolVar(&ifNotExists, "if-not-exists", false, "succeed when the topic exists already")
	return cmd
}

func (a *app) topicsListCmd() *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the topics, one a line",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			adm, done, err := a.admin(ctx)
			if err != nil {
				return err
			}
			defer done()
			octx, cancel := a.opContext(ctx)
			defer cancel()
			tds, err := adm.ListTopicsWithInternal(octx)
			if err != nil {
				return a.opError(ctx, "list topics", err)
			}
			for _, name := range tds.Names() {
				if tds[name].IsInternal && !internal {
					continue
				}
				fmt.Fprintln(a.stdout, name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&internal, "include-internal", false, "also list internal topics such as __consumer_offsets")
	return cmd
}

func (a *app) topicsDescribeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe [NAME...]",
		Short: "Show partitions, leaders, replicas, offsets and configs of topics (all when none is named)",
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range args {
				if err := validTopicName(n); err != nil {
					return usageError{err}
				}
			}
			ctx := cmd.Context()
			adm, done, err := a.admin(ctx)
			if err != nil {
				return err
			}
			defer done()
			return a.describeTopics(ctx, adm, args)
		},
	}
	return cmd
}

func (a *app) describeTopics(ctx context.Context, adm *kadm.Client, names []string) error {
	octx, cancel := a.opContext(ctx)
	defer cancel()
	var tds kadm.TopicDetails
	var err error
	if len(names) == 0 {
		tds, err = adm.ListTopics(octx)
	} else {
		tds, err = adm.ListTopicsWithInternal(octx, names...)
	}
	if err != nil {
		return a.opError(ctx, "describe topics", err)
	}
	for _, n := range names {
		if td, ok := tds[n]; !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return errNoTopic(n)
		} else if td.Err != nil {
			return a.opError(ctx, "describe topic "+strconv.Quote(n), td.Err)
		}
	}
	if len(names) == 0 {
		names = tds.Names()
	}
	if len(names) == 0 {
		return nil
	}
	starts, err := adm.ListStartOffsets(octx, names...)
	if err != nil {
		return a.opError(ctx, "list start offsets", err)
	}
	ends, err := adm.ListEndOffsets(octx, names...)
	if err != nil {
		return a.opError(ctx, "list end offsets", err)
	}
	rcs, err := adm.DescribeTopicConfigs(octx, names...)
	if err != nil {
		return a.opError(ctx, "describe topic configs", err)
	}
	cfgs := make(map[string][]string)
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				v := c.MaybeValue()
				if c.Sensitive {
					v = "(sensitive)"
				}
				cfgs[rc.Name] = append(cfgs[rc.Name], c.Key+"="+v)
			}
		}
	}
	for _, name := range names {
		td := tds[name]
		parts := td.Partitions.Sorted()
		rf := 0
		if len(parts) > 0 {
			rf = len(parts[0].Replicas)
		}
		c := cfgs[name]
		sort.Strings(c)
		fmt.Fprintf(a.stdout, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
			name, base64.RawURLEncoding.EncodeToString(td.ID[:]), len(parts), rf, strings.Join(c, ","))
		for _, p := range parts {
			start, end := "?", "?"
			if o, ok := starts.Lookup(name, p.Partition); ok && o.Err == nil {
				start = strconv.FormatInt(o.Offset, 10)
			}
			if o, ok := ends.Lookup(name, p.Partition); ok && o.Err == nil {
				end = strconv.FormatInt(o.Offset, 10)
			}
			fmt.Fprintf(a.stdout, "\tTopic: %s\tPartition: %d\tLeader: %d\tReplicas: %s\tIsr: %s\tStartOffset: %s\tEndOffset: %s\n",
				name, p.Partition, p.Leader, joinInt32(p.Replicas), joinInt32(p.ISR), start, end)
		}
	}
	return nil
}

func joinInt32(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

func (a *app) topicsDeleteCmd() *cobra.Command {
	var ifExists bool
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete topics and their records",
		Args:  minArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range args {
				if err := validTopicName(n); err != nil {
					return usageError{err}
				}
			}
			ctx := cmd.Context()
			adm, done, err := a.admin(ctx)
			if err != nil {
				return err
			}
			defer done()
			for _, name := range args {
				if err := a.deleteTopic(ctx, adm, a.stdout, name, ifExists); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed when the topic does not exist")
	return cmd
}

func (a *app) deleteTopic(ctx context.Context, adm *kadm.Client, w io.Writer, name string, ifExists bool) error {
	octx, cancel := a.opContext(ctx)
	defer cancel()
	resp, err := adm.DeleteTopic(octx, name)
	if err == nil {
		err = resp.Err
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID) {
		if ifExists {
			return nil
		}
		return fmt.Errorf("topic %q does not exist", name)
	}
	if err != nil {
		return a.opError(ctx, "delete topic "+strconv.Quote(name), err)
	}
	fmt.Fprintf(w, "Deleted topic %s.\n", name)
	return nil
}

// Topic configs: the keys Kafka 4 knows, each with a check of its value.
// Keys with a vendor prefix (confluent., redpanda., ...) go to the broker
// unchecked.
type configKind int

const (
	cfgLong configKind = iota
	cfgLongOrMinus1
	cfgInt
	cfgPositiveInt
	cfgBool
	cfgRatio
	cfgList
	cfgCleanup
	cfgCompression
	cfgTimestampType
)

var topicConfigs = map[string]configKind{
	"cleanup.policy":                          cfgCleanup,
	"compression.type":                        cfgCompression,
	"compression.gzip.level":                  cfgInt,
	"compression.lz4.level":                   cfgInt,
	"compression.zstd.level":                  cfgInt,
	"delete.retention.ms":                     cfgLong,
	"file.delete.delay.ms":                    cfgLong,
	"flush.messages":                          cfgLong,
	"flush.ms":                                cfgLong,
	"follower.replication.throttled.replicas": cfgList,
	"index.interval.bytes":                    cfgInt,
	"leader.replication.throttled.replicas":   cfgList,
	"local.retention.bytes":                   cfgLongOrMinus1,
	"local.retention.ms":                      cfgLongOrMinus1,
	"max.compaction.lag.ms":                   cfgLong,
	"max.message.bytes":                       cfgInt,
	"message.timestamp.after.max.ms":          cfgLong,
	"message.timestamp.before.max.ms":         cfgLong,
	"message.timestamp.type":                  cfgTimestampType,
	"min.cleanable.dirty.ratio":               cfgRatio,
	"min.compaction.lag.ms":                   cfgLong,
	"min.insync.replicas":                     cfgPositiveInt,
	"preallocate":                             cfgBool,
	"remote.storage.enable":                   cfgBool,
	"remote.log.copy.disable":                 cfgBool,
	"remote.log.delete.on.disable":            cfgBool,
	"retention.bytes":                         cfgLongOrMinus1,
	"retention.ms":                            cfgLongOrMinus1,
	"segment.bytes":                           cfgPositiveInt,
	"segment.index.bytes":                     cfgPositiveInt,
	"segment.jitter.ms":                       cfgLong,
	"segment.ms":                              cfgPositiveInt,
	"unclean.leader.election.enable":          cfgBool,
}

var vendorConfigPrefixes = []string{"confluent.", "redpanda.", "kfake.", "warpstream."}

// parseTopicConfigs parses key=value pairs and checks each against Kafka's
// topic configs, so that a typo fails here with a clear message rather than
// being ignored by a lenient broker.
func parseTopicConfigs(kvs []string) (map[string]*string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("bad --config %q: want key=value", kv)
		}
		if err := checkTopicConfig(k, v); err != nil {
			return nil, fmt.Errorf("bad --config %s: %v", kv, err)
		}
		out[k] = &v
	}
	return out, nil
}

func checkTopicConfig(k, v string) error {
	kind, ok := topicConfigs[k]
	if !ok {
		for _, p := range vendorConfigPrefixes {
			if strings.HasPrefix(k, p) {
				return nil
			}
		}
		return fmt.Errorf("unknown topic config %q", k)
	}
	intIn := func(lo, hi int64) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is out of range [%d, %d]", n, lo, hi)
		}
		return nil
	}
	switch kind {
	case cfgLong:
		return intIn(0, math.MaxInt64)
	case cfgLongOrMinus1:
		return intIn(-1, math.MaxInt64)
	case cfgInt:
		return intIn(math.MinInt32, math.MaxInt32)
	case cfgPositiveInt:
		return intIn(1, math.MaxInt32)
	case cfgBool:
		if v != "true" && v != "false" {
			return fmt.Errorf("%q is not true or false", v)
		}
	case cfgRatio:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("%q is not a number between 0 and 1", v)
		}
	case cfgCleanup:
		if v == "" {
			return nil // no cleanup at all is allowed
		}
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "delete" && p != "compact" {
				return fmt.Errorf("%q is not delete, compact or delete,compact", v)
			}
		}
	case cfgCompression:
		switch v {
		case "uncompressed", "zstd", "lz4", "snappy", "gzip", "producer":
		default:
			return fmt.Errorf("%q is not one of uncompressed, zstd, lz4, snappy, gzip, producer", v)
		}
	case cfgTimestampType:
		if v != "CreateTime" && v != "LogAppendTime" {
			return fmt.Errorf("%q is not CreateTime or LogAppendTime", v)
		}
	}
	return nil
}
