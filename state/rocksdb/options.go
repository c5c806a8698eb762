package rocksdb

import (
	"sync"

	"github.com/linxGnu/grocksdb"
)

// Default RocksDB settings: modest, so that many stores fit in one process.
const (
	DefaultBlockCacheSize  = 50 << 20 // shared by every store of a Config
	DefaultWriteBufferSize = 16 << 20 // per store (per segment for window and session stores)
	DefaultMaxWriteBuffers = 2
	DefaultBloomBitsPerKey = 10
	DefaultBlockSize       = 4 << 10
)

// Config holds settings shared by many RocksDB stores, above all one
// block cache, so that the memory of every store of a process is bounded
// together. Pass one to every store with WithConfig; stores opened
// without one share DefaultConfig.
//
// Fields are read when a store opens: change them before opening stores.
type Config struct {
	// BlockCacheSize is the capacity of the shared LRU block cache, in
	// bytes. Index and filter blocks are charged to it too.
	BlockCacheSize uint64
	// WriteBufferSize and MaxWriteBuffers bound the memtables of each
	// store (each segment of a window or session store).
	WriteBufferSize uint64
	MaxWriteBuffers int
	// BloomBitsPerKey sizes the bloom filters of point lookups; 0 turns
	// them off.
	BloomBitsPerKey float64
	// Compression of the SST files.
	Compression grocksdb.CompressionType
	// BlockSize is the size of SST data blocks (4 KiB, as Kafka Streams).
	BlockSize int
	// WriteBackBytes bounds the write-back buffer in front of each
	// database (state.NewWriteBackStore): the writes between two commits
	// are absorbed in memory and written as one batch at Flush. 0 uses
	// state.DefaultWriteBackBytes; a negative value turns the buffer off.
	WriteBackBytes int
	// SetOptions, when set, is called last on every store's options: the
	// escape hatch for any RocksDB option (ConfigSetter in Kafka
	// Streams).
	SetOptions func(name string, opts *grocksdb.Options)

	mu    sync.Mutex
	cache *grocksdb.Cache
}

// NewConfig returns a config with the default settings.
func NewConfig() *Config {
	return &Config{
		BlockCacheSize:  DefaultBlockCacheSize,
		WriteBufferSize: DefaultWriteBufferSize,
		MaxWriteBuffers: DefaultMaxWriteBuffers,
		BloomBitsPerKey: DefaultBloomBitsPerKey,
		Compression:     grocksdb.LZ4Compression,
		BlockSize:       DefaultBlockSize,
	}
}

// DefaultConfig is shared by the stores opened without
// WithConfig.
var DefaultConfig = NewConfig()

// BlockCache returns the config's block cache, created on first use.
func (c *Config) BlockCache() *grocksdb.Cache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		size := c.BlockCacheSize
		if size == 0 {
			size = DefaultBlockCacheSize
		}
		c.cache = grocksdb.NewLRUCache(size)
	}
	return c.cache
}

// BlockCacheUsage reports the bytes held by the shared block cache.
func (c *Config) BlockCacheUsage() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		return 0
	}
	return c.cache.GetUsage()
}

// Close releases the config's handle on its block cache. Open stores keep
// using the cache (they hold their own reference); stores opened later get a
// new one.
func (c *Config) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache != nil {
		c.cache.Destroy()
		c.cache = nil
	}
}

// Option tunes one RocksDB store.
type Option func(*rocksSettings)

type rocksSettings struct {
	cfg             *Config
	writeBufferSize uint64
	maxWriteBuffers int
	bloomBits       float64
	compression     grocksdb.CompressionType
	blockSize       int
	setOptions      []func(name string, opts *grocksdb.Options)
	wal             bool
	writeBack       int
	// segment marks the settings of a window or session store, whose
	// databases are its time segments: opened fresh as stream time passes
	// and small (one segment interval of data).
	segment bool
}

// WithConfig makes the store use cfg's settings and share its block
// cache. Options after it override single settings for this store.
func WithConfig(cfg *Config) Option {
	return func(s *rocksSettings) { s.applyConfig(cfg) }
}

// WithWriteBuffers sets the memtable size and count of this store.
func WithWriteBuffers(size uint64, count int) Option {
	return func(s *rocksSettings) { s.writeBufferSize, s.maxWriteBuffers = size, count }
}

// WithBloomFilter sets the bloom filter bits per key (0 = no filter).
func WithBloomFilter(bitsPerKey float64) Option {
	return func(s *rocksSettings) { s.bloomBits = bitsPerKey }
}

// WithCompression sets the compression of SST files.
func WithCompression(c grocksdb.CompressionType) Option {
	return func(s *rocksSettings) { s.compression = c }
}

// WithOptions adds a function called on the store's options just
// before the database opens, after every other setting.
func WithOptions(fn func(opts *grocksdb.Options)) Option {
	return func(s *rocksSettings) {
		s.setOptions = append(s.setOptions, func(_ string, o *grocksdb.Options) { fn(o) })
	}
}

