package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafki/kafki/runtime/clientconfig"
	"github.com/kafki/kafki/state"
)

// TestEOSWithoutTransactionalIDACL: under exactly-once, a principal without
// WRITE on the application's transactional ids fails at Start, naming the
// transactional id.
func TestEOSWithoutTransactionalIDACL(t *testing.T) {
	t.Parallel()
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	topic, group := kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup
	allow := func(rt kmsg.ACLResourceType, name string, p kmsg.ACLResourcePatternType, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: rt, Name: name, Pattern: p, Operation: op, Allow: true}
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin-pw"),
		kfake.User("SCRAM-SHA-256", "full", "pw",
			allow(topic, "in", lit, kmsg.ACLOperationRead),
			allow(topic, "out", lit, kmsg.ACLOperationWrite),
			allow(topic, "app3-", pre, kmsg.ACLOperationAll),
			allow(group, "app3", lit, kmsg.ACLOperationRead)),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	admin, _ := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(scram.Auth{User: "admin", Pass: "admin-pw"}.AsSha256Mechanism()))
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"in", "out"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
		req.RequestWith(ctx, admin)
	}
	admin.ProduceSync(ctx, &kgo.Record{Topic: "in", Key: []byte("a"), Value: []byte("a")})
	cc, _ := clientconfig.Parse("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=full\nsasl.password=pw")
	app, err := New(wordCount(t, "in", "out", state.InMemory), "app3", SeedBrokers(c.ListenAddrs()...), ClientConfig(cc), StateDir(t.TempDir()), Guarantee(ExactlyOnceV2), Logger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	err = app.Start(ctx)
	if err == nil {
		select {
		case <-app.Done():
			err = app.Err()
		case <-time.After(20 * time.Second):
			t.Fatalf("still running after 20s without the transactional id ACL, state %v", app.State())
		}
	}
	if !errors.Is(err, ErrNotAuthorized) || !strings.Contains(err.Error(), "WRITE on transactional id app3-") {
		t.Fatalf("want ErrNotAuthorized naming WRITE on transactional id app3-..., got %v", err)
	}
}
