package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// joinLike reads two topics in one sub-topology, as a join does, so that
// they must be co-partitioned.
func joinLike(t *testing.T, left, right, out string) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "left", serde.String(), serde.String(), left)
	topology.AddSource(b, "right", serde.String(), serde.String(), right)
	topology.AddProcessor(b, "count", func() topology.Processor[string, string, string, string] {
		return &counter{name: "counts"}
	}, "left", "right")
	b.AddStateStore(state.Spec{Name: "counts", Kind: state.KindKeyValue, Engine: state.InMemory}, "count")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), "count")
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return topo
}

func TestStartErrors(t *testing.T) {
	c := kafkatest.New(t, 1)
	left, right, out := c.Topic("left"), c.Topic("right"), c.Topic("out")
	missing := c.Topic("missing")
	c.CreateTopic(left, 4, nil)
	c.CreateTopic(right, 2, nil)
	c.CreateTopic(out, 1, nil)

	start := func(topo *topology.Topology) (*App, error) {
		app, err := New(topo, c.Topic("app"), testOpts(c, t.TempDir())...)
		if err != nil {
			t.Fatalf("new: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return app, app.Start(ctx)
	}

	t.Run("missing source topic", func(t *testing.T) {
		app, err := start(wordCount(t, missing, out, state.InMemory))
		if !errors.Is(err, ErrMissingSourceTopics) || !strings.Contains(err.Error(), missing) {
			t.Fatalf("got %v, want ErrMissingSourceTopics naming %s", err, missing)
		}
		if app.State() != Error || !errors.Is(app.Err(), ErrMissingSourceTopics) {
			t.Fatalf("state %v, err %v", app.State(), app.Err())
		}
		<-app.Done()
		if err := app.Close(context.Background()); !errors.Is(err, ErrMissingSourceTopics) {
			t.Fatalf("close after a failed start: %v", err)
		}
	})

	t.Run("co-partitioning", func(t *testing.T) {
		_, err := start(joinLike(t, left, right, out))
		if !errors.Is(err, ErrCoPartitioning) {
			t.Fatalf("got %v, want ErrCoPartitioning", err)
		}
		for _, want := range []string{left + " (4)", right + " (2)"} {
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not name %q", err, want)
			}
		}
	})

	t.Run("unknown processing guarantee refused", func(t *testing.T) {
		if _, err := New(wordCount(t, left, out, state.InMemory), "x", Guarantee(ProcessingGuarantee(7))); err == nil {
			t.Fatal("New accepted processing guarantee 7")
		}
	})

	t.Run("changelog topic created compacted with a partition per task", func(t *testing.T) {
		appID := c.Topic("cl")
		app, err := New(wordCount(t, left, out, state.InMemory), appID, testOpts(c, t.TempDir())...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := app.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer app.Close(ctx)
		name := appID + "-counts-changelog"
		details, err := c.Admin().ListTopics(ctx, name)
		if err != nil || len(details[name].Partitions) != 4 {
			t.Fatalf("changelog %s: %v %+v", name, err, details[name])
		}
		cfgs, err := c.Admin().DescribeTopicConfigs(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := cfgs.On(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, cfg := range rc.Configs {
			if cfg.Key == "cleanup.policy" && cfg.Value != nil && *cfg.Value == "compact" {
				found = true
			}
		}
		if !found {
			t.Fatalf("changelog %s is not compacted: %+v", name, rc.Configs)
		}
	})
}
