package runtime

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ProcessingGuarantee is Kafka Streams' processing.guarantee.
type ProcessingGuarantee int

const (
	// AtLeastOnce (the default) commits input offsets only after the
	// outputs and changelog writes of the records they cover are
	// acknowledged. After a crash, records processed since the last commit
	// are processed again.
	AtLeastOnce ProcessingGuarantee = iota
	// ExactlyOnceV2 (exactly_once_v2) commits outputs, changelog writes and
	// input offsets in one Kafka transaction per stream thread (KIP-447),
	// and reads input, repartition and changelog topics with
	// read_committed: every input record affects outputs and state exactly
	// once, even when instances crash. A transaction that cannot commit is
	// aborted and the thread's tasks are rebuilt from their committed
	// changelogs. The commit interval defaults to 100ms, the producer's
	// transaction timeout to 10s (kgo.TransactionTimeout in ClientOpts
	// overrides it). Needs brokers 2.5 or newer.
	ExactlyOnceV2
)

// String returns the Kafka Streams config value.
func (g ProcessingGuarantee) String() string {
	if g == ExactlyOnceV2 {
		return "exactly_once_v2"
	}
	return "at_least_once"
}

// Opt configures an App. Every option has a default that works, so New
// needs only the topology and the application id.
type Opt func(*config)

type config struct {
	brokers          []string
	stateDir         string
	threads          int
	commitInterval   time.Duration
	commitSet        bool // CommitInterval was given
	guarantee        ProcessingGuarantee
	standbys         int
	replication      int16
	maxBuffered      int
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	cooperative      bool
	clientOpts       []kgo.Opt
	logger           *slog.Logger
	stateListener    StateListener
	uncaught         UncaughtErrorHandler
	onDeserialize    DeserializationHandler
	onProcess        ProcessingHandler
	onProduce        ProductionHandler
	processID        string
	cacheBytes       int64
	cleanupDelay     time.Duration
	restoreListener  StateRestoreListener
	optErr           error // an option that could not apply (ClientConfigFile)
	adminAddr        string
	appServer        string
}

func defaultConfig() config {
	return config{
		brokers:          []string{"localhost:9092"},
		stateDir:         filepath.Join(os.TempDir(), "kafki-streams"),
		threads:          1,
		commitInterval:   30 * time.Second,
		replication:      -1,
		maxBuffered:      1000,
		cacheBytes:       10 << 20,
		cleanupDelay:     10 * time.Minute,
		sessionTimeout:   45 * time.Second,
		rebalanceTimeout: 60 * time.Second,
		cooperative:      true,
		logger:           slog.New(slog.DiscardHandler),
		uncaught:         func(error) UncaughtErrorResponse { return ShutdownClient },
		onDeserialize:    LogAndFail,
		onProcess:        LogAndFail,
		onProduce:        LogAndFail,
	}
}

func (c *config) validate() error {
	if c.guarantee == ExactlyOnceV2 && !c.commitSet {
		c.commitInterval = defaultEOSCommitInterval
	}
	switch {
	case c.optErr != nil:
		return c.optErr
	case len(c.brokers) == 0:
		return fmt.Errorf("runtime: no seed brokers")
	case c.threads < 1:
		return fmt.Errorf("runtime: num.stream.threads must be at least 1, got %d", c.threads)
	case c.commitInterval <= 0:
		return fmt.Errorf("runtime: commit.interval must be positive, got %v", c.commitInterval)
	case c.standbys < 0:
		return fmt.Errorf("runtime: num.standby.replicas must not be negative, got %d", c.standbys)
	case c.maxBuffered < 1:
		return fmt.Errorf("runtime: buffered.records.per.partition must be at least 1, got %d", c.maxBuffered)
	case c.cacheBytes < 0:
		return fmt.Errorf("runtime: statestore.cache.max.bytes must not be negative, got %d", c.cacheBytes)
	case c.cleanupDelay < 0:
		return fmt.Errorf("runtime: state.cleanup.delay must not be negative, got %v", c.cleanupDelay)
	case c.stateDir == "":
		return fmt.Errorf("runtime: empty state directory")
	case c.guarantee != AtLeastOnce && c.guarantee != ExactlyOnceV2:
		return fmt.Errorf("runtime: unknown processing guarantee %d", c.guarantee)
	}
	return nil
}

// SeedBrokers sets the brokers the instance bootstraps from
// (bootstrap.servers); default localhost:9092.
func SeedBrokers(brokers ...string) Opt {
	return func(c *config) { c.brokers = append([]string(nil), brokers...) }
}

// StateDir sets the directory that holds the local state of the tasks
// (state.dir); each application uses the subdirectory named after its id.
// Default: kafki-streams in os.TempDir(). Two instances on one machine must
// use different directories.
func StateDir(dir string) Opt { return func(c *config) { c.stateDir = dir } }

// NumStreamThreads sets how many stream threads (goroutines, each its own
// group member and Kafka client) the instance runs (num.stream.threads);
// default 1.
func NumStreamThreads(n int) Opt { return func(c *config) { c.threads = n } }

// CommitInterval sets how often a stream thread flushes its tasks, waits for
// its produced records to be acknowledged and commits its input offsets
// (commit.interval.ms); default 30s, or 100ms under ExactlyOnceV2, as in
// Kafka Streams. A shorter interval means fewer duplicates after a crash
// (at-least-once), less latency for read_committed readers (exactly-once),
// and more commit overhead.
func CommitInterval(d time.Duration) Opt {
	return func(c *config) { c.commitInterval, c.commitSet = d, true }
}

