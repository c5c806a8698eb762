package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is what one in-process run of kafki gave.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// kafki runs the command line in-process with stdin as standard input,
// bounded by a minute so that a hang fails the test instead of stalling it.
func kafki(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return kafkiCtx(t, context.Background(), strings.NewReader(stdin), args...)
}

func kafkiCtx(t *testing.T, parent context.Context, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(parent, time.Minute)
	defer cancel()
	var out, errb syncBuffer
	start := time.Now()
	code := run(ctx, args, stdin, &out, &errb)
	r := result{code: code, stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ctx.Err() == context.DeadlineExceeded && parent.Err() == nil {
		t.Fatalf("kafki %s: still running after a minute; stderr: %s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// ok runs kafki and fails the test unless it exits 0.
func ok(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := kafki(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("kafki %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// failsWith runs kafki and checks it exits with code and a one-line error
// on standard error that contains want.
func failsWith(t *testing.T, code int, want string, stdin string, args ...string) result {
	t.Helper()
	r := kafki(t, stdin, args...)
	if r.code != code {
		t.Fatalf("kafki %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	checkOneLineError(t, r.stderr, want)
	return r
}

// checkOneLineError checks that the last line of stderr is a kafki error
// containing want, and that no stack trace was printed.
func checkOneLineError(t *testing.T, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "kafki: ") || !strings.Contains(last, want) {
		t.Fatalf("error line %q: want a kafki: line containing %q (stderr: %q)", last, want, stderr)
	}
	for _, bad := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(stderr, bad) {
			t.Fatalf("stderr has %q, looks like a stack trace: %s", bad, stderr)
		}
	}
}

// cluster starts the test cluster (or names the real one) and returns it
// with its --brokers flag.
func cluster(t *testing.T, brokers int) (*kafkatest.Cluster, string) {
	t.Helper()
	c := kafkatest.New(t, brokers)
	return c, "--brokers=" + strings.Join(c.Brokers, ",")
}

// deadPort returns a loopback address on which nothing listens.
func deadPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func equalLines(t *testing.T, what, got string, want ...string) {
	t.Helper()
	g := lines(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\ngot  %q\nwant %q", what, g, want)
	}
}
