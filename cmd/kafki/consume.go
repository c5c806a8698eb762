package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumeOpts struct {
	fromBeginning  bool
	group          string
	maxMessages    int64
	partition      int32
	offset         string
	format         string
	keySep         string
	printKey       bool
	printTimestamp bool
	printPartition bool
	printOffset    bool
	printHeaders   bool
	timeout        time.Duration
}

func (a *app) consumeCmd() *cobra.Command {
	var o consumeOpts
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print the records of a topic to standard output",
		Long: `consume prints the records of TOPIC, one a line: the value only, unless
--print-key, --print-timestamp, --print-partition, --print-offset or
--print-headers add columns, or --format json prints one JSON object per
record. It starts at the end of the topic unless --from-beginning, and runs
until Ctrl-C, --max-messages records, or --timeout without a record.

With --group it joins that consumer group and commits what it printed, so that
the next run of the group goes on where this one stopped. With --partition it
reads one partition from --offset (earliest, latest or a number).`,
		Example: `  kafki consume test --from-beginning
  kafki consume test --from-beginning --print-key --max-messages 10
  kafki consume test --group readers --format json
  kafki consume test --partition 0 --offset 42 --timeout 5s`,
		Args: exactArgs("TOPIC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			if err := validTopicName(topic); err != nil {
				return usageError{err}
			}
			f := cmd.Flags()
			if f.Changed("partition") && o.partition < 0 {
				return usagef("--partition must be 0 or more, got %d", o.partition)
			}
			if f.Changed("offset") && !f.Changed("partition") {
				return usagef("--offset needs --partition")
			}
			if f.Changed("offset") && o.fromBeginning {
				return usagef("--offset and --from-beginning exclude each other")
			}
			if o.group != "" && f.Changed("partition") {
				return usagef("--partition reads without a group: leave out --group")
			}
			if o.maxMessages < 0 {
				return usagef("--max-messages must be 0 or more, got %d", o.maxMessages)
			}
			if o.timeout < 0 {
				return usagef("--timeout must be positive")
			}
			switch o.format {
			case "text", "json":
			default:
				return usagef("bad --format %q: want text or json", o.format)
			}
			start := kgo.NewOffset().AtEnd()
			if o.fromBeginning {
				start = kgo.NewOffset().AtStart()
			}
			// fetch.max.wait.ms of Kafka's consumer: a fetch that starts
			// before every partition is assigned waits at most this long.
			maxWait := kgo.FetchMaxWait(500 * time.Millisecond)
			opts := []kgo.Opt{maxWait, kgo.ConsumeResetOffset(start)}
			switch {
			case o.group != "":
				opts = append(opts,
					kgo.ConsumerGroup(o.group),
					kgo.ConsumeTopics(topic),
					kgo.AutoCommitMarks(),
				)
			case f.Changed("partition"):
				off := start
				if f.Changed("offset") {
					var err error
					if off, err = parseOffset(o.offset); err != nil {
						return err
					}
				}
				opts = []kgo.Opt{
					maxWait,
					kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
					kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {o.partition: off}}),
				}
			default:
				opts = append(opts, kgo.ConsumeTopics(topic))
			}
			return a.consume(cmd.Context(), topic, o, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.fromBeginning, "from-beginning", false, "start at the oldest record (with --group: when the group has no committed offset)")
	f.StringVar(&o.group, "group", "", "consume as a member of this consumer group and commit offsets")
	f.Int64Var(&o.maxMessages, "max-messages", 0, "exit after this many records (0: no limit)")
	f.Int32Var(&o.partition, "partition", -1, "read only this partition")
	f.StringVar(&o.offset, "offset", "", "with --partition: earliest, latest, or the offset to start at")
	f.StringVar(&o.format, "format", "text", "text or json (one object per record: topic, partition, offset, timestamp, key, value, headers)")
	f.StringVar(&o.keySep, "separator", "\t", "text format: separator between the printed columns")
	f.BoolVar(&o.printKey, "print-key", false, "text format: print the key before the value")
	f.BoolVar(&o.printTimestamp, "print-timestamp", false, "text format: print the timestamp (CreateTime:ms or LogAppendTime:ms)")
	f.BoolVar(&o.printPartition, "print-partition", false, "text format: print the partition")
	f.BoolVar(&o.printOffset, "print-offset", false, "text format: print the offset")
	f.BoolVar(&o.printHeaders, "print-headers", false, "text format: print the headers as k:v,k:v (NO_HEADERS when none)")
	f.DurationVar(&o.timeout, "timeout", 0, "exit when no record arrives for this long (0: wait forever)")
	return cmd
}

