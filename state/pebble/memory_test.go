package pebble

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/state"
)

var memory5m = flag.Bool("memory5m", false, "run TestMemory: 5,000,000 keys in a Pebble store must stay under 512 MiB resident (slow)")

// procStatusKB reads a field (VmHWM, VmRSS) of /proc/self/status, in KiB.
func procStatusKB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return -1
}

// TestMemory writes 5,000,000 keys (16-byte keys, 100-byte random values)
// into a Pebble store with the default settings, reads 500,000 at random
// and scans them all, and checks that the process's peak resident set
// (VmHWM) stays under 512 MiB: the block cache and the write buffers are
// bounded. Opt-in: go test ./state/pebble -run TestMemory -memory5m -v
func TestMemory(t *testing.T) {
	if !*memory5m {
		t.Skip("opt-in: -memory5m")
	}
	const n = 5_000_000
	const limit = 512 << 10 // KiB
	dir := t.TempDir()
	s, err := OpenKeyValueStore("mem", dir)
	must(t, err)
	defer s.Close()
	rnd := rand.New(rand.NewSource(1))
	value := make([]byte, 100)
	batch := make([]state.KeyValue, 0, 10_000)
	start := time.Now()
	report := func(phase string) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("%-8s %6.1fs  VmRSS %4d MiB  VmHWM %4d MiB  Go heap %4d MiB  block cache %3d MiB (of %d)",
			phase, time.Since(start).Seconds(), procStatusKB("VmRSS")>>10, procStatusKB("VmHWM")>>10,
			ms.HeapInuse>>20, DefaultConfig.blockCache().Size()>>20, DefaultConfig.blockCache().MaxSize()>>20)
	}
	for i := 0; i < n; i++ {
		rnd.Read(value)
		batch = append(batch, state.KeyValue{Key: fmt.Appendf(nil, "key-%012d", uint64(i)*2654435761%(1<<40)), Value: append([]byte(nil), value...)})
		if len(batch) == cap(batch) {
			must(t, s.PutAll(batch))
			batch = batch[:0]
		}
		if (i+1)%1_000_000 == 0 {
			report(fmt.Sprintf("put %dM", (i+1)/1_000_000))
		}
	}
	must(t, s.PutAll(batch))
	must(t, s.Flush())
	report("flushed")
	for i := 0; i < 500_000; i++ {
		k := uint64(rnd.Intn(n))
		v, err := s.Get(fmt.Appendf(nil, "key-%012d", k*2654435761%(1<<40)))
		must(t, err)
		if len(v) != 100 {
			t.Fatalf("key %d: value of %d bytes", k, len(v))
		}
	}
	report("gets")
	it, err := s.All()
	must(t, err)
	count := 0
	for it.Next() {
		count++
	}
	must(t, it.Err())
	must(t, it.Close())
	if count != n {
		t.Fatalf("scanned %d keys", count)
	}
	report("scan")
	est, _ := s.ApproximateNumEntries()
	hwm := procStatusKB("VmHWM")
	t.Logf("peak RSS (VmHWM) %d MiB with %d keys (estimate %d); limit 512 MiB", hwm>>10, n, est)
	if hwm > limit {
		t.Fatalf("peak RSS %d MiB exceeds 512 MiB", hwm>>10)
	}
}
