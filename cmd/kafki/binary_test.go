package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// kafkiBinary builds the real command once per test run.
func kafkiBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "kafki-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kafki")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// brokerProc is a `kafki broker` subprocess.
type brokerProc struct {
	cmd       *exec.Cmd
	bootstrap string
	stdout    *syncBuffer
	stderr    *syncBuffer
	done      chan error
}

// startBroker starts `kafki broker args...` and waits for its bootstrap line.
func startBroker(t *testing.T, args ...string) *brokerProc {
	t.Helper()
	cmd := exec.Command(kafkiBinary(t), append([]string{"broker"}, args...)...)
	pr, pw := io.Pipe()
	p := &brokerProc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout = io.MultiWriter(p.stdout, pw)
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.done <- cmd.Wait()
		pw.Close()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	found := make(chan string, 1)
	go func() {
		// The banner ends with the "Clients:" line.
		sc := bufio.NewScanner(pr)
		var bootstrap string
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "(bootstrap: "); i >= 0 {
				bootstrap = strings.TrimSuffix(line[i+len("(bootstrap: "):], ")")
			}
			if strings.HasPrefix(line, "Clients:") {
				found <- bootstrap
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case p.bootstrap = <-found:
	case err := <-p.done:
		t.Fatalf("kafki broker %s exited: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, p.stdout, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("kafki broker printed no bootstrap line in 30s\nstdout: %s\nstderr: %s", p.stdout, p.stderr)
	}
	return p
}

// stop sends sig and waits for the process to end.
func (p *brokerProc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("kafki broker still running 30s after %v\nstdout: %s\nstderr: %s", sig, p.stdout, p.stderr)
		return nil
	}
}

// TestBrokerDataDirKeepsRecords: the built binary with --data-dir keeps a
// topic and its records across a SIGTERM and a restart.
func TestBrokerDataDirKeepsRecords(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	b := startBroker(t, "--listen", "127.0.0.1:0", "--data-dir", dir)
	if !strings.Contains(b.stdout.String(), "Kafka broker listening on "+b.bootstrap) {
		t.Fatalf("broker banner: %q", b.stdout.String())
	}
	brokers := "--brokers=" + b.bootstrap
	ok(t, "", "topics", "create", "kept", "--partitions", "2", "--config", "retention.ms=86400000", brokers)
	ok(t, "a:1\nb:2\nc:3\n", "produce", "kept", "--key-separator", ":", "--header", "h=v", brokers)
	group := "keeper"
	r := ok(t, "", "consume", "kept", "--group", group, "--from-beginning", "--max-messages", "1", brokers)
	first := strings.TrimSpace(r.stdout)

	if err := b.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("broker exit after SIGTERM: %v\nstderr: %s", err, b.stderr)
	}
	if out := b.stdout.String(); !strings.Contains(out, "Broker stopped") {
		t.Fatalf("no clean stop: %q", out)
	}

	// Restart on the same port and data dir.
	b2 := startBroker(t, "--listen", b.bootstrap, "--data-dir", dir)
	brokers = "--brokers=" + b2.bootstrap
	r = ok(t, "", "topics", "list", brokers)
	equalLines(t, "topics after restart", r.stdout, "kept")
	r = ok(t, "", "topics", "describe", "kept", brokers)
	if !strings.Contains(r.stdout, "retention.ms=86400000") {
		t.Fatalf("topic config lost: %s", r.stdout)
	}
	r = ok(t, "", "consume", "kept", "--from-beginning", "--max-messages", "3", "--print-key", "--print-headers", brokers)
	got := lines(r.stdout)
	if len(got) != 3 {
		t.Fatalf("records after restart: %q", got)
	}
	for _, want := range []string{"h:v\ta\t1", "h:v\tb\t2", "h:v\tc\t3"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("records after restart %q lack %q", got, want)
		}
	}
	// The group's committed offset survived too: it reads the two others.
	r = ok(t, "", "consume", "kept", "--group", group, "--from-beginning", "--max-messages", "2", brokers)
	if strings.Contains(r.stdout, first+"\n") || len(lines(r.stdout)) != 2 {
		t.Fatalf("group after restart read %q (first run read %q)", r.stdout, first)
	}
	if err := b2.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("broker exit after SIGINT: %v", err)
	}
}

