package registry

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
)

// TestJanitorCleansUpAfterCrashedProposers writes what a proposer that
// died between its two writes leaves behind (an accepted proposal never
// confirmed, and a losing proposal never tombstoned) and checks that a
// server confirms the first and removes the second.
func TestJanitorCleansUpAfterCrashedProposers(t *testing.T) {
	c := kafkatest.New(t, 1)
	s, err := NewServer(c.Brokers, Topic(c.Topic("_schemas")), Logger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.janitor, s.cfg.orphanAge = 50*time.Millisecond, 100*time.Millisecond
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	subj := "crash"
	k1, _ := json.Marshal(recordKey{KeyType: keySchema, Subject: &subj, Version: 1, Nonce: "n1"})
	k2, _ := json.Marshal(recordKey{KeyType: keySchema, Subject: &subj, Version: 1, Nonce: "n2"})
	v1, _ := json.Marshal(schemaValue{Subject: subj, Version: 1, Schema: `"string"`})
	v2, _ := json.Marshal(schemaValue{Subject: subj, Version: 1, Schema: `"int"`})
	off1, err := s.write(ctx, k1, v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write(ctx, k2, v2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.RLock()
		e := s.st.byKey[string(k1)]
		done := e != nil && e.confirmed && e.id == int(off1) && len(s.st.rejected) == 0 && s.st.byKey[string(k2)] == nil
		s.mu.RUnlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("janitor did not clean up: entry %+v, rejected %v", e, s.st.rejected)
		}
		time.Sleep(50 * time.Millisecond)
	}
	id, err := s.Register(ctx, subj, `{"type": "string"}`, nil)
	if err != nil || id != int(off1) {
		t.Fatalf("register after cleanup: %d %v", id, err)
	}
}

// TestRun serves on a real listener, as `kafki registry --listen` does.
func TestRun(t *testing.T) {
	c := kafkatest.New(t, 1)
	addrs := make(chan net.Addr, 1)
	s, err := NewServer(c.Brokers, Topic(c.Topic("_schemas")), Logger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		OnListen(func(a net.Addr) { addrs <- a }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, "127.0.0.1:0") }()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no listen")
	}
	resp, err := http.Get("http://" + addr.String() + "/subjects")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "[]" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
