package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kafki/kafki/connect"
	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/internal/pgtest"
)

// curl runs curl against the REST API and returns the status code and
// the decoded body.
func curl(t *testing.T, method, url string, body any) (int, any) {
	t.Helper()
	args := []string{"-sS", "-X", method, "-w", "\n%{http_code}", url}
	if body != nil {
		b, _ := json.Marshal(body)
		args = append(args, "-H", "Content-Type: application/json", "--data", string(b))
	}
	out, err := exec.Command("curl", args...).Output()
	if err != nil {
		t.Fatalf("curl %s %s: %v (install curl: make setup)", method, url, err)
	}
	i := bytes.LastIndexByte(out, '\n')
	code, _ := strconv.Atoi(string(out[i+1:]))
	var v any
	if len(bytes.TrimSpace(out[:i])) > 0 {
		if err := json.Unmarshal(out[:i], &v); err != nil {
			t.Fatalf("curl %s %s: body %q: %v", method, url, out[:i], err)
		}
	}
	return code, v
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// taskWorkers returns the state and worker of each task of a connector.
func taskWorkers(t *testing.T, url, name string) (states, workers []string) {
	code, v := curl(t, "GET", url+"/connectors/"+name+"/status", nil)
	if code != 200 {
		return nil, nil
	}
	for _, tk := range v.(map[string]any)["tasks"].([]any) {
		m := tk.(map[string]any)
		states = append(states, fmt.Sprint(m["state"]))
		workers = append(workers, fmt.Sprint(m["worker_id"]))
	}
	return states, workers
}

// TestDistributedFailover runs three distributed workers as processes,
// creates a CDC source and a three-task PostgreSQL sink through the REST
// API (with curl), SIGKILLs the worker running the source task in the
// middle of a stream of changes, and checks that the task moves to
// another worker and the sink table ends equal to the source table. Then
// pause, resume, restart and delete answer as Kafka Connect's do.
func TestDistributedFailover(t *testing.T) {
	pg := pgtest.Start(t)
	pg.CreateDB(t, "src")
	pg.CreateDB(t, "dst")
	pg.Exec(t, "src", `CREATE TABLE items (id int PRIMARY KEY, val text NOT NULL, n bigint NOT NULL)`,
		`INSERT INTO items SELECT g, 'initial-' || g, g FROM generate_series(1, 2000) g`)
	c := kafkatest.New(t, 1)
	dir := t.TempDir()
	prefix := c.Topic("dist")
	group := c.Topic("connect-cluster")
	logPath := filepath.Join(dir, "workers.log")
	var urls []string
	procs := map[string]*exec.Cmd{}
	for i := 0; i < 3; i++ {
		addr := freeAddr(t)
		w := workerConfig(c.Brokers, dir)
		w["listeners"] = "http://" + addr
		w["group.id"] = group
		w["config.storage.topic"] = group + "-configs"
		w["offset.storage.topic"] = group + "-offsets"
		w["status.storage.topic"] = group + "-status"
		w["session.timeout.ms"] = "6000"
		w["assignment.slots"] = "16"
		w["offset.flush.interval.ms"] = "300"
		// The sink tasks' consumers: a dead worker's partitions move
		// after this, not the 45 s default.
		w["consumer.session.timeout.ms"] = "6000"
		procs[addr] = startChild(t, childSpec{Distributed: true, Worker: w}, logPath)
		urls = append(urls, "http://"+addr)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
		if t.Failed() || os.Getenv("KAFKI_TEST_WORKER_LOGS") != "" {
			b, _ := os.ReadFile(logPath)
			t.Logf("worker logs:\n%s", b)
		}
	})
	deadline := time.Now().Add(4 * time.Minute)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, u := range urls {
		u := u
		waitFor("REST at "+u, func() bool {
			out, err := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", u+"/").Output()
			return err == nil && string(out) == "200"
		})
	}
	// All three in the group before any connector exists, so that the
	// tasks start where they stay: a CDC task moved in the middle of its
	// snapshot takes a new one, and rows deleted in between would stay in
	// the sink (as with Debezium). Moves mid-stream are what this test is
	// about.
	adm := c.Admin()
	waitFor("three workers in a stable group", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gs, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return false
		}
		g := gs[group]
		return g.Err == nil && g.State == "Stable" && len(g.Members) == 3
	})

	src := cdcConfig("cdc", pg.Port, "src", prefix)
	src.Config["topic.creation.default.partitions"] = "3"
	sink := sinkConfig("sink", pg.DSN("dst"), prefix+".public.items")
	sink.Config["tasks.max"] = "3"
	if code, v := curl(t, "POST", urls[0]+"/connectors", src); code != 201 || v.(map[string]any)["type"] != "source" {
		t.Fatalf("create source: %d %v", code, v)
	}
	if code, v := curl(t, "POST", urls[1]+"/connectors", sink); code != 201 || len(v.(map[string]any)["tasks"].([]any)) != 3 {
		t.Fatalf("create sink: %d %v", code, v)
	}
	if code, v := curl(t, "POST", urls[2]+"/connectors", sink); code != 409 {
		t.Fatalf("create twice: %d %v", code, v)
	}
	if code, v := curl(t, "GET", urls[2]+"/connectors", nil); code != 200 || !reflect.DeepEqual(v, []any{"cdc", "sink"}) {
		t.Fatalf("list: %d %v", code, v)
	}
	if code, v := curl(t, "GET", urls[2]+"/connectors/nope/status", nil); code != 404 || v.(map[string]any)["error_code"] != float64(404) {
		t.Fatalf("missing connector: %d %v", code, v)
	}
	var cdcWorker string
	statuses := func() string {
		_, v1 := curl(t, "GET", urls[len(urls)-1]+"/connectors/cdc/status", nil)
		_, v2 := curl(t, "GET", urls[len(urls)-1]+"/connectors/sink/status", nil)
		return fmt.Sprintf("cdc %v\nsink %v", v1, v2)
	}
	waitFor("every task running", func() bool {
		s1, w1 := taskWorkers(t, urls[2], "cdc")
		s2, _ := taskWorkers(t, urls[2], "sink")
		if len(s1) == 1 && s1[0] == "RUNNING" && len(s2) == 3 && strings.Count(strings.Join(s2, ","), "RUNNING") == 3 {
			cdcWorker = w1[0]
			return true
		}
		return false
	})
	initial, err := tableRows(t, pg.DSN("src"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor("the snapshot in the sink table", func() bool {
		got, err := tableRows(t, pg.DSN("dst"))
		return err == nil && reflect.DeepEqual(got, initial)
	})
	// Where the source runs now that nothing moves any more.
	s1, w1 := taskWorkers(t, urls[2], "cdc")
	if len(s1) != 1 || s1[0] != "RUNNING" {
		t.Fatalf("cdc status %v on %v", s1, w1)
	}
	cdcWorker = w1[0]

	// A stream of changes; the worker running the source dies in it.
	conn, err := pgx.Connect(context.Background(), pg.DSN("src"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	change := func(i int) {
		var q string
		switch i % 4 {
		case 0, 1:
			q = fmt.Sprintf("INSERT INTO items VALUES (%d, 'v%d', %d)", 10000+i, i, i)
		case 2:
			q = fmt.Sprintf("UPDATE items SET val = 'u%d', n = n + 1 WHERE id = %d", i, 1+i%2000)
		case 3:
			q = fmt.Sprintf("DELETE FROM items WHERE id = %d", 1+(i*7)%2000)
		}
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 1500; i++ {
		change(i)
	}
	procs[cdcWorker].Process.Signal(syscall.SIGKILL)
	procs[cdcWorker].Wait()
	delete(procs, cdcWorker)
	var alive string
	for _, u := range urls {
		if u != "http://"+cdcWorker {
			alive = u
		}
	}
	for i := 1500; i < 3000; i++ {
		change(i)
	}
	waitFor("the source task on another worker", func() bool {
		s, w := taskWorkers(t, alive, "cdc")
		return len(s) == 1 && s[0] == "RUNNING" && w[0] != cdcWorker
	})
	want, err := tableRows(t, pg.DSN("src"))
	if err != nil {
		t.Fatal(err)
	}
	var got []row
	waitFor("sink table equal to source table", func() bool {
		if time.Until(deadline) < time.Second {
			t.Logf("sink %d rows, source %d; statuses:\n%s", len(got), len(want), statuses())
		}
		got, err = tableRows(t, pg.DSN("dst"))
		return err == nil && reflect.DeepEqual(got, want)
	})
	t.Logf("tables equal: %d rows; source task moved from %s", len(want), cdcWorker)

	// Pause, resume, restart, delete.
	if code, _ := curl(t, "PUT", alive+"/connectors/sink/pause", nil); code != 202 {
		t.Fatalf("pause: %d", code)
	}
	waitFor("sink paused", func() bool {
		code, v := curl(t, "GET", alive+"/connectors/sink/status", nil)
		if code != 200 || v.(map[string]any)["connector"].(map[string]any)["state"] != "PAUSED" {
			return false
		}
		s, _ := taskWorkers(t, alive, "sink")
		return strings.Count(strings.Join(s, ","), "PAUSED") == 3
	})
	if code, _ := curl(t, "PUT", alive+"/connectors/sink/resume", nil); code != 202 {
		t.Fatalf("resume: %d", code)
	}
	waitFor("sink resumed", func() bool {
		s, _ := taskWorkers(t, alive, "sink")
		return strings.Count(strings.Join(s, ","), "RUNNING") == 3
	})
	if code, _ := curl(t, "POST", alive+"/connectors/sink/restart", nil); code != 204 {
		t.Fatalf("restart: %d", code)
	}
	if code, _ := curl(t, "DELETE", alive+"/connectors/sink", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := curl(t, "GET", alive+"/connectors/sink", nil); code != 404 {
		t.Fatalf("deleted connector still there: %d", code)
	}
	if code, v := curl(t, "GET", alive+"/connectors", nil); code != 200 || !reflect.DeepEqual(v, []any{"cdc"}) {
		t.Fatalf("list after delete: %d %v", code, v)
	}
	_ = connect.StateRunning
}
