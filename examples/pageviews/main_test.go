package main

import (
	"bufio"
	"bytes"
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// expected computes the final counts directly from the generated views:
// every window holding each view, starts on multiples of the advance.
func expected(cfg config) []result {
	counts := map[result]int64{}
	for _, v := range generate(cfg) {
		counts[result{size: tumbleSize, start: v.ts - v.ts%tumbleSize.Milliseconds(), page: v.page}]++
		last := v.ts - v.ts%hopAdvance.Milliseconds()
		for s := last; s > v.ts-hopSize.Milliseconds(); s -= hopAdvance.Milliseconds() {
			counts[result{size: hopSize, start: s, page: v.page}]++
		}
	}
	var out []result
	for r, n := range counts {
		r.count = n
		out = append(out, r)
	}
	sortResults(out)
	return out
}

// parseResults reads the live lines ("1m  01-01 12:03  /home  42").
func parseResults(t *testing.T, out string, cfg config) []result {
	t.Helper()
	year := time.UnixMilli(cfg.baseTime).UTC().Year()
	var rs []result
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || (f[0] != "1m" && f[0] != "5m") {
			continue
		}
		at, err := time.Parse("2006 01-02 15:04", strconv.Itoa(year)+" "+f[1]+" "+f[2])
		n, err2 := strconv.ParseInt(f[4], 10, 64)
		if err != nil || err2 != nil {
			t.Fatalf("bad result line %q", sc.Text())
		}
		size := tumbleSize
		if f[0] == "5m" {
			size = hopSize
		}
		rs = append(rs, result{size: size, start: at.UnixMilli(), page: f[3], count: n})
	}
	sortResults(rs)
	return rs
}

// TestFinalCountsEndToEnd runs the example on an embedded broker and
// checks that every (page, window) is printed exactly once, with its
// final count.
func TestFinalCountsEndToEnd(t *testing.T) {
	cfg := defaultConfig()
	cfg.minutes, cfg.perMinute, cfg.timeout = 7, 40, time.Minute
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got, want := parseResults(t, out.String(), cfg), expected(cfg)
	if len(want) < 50 {
		t.Fatalf("only %d expected results", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%d results printed, want %d:\n got %v\nwant %v\noutput:\n%s", len(got), len(want), got, want, out.String())
	}
	if !strings.Contains(out.String(), "views per page per minute") {
		t.Fatalf("no summary table:\n%s", out.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--minutes", "0"}, {"--partitions", "0"}, {"x"}} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%v) accepted bad input", args)
		}
	}
}
