package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/runtime/clientconfig/devcerts"
)

// runSecured runs word count on the cluster at brokers with the client
// properties file props, and checks the counts.
func runSecured(t *testing.T, brokers []string, props string) {
	t.Helper()
	cfg := defaultConfig()
	cfg.brokers = strings.Join(brokers, ",")
	cfg.commandConfig = props
	cfg.store = "memory"
	cfg.partitions = 3
	cfg.stateDir = t.TempDir()
	cfg.timeout = time.Minute
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	if got, want := parseCounts(t, out.String()), wantCounts(generate(1)); !maps.Equal(got, want) {
		t.Fatalf("counts differ:\n got %v\nwant %v", got, want)
	}
}

// TestWordCountTwoWayTLS: word count end to end on a 3-broker cluster that
// requires client certificates, configured by a client properties file.
func TestWordCountTwoWayTLS(t *testing.T) {
	t.Parallel()
	f, err := devcerts.Generate(t.TempDir(), devcerts.Options{Clients: []string{"wordcount"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(f.BrokerCert, f.BrokerKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(f.CACert)
	pool.AppendCertsFromPEM(pem)
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	}), kfake.BrokerConfigs(map[string]string{"default.replication.factor": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	runSecured(t, c.ListenAddrs(), f.Clients["wordcount"].Properties)
}

// streamsACLs are the ACLs the README lists for an application: read its
// input, write its output, everything on its internal topics (prefix
// <application.id>-), read its group. The example also creates its input
// and output topics, hence CREATE on them.
func streamsACLs(appID, input, output string) []kfake.ACL {
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	topic, group := kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup
	return []kfake.ACL{
		{Resource: topic, Name: input, Pattern: lit, Operation: kmsg.ACLOperationRead, Allow: true},
		{Resource: topic, Name: input, Pattern: lit, Operation: kmsg.ACLOperationWrite, Allow: true}, // the example writes its own input
		{Resource: topic, Name: input, Pattern: lit, Operation: kmsg.ACLOperationCreate, Allow: true},
		{Resource: topic, Name: output, Pattern: lit, Operation: kmsg.ACLOperationWrite, Allow: true},
		{Resource: topic, Name: output, Pattern: lit, Operation: kmsg.ACLOperationRead, Allow: true}, // the example prints its output
		{Resource: topic, Name: output, Pattern: lit, Operation: kmsg.ACLOperationCreate, Allow: true},
		{Resource: topic, Name: appID + "-", Pattern: pre, Operation: kmsg.ACLOperationAll, Allow: true},
		{Resource: group, Name: appID, Pattern: lit, Operation: kmsg.ACLOperationRead, Allow: true},
	}
}

// TestWordCountSASLSCRAMWithACLs: word count end to end on a 3-broker
// cluster with SASL/SCRAM and ACLs, as a user holding exactly the ACLs an
// application needs; a user without WRITE on the output topic fails at
// start with an error that names it.
func TestWordCountSASLSCRAMWithACLs(t *testing.T) {
	t.Parallel()
	const pw = "wc-Secret-pw"
	appID, in, out := defaultConfig().appID, defaultConfig().input, defaultConfig().output
	var noWrite []kfake.ACL
	for _, a := range streamsACLs(appID, in, out) {
		if a.Name == out && a.Operation == kmsg.ACLOperationWrite {
			continue
		}
		noWrite = append(noWrite, a)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin-pw"),
		kfake.User("SCRAM-SHA-512", "wordcount", pw, streamsACLs(appID, in, out)...),
		kfake.User("SCRAM-SHA-512", "nowrite", pw, noWrite...),
		kfake.BrokerConfigs(map[string]string{"default.replication.factor": "3"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	props := func(user string) string {
		p := filepath.Join(t.TempDir(), user+".properties")
		text := fmt.Sprintf("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=%q password=%q;\n", user, pw)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	runSecured(t, c.ListenAddrs(), props("wordcount"))

	// The user without WRITE on the output is refused at start.
	cfg := defaultConfig()
	cfg.brokers, cfg.commandConfig, cfg.store, cfg.stateDir, cfg.timeout = strings.Join(c.ListenAddrs(), ","), props("nowrite"), "memory", t.TempDir(), time.Minute
	cfg.drain = true
	var buf bytes.Buffer
	err = run(context.Background(), cfg, &buf)
	if !errors.Is(err, runtime.ErrNotAuthorized) || !strings.Contains(err.Error(), "WRITE on topic "+out) {
		t.Fatalf("want ErrNotAuthorized naming WRITE on topic %s, got %v", out, err)
	}
	t.Logf("refused as expected: %v", err)
	if strings.Contains(err.Error(), pw) {
		t.Fatalf("the password is in the error: %v", err)
	}
}