// Guarantee sets the processing guarantee (processing.guarantee): AtLeastOnce
// (the default) or ExactlyOnceV2; New refuses any other value. Under
// ExactlyOnceV2 each stream thread's producer has the transactional id
// <application.id>-<process id>-<thread index>: give instances a stable
// ProcessID so that a restarted instance fences its predecessor's open
// transaction at once instead of after the transaction timeout.
func Guarantee(g ProcessingGuarantee) Opt { return func(c *config) { c.guarantee = g } }

// NumStandbyReplicas sets how many standby copies of each stateful task the
// group keeps on other instances (num.standby.replicas); default 0. A
// standby applies its changelog continuously, so that a task moving to its
// instance restores only the tail of the changelog.
func NumStandbyReplicas(n int) Opt { return func(c *config) { c.standbys = n } }

// ReplicationFactor sets the replication factor of the internal topics the
// instance creates (replication.factor); default -1, the broker's default.
func ReplicationFactor(n int16) Opt { return func(c *config) { c.replication = n } }

// BufferedRecordsPerPartition bounds the records a stream thread buffers
// per input partition (buffered.records.per.partition); default 1000. As
// in Kafka Streams, a partition whose buffer holds more is paused (the
// client stops fetching it) until the buffer drains below half of n; a
// task processes up to n records per partition between two polls.
func BufferedRecordsPerPartition(n int) Opt { return func(c *config) { c.maxBuffered = n } }

// SessionTimeout sets the group session timeout (session.timeout.ms): how
// long a member that stopped heartbeating (a killed process) keeps its tasks
// before the group moves them. Default 45s, as in Kafka 4; a clean Close
// leaves the group at once.
func SessionTimeout(d time.Duration) Opt { return func(c *config) { c.sessionTimeout = d } }

// RebalanceTimeout sets how long a rebalance may take (max.poll.interval.ms
// in Kafka Streams): members must finish revoking, and restoring in the
// assignment callback, within it. Default 60s.
func RebalanceTimeout(d time.Duration) Opt { return func(c *config) { c.rebalanceTimeout = d } }

// EagerRebalancing makes rebalances stop every task before reassigning
// (the eager protocol). By default rebalances are cooperative: a task that
// stays on its thread keeps running, and a task that moves is first
// revoked from its old owner and assigned in a follow-up rebalance.
func EagerRebalancing() Opt { return func(c *config) { c.cooperative = false } }

// ClientOpts adds franz-go options to every Kafka client the instance
// creates: TLS (kgo.DialTLSConfig), SASL (kgo.SASL), client id, timeouts,
// logging. They are applied after Kafki's own options and may override
// them; overriding group, balancer or commit options breaks the runtime.
func ClientOpts(opts ...kgo.Opt) Opt {
	return func(c *config) { c.clientOpts = append(c.clientOpts, opts...) }
}

// Logger sets the logger; default discards everything. The Kafka clients
// (franz-go) log into it too, at the levels it enables.
func Logger(l *slog.Logger) Opt {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// OnStateChange sets a listener for the instance's state changes.
func OnStateChange(fn StateListener) Opt { return func(c *config) { c.stateListener = fn } }

// OnUncaughtError sets the handler for errors that stop a stream thread
// (Kafka Streams' StreamsUncaughtExceptionHandler); default ShutdownClient.
func OnUncaughtError(fn UncaughtErrorHandler) Opt {
	return func(c *config) {
		if fn != nil {
			c.uncaught = fn
		}
	}
}

// OnDeserializationError sets the deserialization handler
// (default.deserialization.exception.handler); default LogAndFail.
func OnDeserializationError(fn DeserializationHandler) Opt {
	return func(c *config) {
		if fn != nil {
			c.onDeserialize = fn
		}
	}
}

// OnProcessingError sets the processing handler
// (processing.exception.handler); default LogAndFail.
func OnProcessingError(fn ProcessingHandler) Opt {
	return func(c *config) {
		if fn != nil {
			c.onProcess = fn
		}
	}
}

// OnProductionError sets the production handler
// (default.production.exception.handler); default LogAndFail.
func OnProductionError(fn ProductionHandler) Opt {
	return func(c *config) {
		if fn != nil {
			c.onProduce = fn
		}
	}
}

// CacheMaxBytes sets the memory for record caches of the instance
// (statestore.cache.max.bytes); default 10 MiB, shared equally by the
// caching stores of all tasks of the topology. 0 turns caching off: every
// update is then logged and forwarded.
func CacheMaxBytes(n int64) Opt { return func(c *config) { c.cacheBytes = n } }

// ProcessID sets the id the instance identifies itself with in the group
// assignment; stream threads with the same process id share a state
// directory, and standbys are never placed on the process of their active
// task. Default: a random id chosen by New.
func ProcessID(id string) Opt { return func(c *config) { c.processID = id } }

// StateCleanupDelay is how long the directory of a task no longer assigned
// to this instance stays in the state directory before it is deleted
// (Kafka Streams' state.cleanup.delay.ms); default 10 minutes. Until then
// the task restores only the tail of its changelog if it comes back. 0
// keeps every directory.
func StateCleanupDelay(d time.Duration) Opt { return func(c *config) { c.cleanupDelay = d } }

// StateRestoreListener is told about the restoration of every store of an
// active task and of every global store at start-up (Kafka Streams'
// StateRestoreListener, which serves both): OnRestoreStart with
// the changelog range to read, OnBatchRestored after each batch written to
// the store, OnRestoreEnd with the number of records restored. It is
// called from the stream threads' state updaters, one goroutine per
// thread, and from the global thread, and must be safe for concurrent use
// and return quickly.
type StateRestoreListener = changelog.RestoreListener

// OnRestore sets the restore listener.
func OnRestore(l StateRestoreListener) Opt { return func(c *config) { c.restoreListener = l } }
