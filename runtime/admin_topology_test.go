package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/twmb/franz-go/pkg/kgo"
)

const chromiumPath = "/usr/bin/chromium"

// chromium runs headless Chromium (Debian's package, installed by make
// setup) on url with a fresh profile and returns its standard output.
func chromium(t *testing.T, url string, args ...string) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s: %v (make setup installs chromium)", chromiumPath, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=3000"}
	cmd := exec.CommandContext(ctx, chromiumPath, append(append(base, args...), url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

var rateRE = regexp.MustCompile(`<span class="rate" data-node="([^"]+)" data-rate="([^"]+)">`)
var totalRE = regexp.MustCompile(`<span class="total" data-node="([^"]+)">(\d+) records</span>`)

// TestTopologyPageInChromium loads the admin server's topology page in
// headless Chromium while records flow: the page draws both
// sub-topologies of a word count (split by its repartition topic) with
// per-node rates, and the numbers move between two loads.
func TestTopologyPageInChromium(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("lines"), c.Topic("counts")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	b := stream.NewBuilder()
	lines := stream.Stream(b, in, stream.ConsumedWith(serde.String(), serde.String()))
	words := stream.FlatMapValues(lines, strings.Fields)
	g := stream.GroupBy(words, func(_, w string) string { return w })
	stream.Count(g, stream.MaterializedAs[string, int64]("counts")).ToStream().To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app := startApp(t, topo, c.Topic("app"), testOpts(c, t.TempDir(), AdminAddr("127.0.0.1:0"))...)
	base := "http://" + app.AdminAddr()

	// Records flow for the whole test.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cl := c.Client()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			var rs []*kgo.Record
			for j := 0; j < 20+i%30; j++ {
				rs = append(rs, &kgo.Record{Topic: in, Value: []byte(fmt.Sprintf("alpha beta w%d", j%7))})
			}
			cl.ProduceSync(context.Background(), rs...)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	code, txt := httpGet(t, base+"/topology.txt")
	if code != 200 || !strings.Contains(txt, "Sub-topology: 0") || !strings.Contains(txt, "Sub-topology: 1") {
		t.Fatalf("/topology.txt: %d\n%s", code, txt)
	}
	if code, dot := httpGet(t, base+"/topology.dot"); code != 200 || !strings.HasPrefix(dot, "digraph") || !strings.Contains(dot, "cluster_1") {
		t.Fatalf("/topology.dot: %d\n%s", code, dot)
	}
	waitFor(t, "records processed", 30*time.Second, func() bool {
		return sumMetric(scrape(t, app.AdminAddr()), "kafki_stream_task_process_total", nil) > 500
	})
	time.Sleep(1500 * time.Millisecond) // two rate samples while records flow

	load := func() (rates map[string]float64, totals map[string]int64, dom string) {
		dom = chromium(t, base+"/topology", "--dump-dom")
		for _, s := range []string{"Sub-topology 0", "Sub-topology 1", "KSTREAM-SOURCE-0000000000", "counts"} {
			if !strings.Contains(dom, s) {
				t.Fatalf("page lacks %q:\n%s", s, dom)
			}
		}
		rates, totals = map[string]float64{}, map[string]int64{}
		for _, m := range rateRE.FindAllStringSubmatch(dom, -1) {
			rates[m[1]], _ = strconv.ParseFloat(m[2], 64)
		}
		for _, m := range totalRE.FindAllStringSubmatch(dom, -1) {
			totals[m[1]], _ = strconv.ParseInt(m[2], 10, 64)
		}
		return rates, totals, dom
	}
	r1, t1, dom := load()
	time.Sleep(1500 * time.Millisecond)
	r2, t2, _ := load()
	if len(r1) < 5 || len(t1) != len(r1) {
		t.Fatalf("rates of %d nodes, totals of %d:\n%s", len(r1), len(t1), dom)
	}
	moved := false
	for node, total := range t2 {
		if r1[node] > 0 && r2[node] > 0 && total > t1[node] {
			moved = true
		}
		if total < t1[node] {
			t.Errorf("node %s: total went back from %d to %d", node, t1[node], total)
		}
	}
	if !moved {
		t.Fatalf("no node with a positive rate in both loads and a growing total:\nfirst %v %v\nsecond %v %v", r1, t1, r2, t2)
	}
	t.Logf("rates: first %v, second %v", r1, r2)

	shot := filepath.Join(t.TempDir(), "topology.png")
	if dir := os.Getenv("KAFKI_SCREENSHOT_DIR"); dir != "" {
		shot = filepath.Join(dir, "topology.png")
	}
	chromium(t, base+"/topology", "--screenshot="+shot, "--window-size=1280,900", "--hide-scrollbars")
	st, err := os.Stat(shot)
	if err != nil || st.Size() < 5000 {
		t.Fatalf("screenshot %s: %v (%v bytes)", shot, err, st)
	}
}
