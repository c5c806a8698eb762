package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary serve as the child the parent re-executes.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "--child" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmallRun runs a few scenarios on tiny inputs end to end: inputs
// prepared, children spawned, results parsed, BENCHMARKS.md written.
func TestSmallRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "BENCH.md")
	o, err := parseOptions([]string{"--records", "3000", "--restore-keys", "2000", "--partitions", "2",
		"--window-records", "300",
		"--only", "raw-pipe,stateless,wordcount-memory,wordcount-eos,restore,stream-table-join,hopping-window,hopping-window-dense", "--out", out}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := runParent(context.Background(), o, &stdout); err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| raw franz-go consume→produce pipe | ",
		"3000 lines in",
		"| word count, in-memory store + changelog + cache | ",
		"2000 changelog records in",
		"| stream-table join | ",
		"3000 output records for 3000 lines",
		"| hopping-window count with suppression | ",
		"| hopping-window count with suppression, on the word-count lines in one partition (1 ms apart) | ",
		"| word count, exactly-once v2 | ", // measured or "not available"
		"- Machine: ",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("BENCHMARKS.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(string(md), "failed") {
		t.Errorf("a scenario failed:\n%s", md)
	}
}

func TestBadOptions(t *testing.T) {
	for _, args := range [][]string{
		{"--records", "0"},
		{"--only", "nope"},
		{"--partitions", "0"},
		{"stray"},
	} {
		if _, err := parseOptions(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseOptions(%v) accepted bad input", args)
		}
	}
}
