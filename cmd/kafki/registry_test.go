package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
)

// startRegistry runs `kafki registry` in-process until the returned stop
// function is called, and returns its base URL.
func startRegistry(t *testing.T, brokers []string, topic string) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		var errb syncBuffer
		done <- run(ctx, []string{"registry", "--brokers", strings.Join(brokers, ","), "--listen", "127.0.0.1:0",
			"--topic", topic, "--log-level", "error"}, strings.NewReader(""), out, &errb)
	}()
	re := regexp.MustCompile(`listening on (http://[^ ]+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], func() {
				cancel()
				if code := <-done; code != 0 {
					t.Errorf("kafki registry exited %d", code)
				}
			}
		}
		select {
		case code := <-done:
			t.Fatalf("kafki registry exited %d before listening; stdout: %s", code, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("kafki registry did not start listening; stdout: %s", out.String())
	return "", nil
}

func httpDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRegistryCommandKeepsSchemasAcrossRestart(t *testing.T) {
	c := kafkatest.New(t, 1)
	topic := c.Topic("_schemas")
	url, stop := startRegistry(t, c.Brokers, topic)

	code, body := httpDo(t, "POST", url+"/subjects/test-value/versions", `{"schema": "{\"type\": \"string\"}"}`)
	if code != 200 || !regexp.MustCompile(`^\{"id":\d+\}$`).MatchString(body) {
		t.Fatalf("register: %d %s", code, body)
	}
	id := body
	// An incompatible change under the default BACKWARD level is refused
	// the way the reference registry refuses it.
	code, body = httpDo(t, "POST", url+"/subjects/test-value/versions", `{"schema": "{\"type\": \"int\"}"}`)
	if code != 409 || !strings.Contains(body, `"error_code":409`) {
		t.Fatalf("incompatible register: %d %s", code, body)
	}
	stop()

	url, stop = startRegistry(t, c.Brokers, topic)
	defer stop()
	code, body = httpDo(t, "GET", url+"/subjects", "")
	if code != 200 || body != `["test-value"]` {
		t.Fatalf("subjects after restart: %d %s", code, body)
	}
	code, body = httpDo(t, "POST", url+"/subjects/test-value", `{"schema": "{\"type\": \"string\"}"}`)
	if code != 200 || !strings.Contains(body, strings.TrimSuffix(strings.TrimPrefix(id, "{"), "}")) {
		t.Fatalf("lookup after restart: %d %s (registered as %s)", code, body, id)
	}
}

func TestRegistryCommandErrors(t *testing.T) {
	failsWith(t, 2, `bad --compatibility "SIDEWAYS"`, "", "registry", "--compatibility", "SIDEWAYS")
	failsWith(t, 2, "bad --basic-auth", "", "registry", "--brokers", "127.0.0.1:1", "--connect-timeout", "1s", "--basic-auth", "nopassword", "--listen", "127.0.0.1:0")
	failsWith(t, 1, "127.0.0.1:1", "", "registry", "--brokers", "127.0.0.1:1", "--connect-timeout", "1s")
}
