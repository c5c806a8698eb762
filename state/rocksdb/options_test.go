package rocksdb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// persistedOptions reads the DBOptions RocksDB wrote to the OPTIONS file of
// the database in dir: what it really opened with.
func persistedOptions(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "OPTIONS-*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no OPTIONS file in %s (%v)", dir, err)
	}
	data, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			if _, seen := out[k]; !seen { // DBOptions come first
				out[k] = v
			}
		}
	}
	return out
}

// TestSegmentOpenOptions checks that the options which make opening a time
// segment cheaper (see BenchmarkSegmentOpen) reach RocksDB: one table
// loading thread for segments, none of the file preallocation for any
// store, a memtable bloom filter for segments, and that a key-value store
// keeps RocksDB's parallel table loading and no memtable filter.
func TestSegmentOpenOptions(t *testing.T) {
	dir := t.TempDir()
	ws, err := OpenWindowStore("w", dir, time.Hour, time.Minute, false, WithConfig(testConfig))
	must(t, err)
	must(t, ws.Put([]byte("k"), []byte("v"), 90_000))
	seg := persistedOptions(t, filepath.Join(dir, "w.60000"))
	must(t, ws.Close())

	kvDir := t.TempDir()
	kv, err := OpenKeyValueStore("kv", kvDir, WithConfig(testConfig))
	must(t, err)
	must(t, kv.Close())
	plain := persistedOptions(t, kvDir)

	for _, c := range []struct {
		opts      map[string]string
		key, want string
	}{
		{seg, "max_file_opening_threads", "1"},
		{seg, "allow_fallocate", "false"},
		{plain, "allow_fallocate", "false"},
		{plain, "max_file_opening_threads", "16"},
		{seg, "memtable_whole_key_filtering", "true"},
		{plain, "memtable_whole_key_filtering", "false"},
		{seg, "memtable_prefix_bloom_size_ratio", "0.020000"},
		// The rest of the settings survive the copy withoutFallocate makes.
		{seg, "create_if_missing", "true"},
		{seg, "max_background_jobs", "2"},
		{seg, "info_log_level", "WARN_LEVEL"},
		{seg, "compression", "kLZ4Compression"},
		{seg, "filter_policy", "bloomfilter"},
		{seg, "block_size", "4096"},
		{seg, "cache_index_and_filter_blocks", "true"},
	} {
		if got := c.opts[c.key]; got != c.want {
			t.Errorf("%s = %q, want %q", c.key, got, c.want)
		}
	}
}
