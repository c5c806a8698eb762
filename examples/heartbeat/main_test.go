package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology/topologytest"
)

// TestTopology runs the processor in the test driver, moving its wall
// clock by hand: a device is reported offline by the first punctuation
// after more than the silence has passed since its latest heartbeat, not
// before, and comes online again with its next heartbeat. As in Kafka
// Streams, one advance of the clock fires a punctuator once, at the new
// time, however many intervals it skips.
func TestTopology(t *testing.T) {
	cfg := defaultConfig()
	cfg.silence = 2 * time.Second // punctuation every 500 ms
	topo, err := buildTopology(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	d, err := topologytest.New(topo, topologytest.StartTime(start))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := topologytest.CreateInputTopic(d, cfg.heartbeats, serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, cfg.alerts, serde.String(), serde.JSON[Alert]())
	ms := func(d time.Duration) time.Time { return start.Add(d) }
	var got []string
	read := func() {
		t.Helper()
		recs, err := out.ReadRecords()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%s online=%v last=%s @%s", r.Key, r.Value.Online,
				r.Value.LastSeen.Format("05.000"), r.Timestamp.UTC().Format("05.000")))
		}
	}
	pipe := func(device string, at time.Duration) {
		t.Helper()
		if err := in.Pipe(device, "ok", ms(at)); err != nil {
			t.Fatal(err)
		}
	}
	advance := func(by time.Duration) {
		t.Helper()
		if err := d.AdvanceWallClockTime(by); err != nil {
			t.Fatal(err)
		}
	}
	pipe("a", 0)
	pipe("b", 100*time.Millisecond)
	pipe("a", 50*time.Millisecond) // older than a's latest: ignored
	pipe("a", time.Second)
	advance(2500 * time.Millisecond) // punctuates at 2.5 s: b silent 2.4 s, a 1.5 s
	pipe("a", 2800*time.Millisecond)
	advance(500 * time.Millisecond) // 3.0 s: a silent 0.2 s
	pipe("b", 3100*time.Millisecond)
	advance(1500 * time.Millisecond) // 4.5 s: a silent 1.7 s
	advance(time.Second)             // 5.5 s: a silent 2.7 s, b 2.4 s
	read()
	want := []string{
		"a online=true last=00.000 @00.000",
		"b online=true last=00.100 @00.100",
		"b online=false last=00.100 @02.500",
		"b online=true last=03.100 @03.100",
		"a online=false last=02.800 @05.500",
		"b online=false last=03.100 @05.500",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("alerts:\n got %q\nwant %q", got, want)
	}
	if n := len(d.ReadChangelog(lastSeenStore)); n == 0 {
		t.Fatalf("the store %s wrote no changelog", lastSeenStore)
	}
}

// TestEndToEnd runs the example on an embedded broker with the real clock.
// How often a device flaps depends on the machine's speed, so it checks
// what does not: each device's alerts alternate, starting online, and the
// last says offline with the device's last heartbeat (run returns only
// then).
func TestEndToEnd(t *testing.T) {
	cfg := defaultConfig()
	cfg.devices, cfg.period, cfg.silence, cfg.timeout = 2, 100*time.Millisecond, 400*time.Millisecond, time.Minute
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	alerts := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 6 && strings.HasPrefix(f[1], "device-") {
			alerts[f[1]] = append(alerts[f[1]], f[2])
		}
	}
	for i := range cfg.devices {
		as := alerts[deviceID(i)]
		for j, a := range as {
			if want := []string{"online", "offline"}[j%2]; a != want {
				t.Fatalf("%s: alert %d is %s, want %s (%v)\n%s", deviceID(i), j, a, want, as, out.String())
			}
		}
		if len(as) == 0 || len(as)%2 != 0 {
			t.Fatalf("%s: alerts %v do not end offline\n%s", deviceID(i), as, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--devices", "0"}, {"--partitions", "0"}, {"--silence", "1ms"}, {"x"}} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%v) accepted bad input", args)
		}
	}
}
