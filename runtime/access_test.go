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

// TestStartNamesMissingACLs: on a cluster that enforces ACLs (always the
// in-process one: a real cluster's users are not ours to make), an
// application whose principal lacks a permission fails at Start with
// ErrNotAuthorized naming each missing operation and resource; with the
// ACLs it starts. Another application's changelog stays unreadable.
func TestStartNamesMissingACLs(t *testing.T) {
	t.Parallel()
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	topic, group := kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup
	allow := func(rt kmsg.ACLResourceType, name string, p kmsg.ACLResourcePatternType, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: rt, Name: name, Pattern: p, Operation: op, Allow: true}
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin-pw"),
		// bare may only read its input.
		kfake.User("SCRAM-SHA-256", "bare", "pw", allow(topic, "in", lit, kmsg.ACLOperationRead)),
		// full has what the app needs.
		kfake.User("SCRAM-SHA-256", "full", "pw",
			allow(topic, "in", lit, kmsg.ACLOperationRead),
			allow(topic, "out", lit, kmsg.ACLOperationWrite),
			allow(topic, "app2-", pre, kmsg.ACLOperationAll),
			allow(group, "app2", lit, kmsg.ACLOperationRead)),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(scram.Auth{User: "admin", Pass: "admin-pw"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{"in", "out", "app1-counts-changelog"} {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
		if _, err := req.RequestWith(ctx, admin); err != nil {
			t.Fatal(err)
		}
	}
	start := func(user, appID, in string) error {
		cc, err := clientconfig.Parse("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=" + user + "\nsasl.password=pw\nbootstrap.servers=" + strings.Join(c.ListenAddrs(), ","))
		if err != nil {
			t.Fatal(err)
		}
		app, err := New(wordCount(t, in, "out", state.InMemory), appID, ClientConfig(cc), StateDir(t.TempDir()), Logger(testLogger()))
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close(context.Background())
		return app.Start(ctx)
	}

	err = start("bare", "app2", "in")
	if !errors.Is(err, ErrNotAuthorized) {
		t.Fatalf("bare: want ErrNotAuthorized, got %v", err)
	}
	for _, want := range []string{"WRITE on topic out", "READ on group app2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("bare: %q does not name %s", err, want)
		}
	}
	// Reading app1's changelog as an input: refused, named.
	err = start("full", "app2", "app1-counts-changelog")
	if !errors.Is(err, ErrNotAuthorized) || !strings.Contains(err.Error(), "READ on topic app1-counts-changelog") {
		t.Fatalf("full on app1's changelog: %v", err)
	}
	if strings.Contains(err.Error(), "pw") {
		t.Fatalf("the password is in %q", err)
	}
	if err := start("full", "app2", "in"); err != nil {
		t.Fatalf("full: %v", err)
	}
}
