package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// maxLine is the longest input line produce accepts.
const maxLine = 16 << 20

// progressEvery is how often produce reports progress on a long run.
var progressEvery = 5 * time.Second

func (a *app) produceCmd() *cobra.Command {
	var (
		keySep      string
		headers     []string
		partition   int32
		compression string
	)
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Write one record per line of standard input to a topic",
		Long: `produce reads standard input and writes one record per line to TOPIC. With
--key-separator, each line is KEY<sep>VALUE (split at the first separator) and
a line without the separator is an error. --header adds the same header to
every record. At the end of the input it waits for the cluster to acknowledge
every record and reports how many were acknowledged on standard error.`,
		Example: `  echo "This is a message" | kafki produce test
  printf 'k1:v1\nk2:v2\n' | kafki produce test --key-separator : --header source=cli`,
		Args: exactArgs("TOPIC"),
		RunE: func(cmd *cobra.Command, args []string) error {
			topic := args[0]
			if err := validTopicName(topic); err != nil {
				return usageError{err}
			}
			if cmd.Flags().Changed("key-separator") && keySep == "" {
				return usagef("--key-separator must not be empty")
			}
			hdrs, err := parseHeaders(headers)
			if err != nil {
				return err
			}
			codec, err := parseCompression(compression)
			if err != nil {
				return err
			}
			opts := []kgo.Opt{
				kgo.ProducerBatchCompression(codec),
				kgo.RecordDeliveryTimeout(a.requestTimeout),
			}
			if partition >= 0 {
				opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			} else if cmd.Flags().Changed("partition") {
				return usagef("--partition must be 0 or more, got %d", partition)
			}
			return a.produce(cmd.Context(), topic, []byte(keySep), hdrs, partition, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&keySep, "key-separator", "", "split each line into key and value at the first occurrence of this string")
	f.StringArrayVar(&headers, "header", nil, "header key=value added to every record (repeatable)")
	f.Int32Var(&partition, "partition", -1, "write every record to this partition (default: by key, like Kafka's producer)")
	f.StringVar(&compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	return cmd
}

func parseHeaders(kvs []string) ([]kgo.RecordHeader, error) {
	var hdrs []kgo.RecordHeader
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("bad --header %q: want key=value", kv)
		}
		hdrs = append(hdrs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return hdrs, nil
}

func parseCompression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(s) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, usagef("bad --compression %q: want none, gzip, snappy, lz4 or zstd", s)
}

func (a *app) produce(ctx context.Context, topic string, sep []byte, hdrs []kgo.RecordHeader, partition int32, opts []kgo.Opt) error {
	cl, err := a.connect(ctx, opts...)
	if err != nil {
		return err
	}
	defer closeClient(cl)
	td, err := a.topicDetail(ctx, kadm.NewClient(cl), topic)
	if err != nil {
		return err
	}
	if partition >= 0 && int(partition) >= len(td.Partitions) {
		return fmt.Errorf("topic %q has no partition %d (it has %d)", topic, partition, len(td.Partitions))
	}

	// Read standard input in its own goroutine, so that an interrupt is
	// seen while a read blocks.
	lines := make(chan []byte, 1024)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(a.stdin)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			lines <- bytes.Clone(sc.Bytes())
		}
		readErr <- sc.Err()
	}()

	var (
		acked, failed atomic.Int64
		mu            sync.Mutex
		firstErr      error
		failedFlag    atomic.Bool
	)
	cb := func(r *kgo.Record, err error) {
		if err == nil {
			acked.Add(1)
			return
		}
		failed.Add(1)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		failedFlag.Store(true)
	}
	// Records are produced with a context that an interrupt does not
	// cancel: what was read is still delivered, within --request-timeout.
	pctx := context.WithoutCancel(ctx)
	start := time.Now()
	ticker := time.NewTicker(progressEvery)
	defer ticker.Stop()
	var (
		lineNo      int
		sent        int64
		inputErr    error
		interrupted bool
	)
loop:
	for !failedFlag.Load() {
		select {
		case <-ctx.Done():
			interrupted = true
			break loop
		case <-ticker.C:
			fmt.Fprintf(a.stderr, "kafki: %d records acknowledged so far (%s)\n", acked.Load(), time.Since(start).Round(time.Second))
		case line, ok := <-lines:
			if !ok {
				if err := <-readErr; err != nil {
					if errors.Is(err, bufio.ErrTooLong) {
						inputErr = fmt.Errorf("line %d is longer than %d MiB", lineNo+1, maxLine>>20)
					} else {
						inputErr = fmt.Errorf("reading standard input: %v", err)
					}
				}
				break loop
			}
			lineNo++
			rec := &kgo.Record{Topic: topic, Value: line, Headers: hdrs}
			if partition >= 0 {
				rec.Partition = partition
			}
			if len(sep) > 0 {
				k, v, found := bytes.Cut(line, sep)
				if !found {
					inputErr = fmt.Errorf("line %d has no key separator %q", lineNo, sep)
					break loop
				}
				rec.Key, rec.Value = k, v
			}
			sent++
			cl.Produce(pctx, rec, cb)
		}
	}

	fctx, cancel := context.WithTimeout(pctx, a.requestTimeout)
	defer cancel()
	flushErr := cl.Flush(fctx)
	fmt.Fprintf(a.stderr, "%s acknowledged\n", recordCount(acked.Load()))

	mu.Lock()
	prodErr := firstErr
	mu.Unlock()
	switch {
	case prodErr != nil:
		return fmt.Errorf("%s not acknowledged by topic %q: %s", recordCount(failed.Load()), topic, kafkaErr(prodErr))
	case flushErr != nil:
		return fmt.Errorf("%s not acknowledged within %s (--request-timeout): is the cluster still up?", recordCount(sent-acked.Load()-failed.Load()), a.requestTimeout)
	case inputErr != nil:
		return inputErr
	case interrupted:
		return errInterrupted
	}
	return nil
}

// recordCount formats a count of records.
func recordCount(n int64) string {
	if n == 1 {
		return "1 record"
	}
	return strconv.FormatInt(n, 10) + " records"
}
