package runtime

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

const prometheusPath = "/usr/bin/prometheus"

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPrometheus runs Debian's Prometheus in a temporary directory on a
// free loopback port, scraping target every second, and returns its
// address. The test's cleanup stops it.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	if _, err := os.Stat(prometheusPath); err != nil {
		t.Fatalf("%s: %v (make setup installs prometheus)", prometheusPath, err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: kafki\n    static_configs:\n      - targets: ['%s']\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(prometheusPath, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	waitFor(t, "prometheus ready", 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		code, _ := httpGet(t, "http://"+addr+"/-/ready")
		return code == 200
	})
	return addr
}

// promQuery runs an instant query and returns the value of its single
// sample, or false when there is none.
func promQuery(t *testing.T, addr, q string) (float64, bool) {
	t.Helper()
	code, body := httpGet(t, "http://"+addr+"/api/v1/query?query="+url.QueryEscape(q))
	if code != 200 {
		t.Fatalf("query %s: %d %s", q, code, body)
	}
	var resp struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("query %s: %v: %s", q, err, body)
	}
	if resp.Status != "success" || len(resp.Data.Result) != 1 {
		return 0, false
	}
	s, _ := resp.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// TestPrometheusScrapesProcessRate has a real Prometheus scrape an
// instance while records arrive in waves, then reads back through
// Prometheus' HTTP API that the process-total series ends at the records
// sent and that its rate was positive while they flowed.
func TestPrometheusScrapesProcessRate(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	app := startApp(t, wordCount(t, in, out, state.InMemory), c.Topic("app"),
		testOpts(c, t.TempDir(), AdminAddr("127.0.0.1:0"))...)
	prom := startPrometheus(t, app.AdminAddr())
	waitFor(t, "prometheus scrapes the app", 30*time.Second, func() bool {
		v, ok := promQuery(t, prom, `up{job="kafki"}`)
		return ok && v == 1
	})
	const waves, perWave = 4, 750
	prod := c.Client()
	for w := 0; w < waves; w++ {
		words := make([]string, perWave)
		for i := range words {
			words[i] = fmt.Sprintf("w%d", i%50)
		}
		produceWords(t, prod, in, words)
		time.Sleep(1500 * time.Millisecond)
	}
	const sent = waves * perWave
	waitFor(t, "process_total in prometheus equals records sent", 30*time.Second, func() bool {
		v, ok := promQuery(t, prom, `sum(kafki_stream_task_process_total)`)
		return ok && v == sent
	})
	// Per node too: the counter node saw every record.
	if v, ok := promQuery(t, prom, `sum(kafki_stream_processor_node_process_total{processor_node_id="count"})`); !ok || v != sent {
		t.Fatalf("node process_total = %v (%v), want %d", v, ok, sent)
	}
	maxRate, ok := promQuery(t, prom, `max_over_time(sum(rate(kafki_stream_task_process_total[3s]))[1m:1s])`)
	if !ok || maxRate <= 0 {
		t.Fatalf("max process rate over the last minute = %v (%v), want > 0", maxRate, ok)
	}
	// franz-go's client metrics arrive through the same scrape.
	if v, ok := promQuery(t, prom, `sum(kafki_client_fetch_bytes_total)`); !ok || v <= 0 {
		t.Fatalf("kafki_client_fetch_bytes_total = %v (%v)", v, ok)
	}
	t.Logf("sent %d, prometheus process_total %d, max rate %.0f records/s", sent, sent, maxRate)
}
