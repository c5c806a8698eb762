package runtime

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// httpGet returns the status and body of GET url.
func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// scrape parses the /metrics page of an admin server.
func scrape(t testing.TB, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := httpGet(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sumMetric adds up the samples of a family whose labels include match.
func sumMetric(fams map[string]*dto.MetricFamily, name string, match map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	total := 0.0
next:
	for _, m := range f.Metric {
		for k, v := range match {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		}
	}
	return total
}

func TestAdminServerProbesAndMetrics(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 3, nil)
	c.CreateTopic(out, 3, nil)
	var words []string
	for i := 0; i < 900; i++ {
		words = append(words, fmt.Sprintf("w%02d", i%40))
	}
	produceWords(t, c.Client(), in, words)
	app := startApp(t, wordCount(t, in, out, state.InMemory), c.Topic("app"),
		testOpts(c, t.TempDir(), AdminAddr("127.0.0.1:0"))...)
	addr := app.AdminAddr()
	if addr == "" {
		t.Fatal("no admin address")
	}
	if code, body := httpGet(t, "http://"+addr+"/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	waitFor(t, "900 records processed", 30*time.Second, func() bool {
		return sumMetric(scrape(t, addr), "kafki_stream_task_process_total", nil) == 900
	})
	waitFor(t, "ready", 10*time.Second, func() bool {
		code, _ := httpGet(t, "http://"+addr+"/readyz")
		return code == 200
	})
	fams := scrape(t, addr)
	// Every record passes the source, the counter and the sink once.
	for _, node := range []string{"source", "count", "sink"} {
		if got := sumMetric(fams, "kafki_stream_processor_node_process_total", map[string]string{"processor_node_id": node}); got != 900 {
			t.Errorf("node %s processed %v, want 900", node, got)
		}
	}
	if got := sumMetric(fams, "kafki_stream_state", map[string]string{"state": "RUNNING"}); got != 1 {
		t.Errorf("kafki_stream_state{state=RUNNING} = %v", got)
	}
	waitFor(t, "a commit and no lag", 10*time.Second, func() bool {
		f := scrape(t, addr)
		return sumMetric(f, "kafki_stream_thread_commit_total", nil) > 0 &&
			sumMetric(f, "kafki_consumer_records_lag", nil) == 0 &&
			len(f["kafki_consumer_records_lag"].GetMetric()) == 3
	})
	// franz-go's own metrics, through kprom.
	if got := sumMetric(fams, "kafki_client_fetch_bytes_total", nil); got <= 0 {
		t.Errorf("kafki_client_fetch_bytes_total = %v, want > 0", got)
	}
	for _, name := range []string{"kafki_stream_task_process_latency_avg_seconds", "kafki_stream_thread_commit_latency_avg_seconds",
		"kafki_stream_task_dropped_records_total"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	// The server is gone with the instance.
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("admin server still answers after Close")
	}
}

func TestAdminServerOffByDefault(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 1, nil)
	c.CreateTopic(out, 1, nil)
	app := startApp(t, wordCount(t, in, out, state.InMemory), c.Topic("app"), testOpts(c, t.TempDir())...)
	if a := app.AdminAddr(); a != "" {
		t.Fatalf("admin server on %s without AdminAddr", a)
	}
}
