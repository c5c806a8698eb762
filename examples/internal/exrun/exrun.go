package exrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kafki/kafki/runtime/clientconfig"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Broker is where an example runs: the seed brokers of a real cluster, or
// an embedded single-broker kfake cluster that Close stops.
type Broker struct {
	// Addrs are the seed broker addresses.
	Addrs []string
	// Embedded reports whether the broker runs in this process.
	Embedded bool
	// Config holds the --command-config settings (TLS, SASL), or nil.
	Config *clientconfig.Config
	sec    []kgo.Opt
	fake   *kfake.Cluster
}

// Connect returns the cluster at seeds (a comma-separated list, as given
// on the command line) or, when seeds is empty, starts an embedded broker.
// commandConfig, when given, is a Kafka client properties file
// (security.protocol, ssl.*, sasl.*, bootstrap.servers) every client and
// the application use.
func Connect(seeds string, commandConfig ...string) (*Broker, error) {
	var cc *clientconfig.Config
	var sec []kgo.Opt
	if len(commandConfig) > 0 && commandConfig[0] != "" {
		var err error
		if cc, err = clientconfig.Load(commandConfig[0]); err != nil {
			return nil, err
		}
		if sec, err = cc.SecurityOpts(); err != nil {
			return nil, err
		}
		if strings.TrimSpace(seeds) == "" {
			seeds = strings.Join(cc.BootstrapServers, ",")
		}
		if strings.TrimSpace(seeds) == "" {
			return nil, fmt.Errorf("--command-config %s: name the cluster with --brokers or bootstrap.servers (the embedded broker runs in plaintext)", commandConfig[0])
		}
	}
	if s := strings.TrimSpace(seeds); s != "" {
		var addrs []string
		for _, a := range strings.Split(s, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("--brokers %q names no broker", seeds)
		}
		return &Broker{Addrs: addrs, Config: cc, sec: sec}, nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		// Compaction on the changelogs every few seconds instead of hourly.
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "5000"}))
	if err != nil {
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	return &Broker{Addrs: c.ListenAddrs(), Embedded: true, fake: c}, nil
}

// Close stops the embedded broker, if any.
func (b *Broker) Close() {
	if b.fake != nil {
		b.fake.Close()
	}
}

// Client returns a franz-go client on the broker; the caller closes it.
func (b *Broker) Client(opts ...kgo.Opt) (*kgo.Client, error) {
	all := append([]kgo.Opt{kgo.SeedBrokers(b.Addrs...)}, b.sec...)
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// EnsureTopics creates the topics that do not exist yet with the given
// partition count (replication: the broker's default). Existing topics are
// left as they are, so that the examples can run again on a real cluster.
func (b *Broker) EnsureTopics(ctx context.Context, partitions int32, topics ...string) error {
	cl, err := b.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, -1, nil, topics...)
	if err != nil {
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	for _, r := range resp.Sorted() {
		if errors.Is(r.Err, kerr.TopicAuthorizationFailed) {
			// A principal without CREATE may still use a topic made
			// by an administrator.
			if b.RequireTopics(ctx, r.Topic) == nil {
				continue
			}
		}
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// RequireTopics fails with a clear error when a topic does not exist.
func (b *Broker) RequireTopics(ctx context.Context, topics ...string) error {
	cl, err := b.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	for _, t := range topics {
		d, ok := details[t]
		if !ok || d.Err != nil {
			return fmt.Errorf("topic %s does not exist on %s", t, strings.Join(b.Addrs, ","))
		}
	}
	return nil
}

// Produce writes the records and waits until all are acknowledged.
func (b *Broker) Produce(ctx context.Context, recs []*kgo.Record) error {
	cl, err := b.Client(kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce input: %w", err)
	}
	return nil
}

// ProduceManual writes records to the partitions they name (instead of
// partitioning by key) and waits until all are acknowledged.
func (b *Broker) ProduceManual(ctx context.Context, recs []*kgo.Record) error {
	cl, err := b.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// SourceTopics lists the topics the application appID running topo
// consumes: its inputs and its repartition topics.
func SourceTopics(appID string, topo *topology.Topology) []string {
	var topics []string
	for _, s := range topo.SubTopologies(appID) {
		topics = append(topics, s.SourceTopics...)
	}
	return topics
}

// Drained reports whether the application has committed every source
// topic up to its end (see WaitDrained).
func (b *Broker) Drained(ctx context.Context, appID string, topo *topology.Topology) (bool, error) {
	cl, err := b.Client()
	if err != nil {
		return false, err
	}
	defer cl.Close()
	return drained(ctx, kadm.NewClient(cl), appID, SourceTopics(appID, topo))
}

// WaitDrained waits until the application appID running topo has committed
// every source topic (its inputs and its repartition topics) up to their
// end, and returns how many input records that covers. It polls every
// interval. Its inputs must no longer be written to.
//
// Committed offsets are read before end offsets: a committed input offset
// at its end means the records derived from it were written to the
// repartition topics before that commit, so they are counted in the end
// offsets read afterwards, and nothing is missed.
func (b *Broker) WaitDrained(ctx context.Context, appID string, topo *topology.Topology, interval time.Duration) error {
	topics := SourceTopics(appID, topo)
	cl, err := b.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		done, err := drained(ctx, adm, appID, topics)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to process its input: %w", appID, ctx.Err())
		case <-time.After(interval):
		}
	}
}

func drained(ctx context.Context, adm *kadm.Client, group string, topics []string) (bool, error) {
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topics...)
	if errors.Is(err, kerr.GroupIDNotFound) || errors.Is(err, kerr.CoordinatorLoadInProgress) {
		return false, nil // the group has not committed yet
	}
	if err != nil {
		return false, fmt.Errorf("fetch committed offsets of %s: %w", group, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return false, fmt.Errorf("list end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return false, fmt.Errorf("list end offsets: %w", err)
	}
	done := true
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset == 0 {
			return
		}
		c, ok := committed.Lookup(e.Topic, e.Partition)
		if !ok || c.Err != nil || c.At < e.Offset {
			done = false
		}
	})
	return done, nil
}

// ReadAll reads topic from its start up to the end offsets it has when
// ReadAll is called, and returns the records in order per partition.
func (b *Broker) ReadAll(ctx context.Context, topic string) ([]*kgo.Record, error) {
	adm, err := b.Client()
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	adm.Close()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	left := map[int32]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset > 0 {
			left[e.Partition] = e.Offset
		}
	})
	if len(left) == 0 {
		return nil, nil
	}
	cl, err := b.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("read %s: %w", topic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			out = append(out, r)
			if r.Offset+1 >= end {
				delete(left, r.Partition)
			}
		})
	}
	return out, nil
}
