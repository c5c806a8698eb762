package runtime

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

// captureHandler keeps the messages logged through it.
type captureHandler struct {
	mu   *sync.Mutex
	msgs *[]string
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	*h.msgs = append(*h.msgs, r.Message)
	h.mu.Unlock()
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

// TestRunLifecycle runs an instance with Run: a state listener that reads
// App.State (it deadlocked when listeners ran under the App's lock) sees
// every change, franz-go's logs reach the App's logger, and cancelling
// Run's context stops the instance cleanly.
func TestRunLifecycle(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	produceWords(t, c.Client(), in, []string{"a", "b", "a"})

	var mu sync.Mutex
	var msgs []string
	var seen []string
	var app *App
	listener := func(next, _ State) {
		got := app.State() // must not deadlock
		mu.Lock()
		seen = append(seen, next.String()+"/"+got.String())
		mu.Unlock()
	}
	app, err := New(wordCount(t, in, out, state.InMemory), c.Topic("app"),
		append(testOpts(c, t.TempDir()), Logger(slog.New(captureHandler{&mu, &msgs})), OnStateChange(listener))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx) }()
	expectCounts(t, c, out, map[string]int64{"a": 2, "b": 1}, 30*time.Second)
	waitFor(t, "running", 10*time.Second, func() bool { return app.State() == Running })
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if s := app.State(); s != NotRunning {
		t.Fatalf("state after Run: %v", s)
	}
	mu.Lock()
	defer mu.Unlock()
	var states []string
	for _, s := range seen {
		states = append(states, strings.Split(s, "/")[0])
	}
	joined := strings.Join(states, " ")
	if !strings.HasPrefix(joined, "REBALANCING") || !strings.Contains(joined, "RUNNING") ||
		!strings.HasSuffix(joined, "PENDING_SHUTDOWN NOT_RUNNING") {
		t.Fatalf("listener saw %v", seen)
	}
	// franz-go's own messages, e.g. "beginning to manage the group
	// lifecycle", come through kslog.
	franz := false
	for _, m := range msgs {
		if strings.Contains(m, "group") && !strings.Contains(m, "state change") {
			franz = true
		}
	}
	if !franz {
		t.Fatalf("no franz-go log message in the app's logger; got %d messages, first %q", len(msgs), msgs[:min(5, len(msgs))])
	}
}

// TestStateCleanup checks that the directory of a task not assigned here
// is removed after StateCleanupDelay while assigned tasks keep theirs, and
// that CleanUp wipes the state of a stopped instance and refuses while it
// runs.
func TestStateCleanup(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	dir := t.TempDir()
	appID := c.Topic("app")
	// A task this application does not have (sub-topology 7) left by an
	// earlier version, with an old modification time.
	stale := filepath.Join(dir, appID, "7_0")
	if err := os.MkdirAll(filepath.Join(stale, "counts"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, wordCount(t, in, out, state.RocksDB), appID,
		append(testOpts(c, dir), StateCleanupDelay(300*time.Millisecond))...)
	if err := app.CleanUp(); !errors.Is(err, ErrAppRunning) {
		t.Fatalf("CleanUp while running: %v", err)
	}
	produceWords(t, c.Client(), in, []string{"a", "b", "c", "d"})
	expectCounts(t, c, out, map[string]int64{"a": 1, "b": 1, "c": 1, "d": 1}, 30*time.Second)
	waitFor(t, "the stale task directory removed", 10*time.Second, func() bool {
		_, err := os.Stat(stale)
		return errors.Is(err, os.ErrNotExist)
	})
	// Assigned tasks keep their directories however old they get.
	time.Sleep(time.Second)
	for _, id := range []string{"0_0", "0_1"} {
		if _, err := os.Stat(filepath.Join(dir, appID, id)); err != nil {
			t.Fatalf("assigned task %s lost its directory: %v", id, err)
		}
	}
	if n := app.Metrics().CleanedTaskDirs; n != 1 {
		t.Fatalf("CleanedTaskDirs = %d, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.CleanUp(); err != nil {
		t.Fatalf("CleanUp after close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, appID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state directory still there after CleanUp: %v", err)
	}
}