// TestBrokerSIGKILLKeepsAcknowledged: records acknowledged before a SIGKILL
// are there after a restart with the same data dir.
func TestBrokerSIGKILLKeepsAcknowledged(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	b := startBroker(t, "--listen", "127.0.0.1:0", "--data-dir", dir)
	brokers := "--brokers=" + b.bootstrap
	ok(t, "", "topics", "create", "crash", "--partitions", "1", brokers)
	var in strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&in, "record %d\n", i)
	}
	r := ok(t, in.String(), "produce", "crash", brokers)
	if !strings.Contains(r.stderr, "1000 records acknowledged") {
		t.Fatalf("produce: %q", r.stderr)
	}
	b.stop(t, syscall.SIGKILL)

	b2 := startBroker(t, "--listen", b.bootstrap, "--data-dir", dir)
	r = ok(t, "", "consume", "crash", "--from-beginning", "--max-messages", "1000", "--brokers", b2.bootstrap)
	got := lines(r.stdout)
	if len(got) != 1000 || got[0] != "record 0" || got[999] != "record 999" {
		t.Fatalf("after SIGKILL: %d records, first %q", len(got), got[:min(len(got), 1)])
	}
	b2.stop(t, syscall.SIGTERM)
}

// TestBrokerBinary: several brokers on consecutive ports, a busy port fails
// with a clear message, and without a data dir nothing is kept.
func TestBrokerBinary(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "--listen", "127.0.0.1:0", "--brokers", "3")
	addrs := strings.Split(b.bootstrap, ",")
	if len(addrs) != 3 || !strings.Contains(b.stdout.String(), "in memory only") {
		t.Fatalf("3 brokers: %q", b.stdout.String())
	}
	ok(t, "", "topics", "create", "rf3", "--partitions", "3", "--replication-factor", "3", "--brokers", addrs[1])
	r := ok(t, "", "topics", "describe", "rf3", "--brokers", addrs[2])
	if !strings.Contains(r.stdout, "ReplicationFactor: 3") {
		t.Fatalf("describe: %s", r.stdout)
	}

	// The port is taken: a second broker there fails at once, on one line.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kafkiBinary(t), "broker", "--listen", addrs[0]).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "cannot listen on "+addrs[0]+": the address is in use") {
		t.Fatalf("busy port: %v %q", err, out)
	}
	checkOneLineError(t, string(out), "address is in use")

	if err := b.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	// Only the first address was ours to reuse: with --brokers 3 the
	// restart would also need addrs[0]'s next two ports, which a client
	// socket of a parallel test may hold.
	b2 := startBroker(t, "--listen", addrs[0])
	r = ok(t, "", "topics", "list", "--brokers", b2.bootstrap)
	equalLines(t, "no data dir: nothing kept", r.stdout)
	b2.stop(t, syscall.SIGTERM)
}

// TestBrokerInProcess: the broker command in-process, with auto-creation
// and a broker config, stopped by its context.
func TestBrokerInProcess(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"broker", "--listen", "127.0.0.1:0", "--auto-create-topics", "--default-partitions", "2", "--config", "log.retention.ms=600000"}, strings.NewReader(""), &out, &errb)
	}()
	var bootstrap string
	deadline := time.Now().Add(20 * time.Second)
	for bootstrap == "" {
		if i := strings.Index(out.String(), "(bootstrap: "); i >= 0 {
			rest := out.String()[i+len("(bootstrap: "):]
			bootstrap = rest[:strings.Index(rest, ")")]
		} else if time.Now().After(deadline) {
			t.Fatalf("no bootstrap line: %q %q", out.String(), errb.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	// kafki never asks for auto-creation: produce refuses an unknown topic.
	failsWith(t, 1, `topic "auto" does not exist`, "x\n", "produce", "auto", "--brokers", bootstrap)
	// A client that asks for it gets the topic, with --default-partitions.
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	if err := cl.ProduceSync(pctx, &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce with auto-creation: %v", err)
	}
	cl.Close()
	r := ok(t, "", "topics", "describe", "auto", "--brokers", bootstrap)
	if !strings.Contains(r.stdout, "PartitionCount: 2") {
		t.Fatalf("--default-partitions 2: %s", r.stdout)
	}
	ok(t, "", "topics", "create", "two", "--brokers", bootstrap)
	r = ok(t, "", "topics", "describe", "two", "--brokers", bootstrap)
	if !strings.Contains(r.stdout, "PartitionCount: 2") {
		t.Fatalf("--default-partitions 2: %s", r.stdout)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "Broker stopped") {
			t.Fatalf("exit %d: %q %q", code, out.String(), errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("broker did not stop")
	}
}
