package rocksdb

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/state"
)

// BenchmarkSegmentOpen measures what a window or session store pays per
// time segment: opening a fresh segment database with the options stores
// get, and (lifecycle) also writing to it, flushing it at a commit and
// dropping it on expiry, as the hopping-window benchmark does about 130
// times. Besides ns/op it reports cpu-ns/op, the process's user+system CPU
// per segment, which includes RocksDB's own threads (ns/op does not).
//
//	go test -run '^$' -bench SegmentOpen -benchmem ./state/rocksdb/
func BenchmarkSegmentOpen(b *testing.B) {
	for _, life := range []bool{false, true} {
		name := "open-close"
		if life {
			name = "lifecycle"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			set := segmentSettings(nil)
			key := make([]byte, 0, 32)
			cpu0 := processCPU()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, err := openDB(fmt.Sprintf("seg.%d", i), filepath.Join(dir, fmt.Sprintf("seg.%d", i)), set)
				if err != nil {
					b.Fatal(err)
				}
				if !life {
					if err := s.Close(); err != nil {
						b.Fatal(err)
					}
					continue
				}
				for k := 0; k < 100; k++ {
					if err := s.Put(benchKey(key, k), benchValue); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
				if err := s.Destroy(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var _ state.EngineStore = (*rocksKV)(nil)