// WithWriteBack sets the bound of the store's write-back buffer (see
// Config.WriteBackBytes; negative turns it off).
func WithWriteBack(maxBytes int) Option {
	return func(s *rocksSettings) { s.writeBack = maxBytes }
}

// WithWAL turns RocksDB's write-ahead log back on. It is off by default:
// durability comes from the changelog, as in Kafka Streams, and Flush writes
// the memtables to disk.
func WithWAL(enabled bool) Option {
	return func(s *rocksSettings) { s.wal = enabled }
}

func (s *rocksSettings) applyConfig(cfg *Config) {
	s.cfg = cfg
	s.writeBufferSize = cfg.WriteBufferSize
	s.maxWriteBuffers = cfg.MaxWriteBuffers
	s.bloomBits = cfg.BloomBitsPerKey
	s.compression = cfg.Compression
	s.blockSize = cfg.BlockSize
	s.writeBack = cfg.WriteBackBytes
	s.setOptions = nil
	if cfg.SetOptions != nil {
		s.setOptions = append(s.setOptions, cfg.SetOptions)
	}
}

// segmentSettings are the settings of the segments of a window or session
// store.
func segmentSettings(opts []Option) *rocksSettings {
	s := newRocksSettings(opts)
	s.segment = true
	return s
}

func newRocksSettings(opts []Option) *rocksSettings {
	s := &rocksSettings{}
	s.applyConfig(DefaultConfig)
	for _, o := range opts {
		o(s)
	}
	return s
}

// options builds the grocksdb options of one database.
func (s *rocksSettings) options(name string) *grocksdb.Options {
	bbto := grocksdb.NewDefaultBlockBasedTableOptions()
	bbto.SetBlockCache(s.cfg.BlockCache())
	if s.blockSize > 0 {
		bbto.SetBlockSize(s.blockSize)
	}
	bbto.SetCacheIndexAndFilterBlocks(true)
	bbto.SetCacheIndexAndFilterBlocksWithHighPriority(true)
	bbto.SetPinL0FilterAndIndexBlocksInCache(true)
	if s.bloomBits > 0 {
		bbto.SetFilterPolicy(grocksdb.NewBloomFilterFull(s.bloomBits))
	}
	bbto.SetFormatVersion(5)

	opts := grocksdb.NewDefaultOptions()
	opts.SetCreateIfMissing(true)
	opts.SetBlockBasedTableFactory(bbto)
	bbto.Destroy() // the factory keeps its own copy
	if s.writeBufferSize > 0 {
		opts.SetWriteBufferSize(s.writeBufferSize)
	}
	if s.maxWriteBuffers > 0 {
		opts.SetMaxWriteBufferNumber(s.maxWriteBuffers)
	}
	opts.SetCompression(s.compression)
	opts.SetMaxBackgroundJobs(2)
	opts.SetKeepLogFileNum(2)
	opts.SetMaxLogFileSize(1 << 20)
	opts.SetStatsDumpPeriodSec(0)
	opts.SetInfoLogLevel(grocksdb.WarnInfoLogLevel)
	if s.segment {
		// A fresh database loads its (no) table files with this many
		// threads, each created and joined per open: 16 by default, 16
		// threads per time segment (BenchmarkSegmentOpen). A segment
		// holds one segment interval of data, a few files at most.
		opts.SetMaxFileOpeningThreads(1)
	}
	opts = withStringOptions(opts, s.segment)
	for _, fn := range s.setOptions {
		fn(name, opts)
	}
	return opts
}

// Options the C API of RocksDB 7.8 cannot set, given as an options string.
const (
	// allow_fallocate=false: RocksDB preallocated the files it writes:
	// each MANIFEST was given 4 MiB of disk blocks and each flushed table
	// its write buffer's size, allocated then freed again by truncation at
	// close. Stores write small files sequentially and keep no write-ahead
	// log by default, so the preallocation bought nothing but block
	// allocation and release work per file (2 fallocate calls per segment
	// lifecycle in BenchmarkSegmentOpen).
	storeStringOptions = "allow_fallocate=false"
	// A whole-key bloom filter on the memtables of time segments: most
	// reads of a window or session store are for windows not written yet
	// (each record of a hopping window reads size/advance new windows),
	// and without the filter each such miss searches the memtable's skip
	// list (BenchmarkWindow/FetchAbsent). 2% of the write buffer gives
	// about 11 bits per key at the default sizes; the filter is carved out
	// of the memtable's arena, so the memory bound does not move.
	segmentStringOptions = ";memtable_whole_key_filtering=true;memtable_prefix_bloom_size_ratio=0.02"
)

// withStringOptions applies the options the C API cannot set to opts and
// returns the new options (opts is destroyed).
func withStringOptions(opts *grocksdb.Options, segment bool) *grocksdb.Options {
	str := storeStringOptions
	if segment {
		str += segmentStringOptions
	}
	n, err := grocksdb.GetOptionsFromString(opts, str)
	if err != nil {
		// Only a RocksDB that does not know the options fails here: keep
		// its defaults rather than fail the store (TestSegmentOpenOptions
		// checks the linked one takes them).
		return opts
	}
	opts.Destroy()
	return n
}