func parseOffset(s string) (kgo.Offset, error) {
	switch strings.ToLower(s) {
	case "earliest", "beginning", "start":
		return kgo.NewOffset().AtStart(), nil
	case "latest", "end":
		return kgo.NewOffset().AtEnd(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return kgo.Offset{}, usagef("bad --offset %q: want earliest, latest or a number of 0 or more", s)
	}
	return kgo.NewOffset().At(n), nil
}

func (a *app) consume(ctx context.Context, topic string, o consumeOpts, opts []kgo.Opt) error {
	cl, err := a.connect(ctx, opts...)
	if err != nil {
		return err
	}
	defer closeClient(cl)
	td, err := a.topicDetail(ctx, kadm.NewClient(cl), topic)
	if err != nil {
		return err
	}
	if o.partition >= 0 && int(o.partition) >= len(td.Partitions) {
		return fmt.Errorf("topic %q has no partition %d (it has %d)", topic, o.partition, len(td.Partitions))
	}

	w := bufio.NewWriterSize(a.stdout, 64<<10)
	var (
		n       int64
		loopErr error
	)
poll:
	for o.maxMessages == 0 || n < o.maxMessages {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if o.timeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, o.timeout)
		}
		max := 0
		if o.maxMessages > 0 {
			max = int(o.maxMessages - n)
		}
		fetches := cl.PollRecords(pctx, max)
		idle := pctx.Err() != nil
		cancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		for _, fe := range fetches.Errors() {
			if isContextErr(fe.Err) {
				continue
			}
			loopErr = fmt.Errorf("reading %s partition %d: %s", fe.Topic, fe.Partition, kafkaErr(fe.Err))
			break poll
		}
		var werr error
		fetches.EachRecord(func(r *kgo.Record) {
			if werr != nil {
				return
			}
			werr = writeRecord(w, r, &o)
			n++
			if o.group != "" {
				cl.MarkCommitRecords(r)
			}
		})
		if werr == nil {
			werr = w.Flush()
		}
		if werr != nil {
			loopErr = fmt.Errorf("writing standard output: %v", werr)
			break
		}
		if idle && fetches.NumRecords() == 0 {
			break
		}
	}
	w.Flush()

	if o.group != "" {
		cctx, cancel := a.opContext(context.WithoutCancel(ctx))
		if err := cl.CommitMarkedOffsets(cctx); err != nil && loopErr == nil {
			loopErr = fmt.Errorf("commit offsets of group %q: %s", o.group, kafkaErr(err))
		}
		cl.LeaveGroupContext(cctx)
		cancel()
	}
	fmt.Fprintf(a.stderr, "Processed a total of %d messages\n", n)
	return loopErr
}

// jsonRecord is the --format json line of one record.
type jsonRecord struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Timestamp int64        `json:"timestamp"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Headers   []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

func strPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func writeRecord(w *bufio.Writer, r *kgo.Record, o *consumeOpts) error {
	if o.format == "json" {
		jr := jsonRecord{
			Topic:     r.Topic,
			Partition: r.Partition,
			Offset:    r.Offset,
			Timestamp: r.Timestamp.UnixMilli(),
			Key:       strPtr(r.Key),
			Value:     strPtr(r.Value),
			Headers:   make([]jsonHeader, 0, len(r.Headers)),
		}
		for _, h := range r.Headers {
			jr.Headers = append(jr.Headers, jsonHeader{Key: h.Key, Value: strPtr(h.Value)})
		}
		b, err := json.Marshal(jr)
		if err != nil {
			return err
		}
		w.Write(b)
		return w.WriteByte('\n')
	}
	sep := o.keySep
	col := func(s string) {
		w.WriteString(s)
		w.WriteString(sep)
	}
	if o.printTimestamp {
		typ := "CreateTime"
		if r.Attrs.TimestampType() == 1 {
			typ = "LogAppendTime"
		}
		col(typ + ":" + strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
	}
	if o.printPartition {
		col("Partition:" + strconv.Itoa(int(r.Partition)))
	}
	if o.printOffset {
		col("Offset:" + strconv.FormatInt(r.Offset, 10))
	}
	if o.printHeaders {
		if len(r.Headers) == 0 {
			col("NO_HEADERS")
		} else {
			hs := make([]string, len(r.Headers))
			for i, h := range r.Headers {
				hs[i] = h.Key + ":" + nullable(h.Value)
			}
			col(strings.Join(hs, ","))
		}
	}
	if o.printKey {
		col(nullable(r.Key))
	}
	w.WriteString(nullable(r.Value))
	return w.WriteByte('\n')
}

func nullable(b []byte) string {
	if b == nil {
		return "null"
	}
	return string(b)
}
