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

// TestTopology runs the topology in the test driver: sessions close when
// stream time passes their end plus gap and grace, a late click merges two
// sessions into one, and the guest (no row in the users table) is not
// reported.
func TestTopology(t *testing.T) {
	cfg := defaultConfig()
	topo, err := buildTopology(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := topologytest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	users := topologytest.CreateInputTopic(d, cfg.users, serde.String(), serde.JSON[User]())
	clicks := topologytest.CreateInputTopic(d, cfg.clicks, serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, cfg.output, serde.String(), serde.JSON[Report]())
	s := func(sec int64) time.Time { return time.Unix(sec, 0) }
	steps := []error{
		users.Pipe("u1", User{"Ann", "pro"}, s(0)),
		users.Pipe("u2", User{"Bob", "free"}, s(0)),
		clicks.Pipe("u1", "/", s(0)),
		clicks.Pipe("u2", "/", s(30)),
		clicks.Pipe(guest, "/", s(40)),
		clicks.Pipe("u1", "/item", s(60)),
		clicks.Pipe("u1", "/cart", s(200)),
		clicks.Pipe("u2", "/help", s(380)),   // more than the gap after 30 s: a second session
		clicks.Pipe("u2", "/search", s(200)), // late, within both gaps: merges them
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !out.IsEmpty() {
		t.Fatalf("a session was reported before it closed")
	}
	// Stream time 900 s closes every session ending before 900-300-60 s.
	if err := clicks.Pipe("u1", "/", s(900)); err != nil {
		t.Fatal(err)
	}
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s=%s/%s %s-%s %d@%d", r.Key, r.Value.Name, r.Value.Plan,
			r.Value.Start.Format(time.TimeOnly), r.Value.End.Format(time.TimeOnly), r.Value.Clicks, r.Timestamp.UnixMilli()))
	}
	want := []string{"u1=Ann/pro 00:00:00-00:03:20 3@200000", "u2=Bob/free 00:00:30-00:06:20 3@380000"}
	if !slices.Equal(got, want) {
		t.Fatalf("reports:\n got %q\nwant %q", got, want)
	}
}

// expected sessionises the generated clicks directly: a click more than
// the gap after the previous one starts a new session.
func expected(cfg config) []string {
	users, clicks := generate(cfg)
	type open struct {
		start, end time.Time
		n          int64
	}
	var want []string
	cur := map[string]*open{}
	flush := func(user string, s *open) {
		if u, ok := users[user]; ok {
			want = append(want, fmt.Sprintf("%s %s %s %s %s %d", user, u.Name, u.Plan,
				s.start.Format(time.TimeOnly), s.end.Format(time.TimeOnly), s.n))
		}
	}
	for _, c := range clicks {
		if s := cur[c.user]; s != nil && c.at.Sub(s.end) <= inactivityGap {
			s.end, s.n = c.at, s.n+1
			continue
		} else if s != nil {
			flush(c.user, s)
		}
		cur[c.user] = &open{c.at, c.at, 1}
	}
	for u, s := range cur {
		flush(u, s)
	}
	slices.Sort(want)
	return want
}

// TestEndToEnd runs the example on an embedded broker and checks the
// printed sessions against a direct computation.
func TestEndToEnd(t *testing.T) {
	cfg := defaultConfig()
	cfg.numUsers, cfg.timeout = 5, time.Minute
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 6 && strings.HasPrefix(f[0], "u") && f[0] != "user" {
			got = append(got, strings.Join(f, " "))
		}
	}
	slices.Sort(got)
	want := expected(cfg)
	if len(want) < 10 {
		t.Fatalf("only %d sessions generated", len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sessions:\n got %q\nwant %q\noutput:\n%s", got, want, out.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--users", "0"}, {"--partitions", "0"}, {"x"}} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%v) accepted bad input", args)
		}
	}
}
