package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvBrokers names the environment variable that points tests at a real
// cluster instead of an in-process one.
const EnvBrokers = "KAFKI_TEST_BROKERS"

// Cluster is a cluster for one test.
type Cluster struct {
	// Brokers are the seed addresses.
	Brokers []string
	// Fake is the in-process cluster, nil against a real cluster.
	Fake *kfake.Cluster
	t    testing.TB
}

// Real reports whether the tests run against a real cluster.
func Real() bool { return os.Getenv(EnvBrokers) != "" }

// NoCompaction is a kfake option that holds the log cleaner off. Tests
// whose exactly-once transactions can abort (fencing, crashes, rebalances,
// outages) need it: kfake compacts past open transactions, so a committed
// value superseded by an aborted one is lost to read_committed readers,
// which Kafka never does (TestKfakeCompactsPastOpenTransactions). It is a
// no-op against a real cluster.
func NoCompaction() kfake.Opt {
	return kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "3600000"})
}

// New returns a cluster for t: the real one from KAFKI_TEST_BROKERS, or a
// fresh in-process kfake cluster with the given number of brokers (3 when
// brokers is 0) that is shut down when the test ends. Extra kfake options
// apply only to the in-process cluster.
func New(t testing.TB, brokers int, opts ...kfake.Opt) *Cluster {
	t.Helper()
	if env := os.Getenv(EnvBrokers); env != "" {
		return &Cluster{Brokers: strings.Split(env, ","), t: t}
	}
	if brokers == 0 {
		brokers = 3
	}
	all := append([]kfake.Opt{
		kfake.NumBrokers(brokers),
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "500"}),
	}, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		t.Fatalf("start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return &Cluster{Brokers: c.ListenAddrs(), Fake: c, t: t}
}

var topicSeq atomic.Int64

// Topic returns a topic name unique to this process and test, so that tests
// sharing a real cluster do not see each other's records.
func (c *Cluster) Topic(base string) string {
	return fmt.Sprintf("%s-%d-%d", base, time.Now().UnixNano()%1_000_000, topicSeq.Add(1))
}

// Client returns a franz-go client on the cluster, closed when the test ends.
func (c *Cluster) Client(opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, opts...)...)
	if err != nil {
		c.t.Fatalf("new client: %v", err)
	}
	c.t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client on the cluster.
func (c *Cluster) Admin() *kadm.Client { return kadm.NewClient(c.Client()) }

// CreateTopic creates a topic with the given partitions and configs and
// fails the test on error. Replication is 1 on kfake and 3 on a real
// cluster with enough brokers (the broker default otherwise).
func (c *Cluster) CreateTopic(name string, partitions int32, configs map[string]*string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.Admin().CreateTopic(ctx, partitions, -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		c.t.Fatalf("create topic %s: %v", name, err)
	}
}

// Outage is an in-process one-broker cluster that keeps its data in a
// directory, so that a test can take the broker down (Stop) and bring it
// back (Start) on the same port with the same data: a broker outage or
// restart as clients see it. It needs the in-process broker: tests that use
// it skip against a real cluster.
type Outage struct {
	*Cluster
	mu   sync.Mutex
	dir  string
	port int
	opts []kfake.Opt
}

// NewOutage starts the broker of an Outage for t; it is shut down when the
// test ends.
func NewOutage(t testing.TB, opts ...kfake.Opt) *Outage {
	t.Helper()
	if Real() {
		t.Skip("stops and restarts the broker: in-process cluster only")
	}
	o := &Outage{dir: t.TempDir(), opts: opts}
	o.Cluster = &Cluster{t: t}
	o.start(0)
	o.Brokers = o.Fake.ListenAddrs()
	_, portStr, _ := net.SplitHostPort(o.Brokers[0])
	o.port, _ = strconv.Atoi(portStr)
	t.Cleanup(func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.Fake != nil {
			o.Fake.Close()
		}
	})
	return o
}

func (o *Outage) start(port int) {
	all := append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(o.dir),
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "500"}),
	}, o.opts...)
	var err error
	// The port of a broker just closed may take a moment to be free.
	for attempt := 0; ; attempt++ {
		var c *kfake.Cluster
		if c, err = kfake.NewCluster(all...); err == nil {
			o.Fake = c
			return
		}
		if attempt == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	o.t.Fatalf("start kfake broker on port %d with data in %s: %v", port, o.dir, err)
}

// Stop shuts the broker down; its data stays in the directory.
func (o *Outage) Stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Fake != nil {
		o.Fake.Close()
		o.Fake = nil
	}
}

// Start brings the broker back on its port with its data.
func (o *Outage) Start() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Fake == nil {
		o.start(o.port)
	}
}
