package connect_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafki/kafki/connect"
	_ "github.com/kafki/kafki/connect/file"
)

// TestDistributedWorkerOnSASLCluster runs a distributed worker on a
// cluster that requires SASL/SCRAM, with the credentials in the worker
// properties as Kafka Connect takes them (sasl.jaas.config): its own
// clients (configs, offsets, status, the assignment group) and a sink
// task's consumer all authenticate, and records reach the file sink. With
// a wrong password the worker stops with an authentication error, and
// producer.* copies that differ from the worker's settings are refused.
// The broker is always in-process: the test makes its users.
func TestDistributedWorkerOnSASLCluster(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "admin", "admin-pw"),
		kfake.User("SCRAM-SHA-512", "connect", "connect-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	worker := func(password string) connect.Config {
		return connect.Config{
			"bootstrap.servers": brokers,
			"security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanism":    "SCRAM-SHA-512",
			"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="connect" password="` +
				password + `";`,
			"group.id":                 "secured",
			"listeners":                "http://127.0.0.1:0",
			"key.converter":            "org.apache.kafka.connect.storage.StringConverter",
			"value.converter":          "org.apache.kafka.connect.storage.StringConverter",
			"offset.flush.interval.ms": "100",
			"session.timeout.ms":       "6000",
		}
	}
	// The workers write their logs from their own goroutines while the
	// test reads them.
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker logs:\n%s", logs.String())
		}
	})

	// Differing producer.* copies are refused before anything connects.
	bad := worker("connect-pw")
	bad["producer.sasl.mechanism"] = "PLAIN"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := connect.RunDistributed(ctx, bad, log, nil); !errors.Is(err, connect.ErrConfig) || !strings.Contains(err.Error(), "producer.sasl.mechanism") {
		t.Fatalf("differing producer.sasl.mechanism: %v", err)
	}
	// A wrong password: the worker cannot start and says why.
	wctx5, cancel5 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel5()
	began := time.Now()
	err = connect.RunDistributed(wctx5, worker("wrong"), log, nil)
	t.Logf("wrong password after %s: %v", time.Since(began), err)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "sasl") {
		t.Fatalf("wrong password: want a SASL authentication error, got %v", err)
	}

	wctx, stop := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- connect.RunDistributed(wctx, worker("connect-pw"), log, func(a net.Addr) { addr <- a })
	}()
	ended := false
	defer func() {
		stop()
		if !ended {
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		}
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a.String()
	case err := <-done:
		ended = true
		t.Fatalf("worker: %v", err)
	case <-ctx.Done():
		t.Fatal("the worker did not start")
	}

	admin, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.SASL(scram.Auth{User: "admin", Pass: "admin-pw"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, 1, 1, nil, "in"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	body := fmt.Sprintf(`{"name":"files","config":{"connector.class":"FileStreamSink","topics":"in","file":%q}}`, out)
	resp, err := http.Post(url+"/connectors", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create connector: %d %s", resp.StatusCode, b)
	}
	for i := 0; i < 5; i++ {
		if err := admin.ProduceSync(ctx, &kgo.Record{Topic: "in", Value: []byte(fmt.Sprintf("v%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for {
		data, _ := os.ReadFile(out)
		if strings.Count(string(data), "\n") == 5 {
			for i := 0; i < 5; i++ {
				if !strings.Contains(string(data), fmt.Sprintf("v%d", i)) {
					t.Fatalf("file sink: %s", data)
				}
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("file sink has %q", data)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "connect-pw") {
		t.Fatal("the password shows in the worker's logs")
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
