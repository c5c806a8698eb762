package changelog

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linxGnu/grocksdb"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state/rocksdb"
)

// restoreBench is the changelog of the restoration benchmark, produced once
// per process: records "key-%07d" -> a 16-byte value.
type restoreBench struct {
	brokers []string
	topic   string
	records int
	keys    [][]byte
	values  [][]byte
	err     error
}

var (
	benchOnce    sync.Once
	benchFixture restoreBench
)

func benchRecords() int {
	if s := os.Getenv("KAFKI_BENCH_RESTORE_RECORDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 1_000_000
}

func loadRestoreBench() (*restoreBench, error) {
	benchOnce.Do(func() {
		f := &benchFixture
		f.records = benchRecords()
		if env := os.Getenv(kafkatest.EnvBrokers); env != "" {
			f.brokers = strings.Split(env, ",")
		} else {
			// Lives as long as the process: benchmark functions run several
			// times, and the changelog is produced once.
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				f.err = err
				return
			}
			f.brokers = c.ListenAddrs()
		}
		f.topic = fmt.Sprintf("bench-restore-%d-changelog", time.Now().UnixNano())
		f.keys = make([][]byte, f.records)
		f.values = make([][]byte, f.records)
		for i := range f.keys {
			f.keys[i] = fmt.Appendf(nil, "key-%07d", i)
			f.values[i] = fmt.Appendf(nil, "value-%010d", i*7) // 16 bytes
		}
		f.err = f.produce()
	})
	return &benchFixture, benchFixture.err
}

func (f *restoreBench) produce() error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.DefaultProduceTopic(f.topic),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, f.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		prodErr error
	)
	for i := range f.keys {
		cl.Produce(ctx, &kgo.Record{Key: f.keys[i], Value: f.values[i]}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				prodErr = err
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return prodErr
}

// BenchmarkRestoreRocksDB restores a 1,000,000-record changelog (set
// KAFKI_BENCH_RESTORE_RECORDS for another size) into a RocksDB store and, in
// the same iteration, writes the same data into a plain grocksdb database in
// WriteBatches of the same size, with the same write options (no WAL). Both
// timings include the final flush of the memtables. It reports both
// throughputs and their ratio (restore/batch); the target is >= 0.5.
//
//	go test ./changelog -run '^$' -bench RestoreRocksDB -benchtime 3x
func BenchmarkRestoreRocksDB(b *testing.B) {
	f, err := loadRestoreBench()
	if err != nil {
		b.Fatalf("produce the changelog: %v", err)
	}
	const batchSize = 10_000
	r, err := NewRestorer(RestorerConfig{ClientOpts: []kgo.Opt{kgo.SeedBrokers(f.brokers...)}, BatchSize: batchSize, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	tp := TopicPartition{f.topic, 0}

	var restoreTime, batchTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		// Baseline: plain grocksdb WriteBatch writes.
		baseline := func() {
			batchTime += timeIt(b, func() error { return plainBatchedWrite(dir+"/plain", f.keys, f.values, batchSize) })
		}
		// Restoration from the changelog into the RocksDB engine.
		restore := func() {
			store, err := rocksdb.OpenKeyValueStore("bench", dir+"/store")
			if err != nil {
				b.Fatal(err)
			}
			var res Result
			restoreTime += timeIt(b, func() error {
				var err error
				if res, err = r.Restore(context.Background(), Job{Store: mustRestorable(b, store), Partition: tp}); err != nil {
					return err
				}
				return store.Flush()
			})
			if res.Restored != int64(f.records) {
				b.Fatalf("restored %d records, want %d", res.Restored, f.records)
			}
			if n, _ := store.ApproximateNumEntries(); n < int64(f.records)*9/10 {
				b.Fatalf("store holds about %d entries after restoring %d", n, f.records)
			}
			if err := store.Close(); err != nil {
				b.Fatal(err)
			}
		}
		// Alternate which goes first, so that drift in the machine's load
		// does not favour one.
		if i%2 == 0 {
			baseline()
			restore()
		} else {
			restore()
			baseline()
		}
	}
	b.StopTimer()
	recs := float64(f.records) * float64(b.N)
	restoreRate := recs / restoreTime.Seconds()
	batchRate := recs / batchTime.Seconds()
	b.ReportMetric(restoreRate, "restore-records/s")
	b.ReportMetric(batchRate, "batch-records/s")
	b.ReportMetric(restoreRate/batchRate, "restore/batch")
	b.ReportMetric(0, "ns/op") // the two timings above are what counts
	b.Logf("%d records: restore %.0f records/s, plain batched write %.0f records/s, ratio %.2f",
		f.records, restoreRate, batchRate, restoreRate/batchRate)
}

func timeIt(b *testing.B, fn func() error) time.Duration {
	b.Helper()
	began := time.Now()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	return time.Since(began)
}

// plainBatchedWrite writes keys and values into a new database in dir with
// the settings of the state package's RocksDB engine that matter for writes:
// 16 MiB write buffers, two of them, LZ4, no write-ahead log.
func plainBatchedWrite(dir string, keys, values [][]byte, batchSize int) error {
	opts := grocksdb.NewDefaultOptions()
	defer opts.Destroy()
	opts.SetCreateIfMissing(true)
	opts.SetWriteBufferSize(rocksdb.DefaultWriteBufferSize)
	opts.SetMaxWriteBufferNumber(rocksdb.DefaultMaxWriteBuffers)
	opts.SetCompression(grocksdb.LZ4Compression)
	opts.SetMaxBackgroundJobs(2)
	db, err := grocksdb.OpenDb(opts, dir)
	if err != nil {
		return err
	}
	defer db.Close()
	wo := grocksdb.NewDefaultWriteOptions()
	defer wo.Destroy()
	wo.DisableWAL(true)
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	for i := range keys {
		wb.Put(keys[i], values[i])
		if wb.Count() == batchSize || i == len(keys)-1 {
			if err := db.Write(wo, wb); err != nil {
				return err
			}
			wb.Clear()
		}
	}
	fo := grocksdb.NewDefaultFlushOptions()
	defer fo.Destroy()
	fo.SetWait(true)
	return db.Flush(fo)
}
