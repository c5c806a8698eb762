package statetest

import (
	"bufio"
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

// MemoryEngine is an engine under MemoryContract: Open opens a key-value
// store in dir with the engine's default settings, and CacheMiB reports the
// block cache's use for the progress lines.
type MemoryEngine struct {
	Name     string
	Open     func(dir string) (state.KeyValueStore, error)
	CacheMiB func() uint64
}

// MemoryContract writes 5,000,000 keys (16-byte keys, 100-byte random
// values) into a store of e, reads 500,000 at random and scans them all,
// and checks that the process's peak resident set (VmHWM) stays under
// 512 MiB: the engine's caches and write buffers are bounded. It takes
// minutes, so engines run it opt-in.
func MemoryContract(t *testing.T, e MemoryEngine) {
	const n = 5_000_000
	const limit = 512 << 10 // KiB
	s, err := e.Open(t.TempDir())
	must(t, err)
	defer s.Close()
	rnd := rand.New(rand.NewSource(1))
	value := make([]byte, 100)
	batch := make([]state.KeyValue, 0, 10_000)
	start := time.Now()
	report := func(phase string) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("%s %-8s %6.1fs  VmRSS %4d MiB  VmHWM %4d MiB  Go heap %4d MiB  block cache %3d MiB",
			e.Name, phase, time.Since(start).Seconds(), procStatusKB("VmRSS")>>10, procStatusKB("VmHWM")>>10,
			ms.HeapInuse>>20, e.CacheMiB())
	}
	key := func(i uint64) []byte { return fmt.Appendf(nil, "key-%012d", i*2654435761%(1<<40)) }
	for i := 0; i < n; i++ {
		rnd.Read(value)
		batch = append(batch, state.KeyValue{Key: key(uint64(i)), Value: append([]byte(nil), value...)})
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
		v, err := s.Get(key(k))
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
	t.Logf("%s: peak RSS (VmHWM) %d MiB with %d keys (estimate %d); limit 512 MiB", e.Name, hwm>>10, n, est)
	if hwm > limit {
		t.Fatalf("%s: peak RSS %d MiB exceeds 512 MiB", e.Name, hwm>>10)
	}
}

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
