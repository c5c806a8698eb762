// Package runtime runs a topology on a Kafka cluster: an application
// instance joins the application's consumer group, is assigned tasks,
// restores their state, processes records on its stream threads, and
// commits at-least-once or exactly-once.
//
// Running more instances of the same program scales the application out;
// tasks move between instances on rebalances and are rebuilt from their
// changelogs, or taken over from a standby replica.
//
// # Life of an instance
//
// New validates the options. Start checks that the source topics exist
// (ErrMissingSourceTopics), that co-partitioned topics agree
// (ErrCoPartitioning), creates the repartition and changelog topics, and
// starts NumStreamThreads stream threads. Each thread is one member of the
// consumer group named by the application id, with its own franz-go
// client for consuming and producing. Close commits and leaves the group.
// The instance reports its State to a StateListener and its numbers through
// Metrics.
//
// # Global stores
//
// A GlobalKTable's store is complete on every instance. Start opens it in
// the "global" directory of the state directory and reads all partitions
// of its topic, from the checkpoint to the end, before any stream thread
// starts; then a goroutine of its own (Kafka Streams' global thread) keeps
// tailing the topic and checkpoints every commit interval. The topic is
// the store's changelog: no consumer group reads it.
//
// # Assignment
//
// The group uses Kafki's own balancer (protocol "stream"). The leader
// assigns tasks — a sub-topology on one partition number of its input
// topics — never loose partitions, so co-partitioned partitions stay
// together. The plan is sticky (tasks stay with their owner), balanced,
// prefers instances with local state for a task, and places
// NumStandbyReplicas standby copies of each stateful task on other
// instances. Rebalances are cooperative by default: tasks that stay keep
// running, and a task that moves is revoked first and assigned in a
// follow-up rebalance.
//
// # Guarantees
//
// At-least-once: a thread commits input offsets only after flushing its
// tasks (caches forward, stores flush) and after every record it produced
// — outputs and changelog writes — was acknowledged. A killed instance
// loses nothing; the records it processed after its last commit are
// processed again elsewhere.
//
// Exactly-once (Guarantee(ExactlyOnceV2), Kafka Streams' exactly_once_v2):
// each thread's client is a transactional producer (transactional id
// <application.id>-<process id>-<thread index>) that is always inside a
// transaction; a commit (every 100ms by default) puts the thread's
// outputs, changelog writes and input offsets (with the group generation,
// KIP-447) in one transaction and ends it. Every consumer reads committed
// data only. A transaction that cannot commit is aborted and the thread's
// tasks are closed dirty; a fenced producer stops its thread with
// ErrProducerFenced. An active task's checkpoint is deleted when it starts
// processing and written only by a clean close, so that after a crash its
// persistent stores, which may hold uncommitted writes, are wiped and
// restored from the changelog, while a clean restart restores only the
// tail.
//
// This package may import every other Kafki package; nothing imports it
// except programs (examples, cmd).
package runtime
