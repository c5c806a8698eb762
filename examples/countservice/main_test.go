package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestCountService runs the example as `go run` does (embedded broker,
// three instances) and asks every instance's service for every word: each
// answers the word's count, from whichever instance holds it, and between
// them the instances hold every word.
func TestCountService(t *testing.T) {
	want := map[string]int64{}
	for _, l := range text {
		for _, w := range splitWords(l) {
			want[w]++
		}
	}
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.appID, cfg.stateDir = "countservice-test", t.TempDir()
	hosts := map[string]bool{}
	cfg.ready = func(ctx context.Context, urls []string) error {
		if len(urls) != 3 {
			return fmt.Errorf("%d instances", len(urls))
		}
		for _, u := range urls {
			for word, n := range want {
				deadline := time.Now().Add(60 * time.Second)
				for {
					got, host, code, err := getCount(u, word)
					if err == nil && code == 200 && got == n {
						hosts[host] = true
						break
					}
					if err == nil && code != 200 && code != 503 && code != 404 {
						return fmt.Errorf("%s/count/%s: status %d", u, word, code)
					}
					if err == nil && code == 200 && got != n {
						return fmt.Errorf("%s/count/%s = %d, want %d", u, word, got, n)
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("%s/count/%s: no answer %d after a minute (last: %d %d %v)", u, word, n, code, got, err)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := run(ctx, cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	if len(hosts) < 2 {
		t.Fatalf("the words were held by %d instance(s), want them spread: %v", len(hosts), hosts)
	}
}

func getCount(base, word string) (int64, string, int, error) {
	resp, err := http.Get(base + "/count/" + word)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	var cr countResponse
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&cr); err != nil {
			return 0, "", resp.StatusCode, err
		}
	}
	return cr.Count, cr.Host, resp.StatusCode, nil
}
