package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde/registry"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer starts a registry server on topic and serves it over HTTP.
func startServer(t *testing.T, c *kafkatest.Cluster, topic string, opts ...registry.ServerOpt) (*registry.Server, string) {
	t.Helper()
	srv, stop := startServerStoppable(t, c, topic, opts...)
	t.Cleanup(stop)
	return srv, srvURL(srv)
}

var urls sync.Map // *Server -> url

func srvURL(s *registry.Server) string { u, _ := urls.Load(s); return u.(string) }

func startServerStoppable(t *testing.T, c *kafkatest.Cluster, topic string, opts ...registry.ServerOpt) (*registry.Server, func()) {
	t.Helper()
	srv, err := registry.NewServer(c.Brokers, append([]registry.ServerOpt{registry.Topic(topic), registry.Logger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	urls.Store(srv, ts.URL)
	var once sync.Once
	return srv, func() { once.Do(func() { ts.Close(); srv.Close() }) }
}

func srClient(t *testing.T, url string, opts ...sr.ClientOpt) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(url)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

const (
	userV1 = `{"type":"record","name":"User","namespace":"test","fields":[{"name":"name","type":"string"}]}`
	// V2 adds a field with a default: backward and forward compatible.
	userV2 = `{"type":"record","name":"User","namespace":"test","fields":[{"name":"name","type":"string"},{"name":"age","type":"int","default":0}]}`
	// V3 adds a field without a default: not backward compatible.
	userV3 = `{"type":"record","name":"User","namespace":"test","fields":[{"name":"name","type":"string"},{"name":"email","type":"string"}]}`
	// V4 removes name (a field without default): not forward compatible.
	userV4 = `{"type":"record","name":"User","namespace":"test","fields":[{"name":"age","type":"int","default":0}]}`
)

func respCode(err error) (status, code int) {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode, re.ErrorCode
	}
	return 0, 0
}

// TestSRClient drives the server with franz-go's pkg/sr client.
func TestSRClient(t *testing.T) {
	c := kafkatest.New(t, 1)
	_, url := startServer(t, c, c.Topic("_schemas"))
	cl := srClient(t, url)
	ctx := ctx(t)

	ss, err := cl.CreateSchema(ctx, "users-value", sr.Schema{Schema: userV1})
	if err != nil {
		t.Fatal(err)
	}
	if ss.ID <= 0 || ss.Version != 1 || ss.Subject != "users-value" {
		t.Fatalf("created %+v", ss)
	}
	// Registering the same schema again (even formatted differently)
	// returns the same id and no new version.
	again, err := cl.RegisterSchema(ctx, "users-value", sr.Schema{Schema: strings.ReplaceAll(userV1, ",", " , ")}, -1, -1)
	if err != nil || again != ss.ID {
		t.Fatalf("re-register: %d %v", again, err)
	}
	// The same schema under another subject keeps its id.
	other, err := cl.RegisterSchema(ctx, "other-value", sr.Schema{Schema: userV1}, -1, -1)
	if err != nil || other != ss.ID {
		t.Fatalf("other subject: %d %v", other, err)
	}

	got, err := cl.SchemaByID(ctx, ss.ID)
	if err != nil || got.Schema != userV1 {
		t.Fatalf("by id: %+v %v", got, err)
	}
	text, err := cl.SchemaTextByID(ctx, ss.ID)
	if err != nil || text != userV1 {
		t.Fatalf("text by id: %q %v", text, err)
	}
	look, err := cl.LookupSchema(ctx, "users-value", sr.Schema{Schema: userV1})
	if err != nil || look.ID != ss.ID || look.Version != 1 {
		t.Fatalf("lookup: %+v %v", look, err)
	}
	if _, err := cl.LookupSchema(ctx, "users-value", sr.Schema{Schema: userV2}); err == nil {
		t.Fatal("lookup of unregistered schema succeeded")
	} else if st, code := respCode(err); st != 404 || code != 40403 {
		t.Fatalf("lookup unregistered: %d %d %v", st, code, err)
	}
	if _, err := cl.LookupSchema(ctx, "nope", sr.Schema{Schema: userV1}); err == nil {
		t.Fatal("lookup in unknown subject succeeded")
	} else if _, code := respCode(err); code != 40401 {
		t.Fatalf("lookup unknown subject: %v", err)
	}

	// Evolve.
	v2, err := cl.CreateSchema(ctx, "users-value", sr.Schema{Schema: userV2})
	if err != nil || v2.Version != 2 || v2.ID == ss.ID {
		t.Fatalf("v2: %+v %v", v2, err)
	}
	latest, err := cl.SchemaByVersion(ctx, "users-value", -1)
	if err != nil || latest.Version != 2 || latest.ID != v2.ID {
		t.Fatalf("latest: %+v %v", latest, err)
	}
	vs, err := cl.SubjectVersions(ctx, "users-value")
	if err != nil || fmt.Sprint(vs) != "[1 2]" {
		t.Fatalf("versions: %v %v", vs, err)
	}
	subjects, err := cl.Subjects(ctx)
	if err != nil || fmt.Sprint(subjects) != "[other-value users-value]" {
		t.Fatalf("subjects: %v %v", subjects, err)
	}

	// Reject an incompatible schema (default BACKWARD).
	_, err = cl.RegisterSchema(ctx, "users-value", sr.Schema{Schema: userV3}, -1, -1)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 409 || re.ErrorCode != 409 ||
		!strings.HasPrefix(re.Message, `Schema being registered is incompatible with an earlier schema for subject "users-value"`) ||
		!strings.Contains(re.Message, "email") {
		t.Fatalf("incompatible: %v", err)
	}
	if se := re.SchemaError(); se != sr.ErrIncompatibleSchema {
		t.Fatalf("schema error = %v", se)
	}
	chk, err := cl.CheckCompatibility(ctx, "users-value", -1, sr.Schema{Schema: userV3})
	if err != nil || chk.Is {
		t.Fatalf("check compat v3: %+v %v", chk, err)
	}
	chk, err = cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), "users-value", -1, sr.Schema{Schema: userV4})
	if err != nil || !chk.Is {
		t.Fatalf("check compat v4 (backward ok): %+v %v", chk, err)
	}

	// Set compatibility: per subject and global.
	res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, "users-value")
	if res[0].Err != nil || res[0].Level != sr.CompatNone {
		t.Fatalf("set compat: %+v", res[0])
	}
	got3, err := cl.CreateSchema(ctx, "users-value", sr.Schema{Schema: userV3})
	if err != nil || got3.Version != 3 {
		t.Fatalf("v3 under NONE: %+v %v", got3, err)
	}
	comp := cl.Compatibility(ctx, "users-value")
	if comp[0].Err != nil || comp[0].Level != sr.CompatNone {
		t.Fatalf("get compat: %+v", comp[0])
	}
	comp = cl.Compatibility(ctx)
	if comp[0].Err != nil || comp[0].Level != sr.CompatBackward {
		t.Fatalf("global compat: %+v", comp[0])
	}
	if r := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if comp = cl.Compatibility(ctx); comp[0].Level != sr.CompatFull {
		t.Fatalf("global compat after set: %+v", comp[0])
	}
	if r := cl.ResetCompatibility(ctx, "users-value"); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if comp = cl.Compatibility(ctx, "users-value"); comp[0].Err == nil {
		t.Fatal("subject compat still set after reset")
	} else if _, code := respCode(comp[0].Err); code != 40408 {
		t.Fatalf("reset compat: %v", comp[0].Err)
	}

	// Unknown ids and versions.
	if _, err := cl.SchemaByID(ctx, 999999); err == nil {
		t.Fatal("unknown id found")
	} else if st, code := respCode(err); st != 404 || code != 40403 {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := cl.SchemaByVersion(ctx, "users-value", 42); err == nil {
		t.Fatal("unknown version found")
	} else if _, code := respCode(err); code != 40402 {
		t.Fatalf("unknown version: %v", err)
	}
	// Invalid schema.
	if _, err := cl.RegisterSchema(ctx, "bad", sr.Schema{Schema: `{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}`}, -1, -1); err == nil {
		t.Fatal("invalid schema registered")
	} else if st, code := respCode(err); st != 422 || code != 42201 {
		t.Fatalf("invalid schema: %v", err)
	}

	// Usages by id.
	usages, err := cl.SchemaUsagesByID(ctx, ss.ID)
	if err != nil || len(usages) != 2 {
		t.Fatalf("usages: %+v %v", usages, err)
	}

	// Deletes: soft, then hard.
	if err := cl.DeleteSchema(ctx, "users-value", 3, sr.HardDelete); err == nil {
		t.Fatal("hard delete without soft delete succeeded")
	} else if _, code := respCode(err); code != 40407 {
		t.Fatalf("hard before soft: %v", err)
	}
	if err := cl.DeleteSchema(ctx, "users-value", 3, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if vs, _ := cl.SubjectVersions(ctx, "users-value"); fmt.Sprint(vs) != "[1 2]" {
		t.Fatalf("versions after soft delete: %v", vs)
	}
	if vs, _ := cl.SubjectVersions(sr.WithParams(ctx, sr.ShowDeleted), "users-value"); fmt.Sprint(vs) != "[1 2 3]" {
		t.Fatalf("versions with deleted: %v", vs)
	}
	if err := cl.DeleteSchema(ctx, "users-value", 3, sr.HardDelete); err != nil {
		t.Fatal(err)
	}
	if vs, _ := cl.SubjectVersions(sr.WithParams(ctx, sr.ShowDeleted), "users-value"); fmt.Sprint(vs) != "[1 2]" {
		t.Fatalf("versions after hard delete: %v", vs)
	}
	deleted, err := cl.DeleteSubject(ctx, "other-value", sr.SoftDelete)
	if err != nil || fmt.Sprint(deleted) != "[1]" {
		t.Fatalf("soft delete subject: %v %v", deleted, err)
	}
	if subjects, _ := cl.Subjects(ctx); fmt.Sprint(subjects) != "[users-value]" {
		t.Fatalf("subjects after delete: %v", subjects)
	}
	if _, err := cl.DeleteSubject(ctx, "other-value", sr.SoftDelete); err == nil {
		t.Fatal("second soft delete succeeded")
	} else if _, code := respCode(err); code != 40404 {
		t.Fatalf("second soft delete: %v", err)
	}
	if _, err := cl.DeleteSubject(ctx, "users-value", sr.HardDelete); err == nil {
		t.Fatal("hard delete of live subject succeeded")
	} else if _, code := respCode(err); code != 40405 {
		t.Fatalf("hard delete live subject: %v", err)
	}
	if deleted, err = cl.DeleteSubject(ctx, "other-value", sr.HardDelete); err != nil || fmt.Sprint(deleted) != "[1]" {
		t.Fatalf("hard delete subject: %v %v", deleted, err)
	}
	// The id is still used by users-value version 1.
	if _, err := cl.SchemaByID(ctx, ss.ID); err != nil {
		t.Fatal(err)
	}
	// A soft-deleted-and-re-registered schema comes back as a new version.
	if _, err := cl.DeleteSubject(ctx, "users-value", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SubjectVersions(ctx, "users-value"); err == nil {
		t.Fatal("versions of soft-deleted subject")
	}
	back, err := cl.CreateSchema(ctx, "users-value", sr.Schema{Schema: userV1})
	if err != nil || back.ID != ss.ID || back.Version != 3 {
		t.Fatalf("re-register after soft delete: %+v %v", back, err)
	}
}

// TestCompatibilityLevels checks every level for Avro.
func TestCompatibilityLevels(t *testing.T) {
	c := kafkatest.New(t, 1)
	_, url := startServer(t, c, c.Topic("_schemas"))
	cl := srClient(t, url)
	ctx := ctx(t)

	// base: {a: string}. addDefault adds b with default (compatible both
	// ways); addNoDefault adds c without default (new cannot read old:
	// not backward); removeA drops a (old cannot read new: not forward).
	const (
		base         = `{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`
		addDefault   = `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":1}]}`
		addNoDefault = `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"c","type":"int"}]}`
		removeA      = `{"type":"record","name":"R","fields":[]}`
		aLong        = `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"n","type":"long","default":0}]}`
		aInt         = `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"n","type":"int","default":0}]}`
	)
	cases := []struct {
		level  sr.CompatibilityLevel
		chain  []string // registered in order; all must succeed
		next   string
		wantOK bool
	}{
		{sr.CompatBackward, []string{base}, addDefault, true},
		{sr.CompatBackward, []string{base}, addNoDefault, false},
		{sr.CompatBackward, []string{base}, removeA, true},
		{sr.CompatForward, []string{base}, addNoDefault, true},
		{sr.CompatForward, []string{base}, removeA, false},
		{sr.CompatForward, []string{base}, addDefault, true},
		{sr.CompatFull, []string{base}, addDefault, true},
		{sr.CompatFull, []string{base}, addNoDefault, false},
		{sr.CompatFull, []string{base}, removeA, false},
		{sr.CompatNone, []string{base}, addNoDefault, true},
		{sr.CompatNone, []string{base}, `"string"`, true},
		// Transitive levels check every live version, the others only
		// the latest: n without default reads aInt data but not base data.
		{sr.CompatBackward, []string{base, aInt}, `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"n","type":"int"}]}`, true},
		{sr.CompatBackwardTransitive, []string{base, aInt}, `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"n","type":"int"}]}`, false},
		{sr.CompatBackward, []string{removeA, aInt}, `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"n","type":"long"}]}`, true},
		{sr.CompatBackwardTransitive, []string{removeA, aInt}, `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"n","type":"long"}]}`, false},
		{sr.CompatForward, []string{aLong}, aInt, true},
		{sr.CompatForward, []string{aInt}, aLong, false},
		{sr.CompatForward, []string{removeA, base}, addNoDefault, true},
		{sr.CompatForwardTransitive, []string{addNoDefault, base}, removeA, false},
		{sr.CompatFull, []string{removeA, base}, addDefault, true},
		{sr.CompatFullTransitive, []string{removeA, base}, addDefault, false},
	}
	for i, tc := range cases {
		subject := fmt.Sprintf("s%d-%s", i, tc.level)
		// Register the chain under NONE, then switch to the level.
		if r := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, subject); r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		for _, s := range tc.chain {
			if _, err := cl.RegisterSchema(ctx, subject, sr.Schema{Schema: s}, -1, -1); err != nil {
				t.Fatalf("case %d chain: %v", i, err)
			}
		}
		if r := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: tc.level}, subject); r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		chk, err := cl.CheckCompatibility(ctx, subject, -2, sr.Schema{Schema: tc.next})
		if err != nil {
			t.Fatalf("case %d check: %v", i, err)
		}
		_, err = cl.RegisterSchema(ctx, subject, sr.Schema{Schema: tc.next}, -1, -1)
		if tc.wantOK && err != nil {
			t.Errorf("case %d (%s): rejected: %v", i, tc.level, err)
		}
		if !tc.wantOK {
			if st, code := respCode(err); st != 409 || code != 409 {
				t.Errorf("case %d (%s): want 409, got %v", i, tc.level, err)
			}
		}
		if chk.Is != tc.wantOK {
			t.Errorf("case %d (%s): check says %v", i, tc.level, chk.Is)
		}
	}
}

// curl runs curl and returns the status code and body.
func curl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-s", "-w", "\n%{http_code}"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	var code int
	fmt.Sscan(s[i+1:], &code)
	return code, s[:i]
}

// TestCurl drives the server with curl, as the reference registry's
// documentation shows its API.
func TestCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed: run `make setup`, which installs it")
	}
	c := kafkatest.New(t, 1)
	_, url := startServer(t, c, c.Topic("_schemas"))
	const ct = "Content-Type: application/vnd.schemaregistry.v1+json"

	jsonOf := func(s string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("not JSON: %q", s)
		}
		return m
	}

	// Register a new version of a schema under the subject "Kafka-key".
	code, body := curl(t, "-X", "POST", "-H", ct, "--data", `{"schema": "{\"type\": \"string\"}"}`, url+"/subjects/Kafka-key/versions")
	if code != 200 || jsonOf(body)["id"] == nil {
		t.Fatalf("register key: %d %s", code, body)
	}
	keyID := int(jsonOf(body)["id"].(float64))
	// Register a new version of a schema under the subject "Kafka-value".
	code, body = curl(t, "-X", "POST", "-H", ct, "--data", `{"schema": "{\"type\": \"string\"}"}`, url+"/subjects/Kafka-value/versions")
	if code != 200 || int(jsonOf(body)["id"].(float64)) != keyID {
		t.Fatalf("register value: %d %s", code, body)
	}
	// Register an existing schema to a new subject name.
	code, body = curl(t, "-X", "POST", "-H", ct, "--data", fmt.Sprintf(`{"schema": %q}`, userV1), url+"/subjects/Users-value/versions")
	if code != 200 {
		t.Fatalf("register user: %d %s", code, body)
	}
	// List all subjects.
	if code, body = curl(t, "-X", "GET", url+"/subjects"); code != 200 || body != `["Kafka-key","Kafka-value","Users-value"]` {
		t.Fatalf("subjects: %d %s", code, body)
	}
	// List all schema versions registered under the subject "Kafka-value".
	if code, body = curl(t, "-X", "GET", url+"/subjects/Kafka-value/versions"); code != 200 || body != `[1]` {
		t.Fatalf("versions: %d %s", code, body)
	}
	// Fetch a schema by globally unique id.
	if code, body = curl(t, "-X", "GET", fmt.Sprintf("%s/schemas/ids/%d", url, keyID)); code != 200 || body != `{"schema":"\"string\""}` {
		t.Fatalf("by id: %d %s", code, body)
	}
	// Fetch version 1 of the schema registered under subject "Kafka-value".
	want := fmt.Sprintf(`{"subject":"Kafka-value","version":1,"id":%d,"schema":"\"string\""}`, keyID)
	if code, body = curl(t, "-X", "GET", url+"/subjects/Kafka-value/versions/1"); code != 200 || body != want {
		t.Fatalf("version 1: %d %s", code, body)
	}
	// Fetch the most recently registered schema under subject "Kafka-value".
	if code, body = curl(t, "-X", "GET", url+"/subjects/Kafka-value/versions/latest"); code != 200 || body != want {
		t.Fatalf("latest: %d %s", code, body)
	}
	if code, body = curl(t, "-X", "GET", url+"/subjects/Kafka-value/versions/latest/schema"); code != 200 || body != `"string"` {
		t.Fatalf("latest schema: %d %s", code, body)
	}
	// Check whether a schema has been registered under subject "Kafka-key".
	code, body = curl(t, "-X", "POST", "-H", ct, "--data", `{"schema": "{\"type\": \"string\"}"}`, url+"/subjects/Kafka-key")
	if code != 200 || body != strings.Replace(want, "Kafka-value", "Kafka-key", 1) {
		t.Fatalf("lookup: %d %s", code, body)
	}
	// Test compatibility of a schema with the latest schema under subject "Kafka-value".
	code, body = curl(t, "-X", "POST", "-H", ct, "--data", `{"schema": "{\"type\": \"string\"}"}`, url+"/compatibility/subjects/Kafka-value/versions/latest")
	if code != 200 || body != `{"is_compatible":true}` {
		t.Fatalf("compat: %d %s", code, body)
	}
	code, body = curl(t, "-X", "POST", "-H", ct, "--data", `{"schema": "{\"type\": \"int\"}"}`, url+"/compatibility/subjects/Kafka-value/versions/latest")
	if code != 200 || body != `{"is_compatible":false}` {
		t.Fatalf("compat int: %d %s", code, body)
	}
	// An incompatible registration: 409 in the reference shape.
	code, body = curl(t, "-X", "POST", "-H", ct, "--data", `{"schema": "{\"type\": \"int\"}"}`, url+"/subjects/Kafka-value/versions")
	m := jsonOf(body)
	if code != 409 || m["error_code"] != float64(409) ||
		!strings.HasPrefix(m["message"].(string), `Schema being registered is incompatible with an earlier schema for subject "Kafka-value"`) {
		t.Fatalf("incompatible: %d %s", code, body)
	}
	// Get top level config.
	if code, body = curl(t, "-X", "GET", url+"/config"); code != 200 || body != `{"compatibilityLevel":"BACKWARD"}` {
		t.Fatalf("config: %d %s", code, body)
	}
	// Update compatibility requirements globally.
	if code, body = curl(t, "-X", "PUT", "-H", ct, "--data", `{"compatibility": "NONE"}`, url+"/config"); code != 200 || body != `{"compatibility":"NONE"}` {
		t.Fatalf("put config: %d %s", code, body)
	}
	// Update compatibility requirements under the subject "Kafka-value".
	if code, body = curl(t, "-X", "PUT", "-H", ct, "--data", `{"compatibility": "BACKWARD"}`, url+"/config/Kafka-value"); code != 200 || body != `{"compatibility":"BACKWARD"}` {
		t.Fatalf("put subject config: %d %s", code, body)
	}
	if code, body = curl(t, "-X", "GET", url+"/config/Kafka-value"); code != 200 || body != `{"compatibilityLevel":"BACKWARD"}` {
		t.Fatalf("get subject config: %d %s", code, body)
	}
	if code, body = curl(t, "-X", "PUT", "-H", ct, "--data", `{"compatibility": "SIDEWAYS"}`, url+"/config"); code != 422 || jsonOf(body)["error_code"] != float64(42203) {
		t.Fatalf("bad level: %d %s", code, body)
	}
	// The subject level still applies: int is still rejected.
	if code, _ = curl(t, "-X", "POST", "-H", ct, "--data", `{"schema": "{\"type\": \"int\"}"}`, url+"/subjects/Kafka-value/versions"); code != 409 {
		t.Fatalf("subject level ignored: %d", code)
	}
	// Errors: unknown subject, version, id; invalid schema and version.
	for _, tc := range []struct {
		args      []string
		status    int
		code      float64
		msgPrefix string
	}{
		{[]string{url + "/subjects/nope/versions"}, 404, 40401, "Subject 'nope' not found."},
		{[]string{url + "/subjects/Kafka-value/versions/7"}, 404, 40402, "Version 7 not found."},
		{[]string{url + "/schemas/ids/987654"}, 404, 40403, "Schema 987654 not found"},
		{[]string{url + "/subjects/Kafka-value/versions/zero"}, 422, 42202, "The specified version 'zero' is not a valid version id."},
		{[]string{"-X", "POST", "-H", ct, "--data", `{"schema": "{\"type\": \"strin\"}"}`, url + "/subjects/Kafka-value/versions"}, 422, 42201, "Invalid schema"},
		{[]string{url + "/config/Kafka-key"}, 404, 40408, "Subject 'Kafka-key' does not have subject-level compatibility configured"},
	} {
		code, body := curl(t, tc.args...)
		m := jsonOf(body)
		if code != tc.status || m["error_code"] != tc.code || !strings.HasPrefix(m["message"].(string), tc.msgPrefix) {
			t.Errorf("%v: %d %s", tc.args, code, body)
		}
	}
	// Delete version 1 of the schema registered under subject "Kafka-value".
	if code, body = curl(t, "-X", "DELETE", url+"/subjects/Kafka-value/versions/1"); code != 200 || body != "1" {
		t.Fatalf("delete version: %d %s", code, body)
	}
	// Delete all versions of the schema registered under subject "Kafka-key".
	if code, body = curl(t, "-X", "DELETE", url+"/subjects/Kafka-key"); code != 200 || body != "[1]" {
		t.Fatalf("delete subject: %d %s", code, body)
	}
	if code, body = curl(t, "-X", "DELETE", url+"/subjects/Kafka-key?permanent=true"); code != 200 || body != "[1]" {
		t.Fatalf("hard delete subject: %d %s", code, body)
	}
	if code, body = curl(t, "-X", "GET", url+"/subjects"); code != 200 || body != `["Users-value"]` {
		t.Fatalf("subjects after deletes: %d %s", code, body)
	}
	if code, body = curl(t, "-X", "GET", url+"/subjects?deleted=true"); code != 200 || body != `["Kafka-value","Users-value"]` {
		t.Fatalf("subjects with deleted: %d %s", code, body)
	}
	if code, body = curl(t, "-X", "GET", url+"/schemas/types"); code != 200 || body != `["AVRO"]` {
		t.Fatalf("types: %d %s", code, body)
	}
}

// registerAll registers n schemas under a few subjects through cl and
// returns subject -> version -> id.
func registerAll(t *testing.T, cl *sr.Client, prefix string, n int) map[string]map[int]int {
	t.Helper()
	out := map[string]map[int]int{}
	for i := 0; i < n; i++ {
		subject := fmt.Sprintf("%s-%d", prefix, i%3)
		schema := fmt.Sprintf(`{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"f%d","type":"int","default":%d}]}`, i, i)
		ss, err := cl.CreateSchema(ctx(t), subject, sr.Schema{Schema: schema})
		if err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
		if out[subject] == nil {
			out[subject] = map[int]int{}
		}
		out[subject][ss.Version] = ss.ID
	}
	return out
}

// snapshot reads every subject, version and id through cl.
func snapshot(t *testing.T, cl *sr.Client) map[string]map[int]int {
	t.Helper()
	all, err := cl.AllSchemas(sr.WithParams(ctx(t), sr.ShowDeleted))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int]int{}
	for _, s := range all {
		if out[s.Subject] == nil {
			out[s.Subject] = map[int]int{}
		}
		out[s.Subject][s.Version] = s.ID
	}
	return out
}

func TestRestartKeepsEverything(t *testing.T) {
	c := kafkatest.New(t, 0)
	topic := c.Topic("_schemas")
	srv1, stop1 := startServerStoppable(t, c, topic)
	cl1 := srClient(t, srvURL(srv1))
	want := registerAll(t, cl1, "restart", 9)
	if r := cl1.SetCompatibility(ctx(t), sr.SetCompatibility{Level: sr.CompatFull}, "restart-1"); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if err := cl1.DeleteSchema(ctx(t), "restart-2", 1, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, cl1)
	if fmt.Sprint(before) != fmt.Sprint(want) {
		t.Fatalf("snapshot %v != registered %v", before, want)
	}
	stop1()

	srv2, _ := startServer(t, c, topic)
	cl2 := srClient(t, srvURL(srv2))
	if after := snapshot(t, cl2); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after restart %v, before %v", after, before)
	}
	if comp := cl2.Compatibility(ctx(t), "restart-1"); comp[0].Level != sr.CompatFull {
		t.Fatalf("compat after restart: %+v", comp[0])
	}
	if vs, _ := cl2.SubjectVersions(ctx(t), "restart-2"); fmt.Sprint(vs) != "[2 3]" {
		t.Fatalf("soft delete lost: %v", vs)
	}
	for _, vs := range want {
		for _, id := range vs {
			if _, err := cl2.SchemaByID(ctx(t), id); err != nil {
				t.Fatalf("id %d after restart: %v", id, err)
			}
		}
	}
	// New registrations continue the versions and do not reuse ids.
	ss, err := cl2.CreateSchema(ctx(t), "restart-0", sr.Schema{Schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"z","type":"int","default":0}]}`})
	if err != nil || ss.Version != 4 {
		t.Fatalf("after restart: %+v %v", ss, err)
	}
	for _, vs := range want {
		for _, id := range vs {
			if id == ss.ID {
				t.Fatalf("id %d reused", id)
			}
		}
	}
}

func TestCompactedTopicReplays(t *testing.T) {
	if kafkatest.Real() {
		t.Skip("forces compaction: kfake only")
	}
	c := kafkatest.New(t, 1)
	topic := c.Topic("_schemas")
	c.CreateTopic(topic, 1, map[string]*string{"cleanup.policy": ptr("compact"), "delete.retention.ms": ptr("0")})
	srv1, stop1 := startServerStoppable(t, c, topic)
	cl1 := srClient(t, srvURL(srv1))
	registerAll(t, cl1, "compact", 12)
	// Soft delete (rewrites), hard delete (tombstones), config changes.
	if err := cl1.DeleteSchema(ctx(t), "compact-0", 1, sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := cl1.DeleteSubject(ctx(t), "compact-1", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := cl1.DeleteSubject(ctx(t), "compact-1", sr.HardDelete); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, cl1)
	stop1()
	n0 := countRecords(t, c, topic)
	c.Fake.Compact()
	c.Fake.Compact()
	if n1 := countRecords(t, c, topic); n1 >= n0 {
		t.Fatalf("compaction removed nothing: %d -> %d records", n0, n1)
	} else {
		t.Logf("compaction: %d -> %d records", n0, n1)
	}

	srv2, _ := startServer(t, c, topic)
	cl2 := srClient(t, srvURL(srv2))
	if after := snapshot(t, cl2); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after compaction %v, before %v", after, before)
	}
}

func ptr(s string) *string { return &s }

// countRecords counts the records left in partition 0 of topic.
func countRecords(t *testing.T, c *kafkatest.Cluster, topic string) int {
	t.Helper()
	ends, err := c.Admin().ListEndOffsets(ctx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	cl := c.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	n := 0
	for {
		fs := cl.PollFetches(ctx(t))
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		last := int64(-1)
		fs.EachRecord(func(r *kgo.Record) { n++; last = r.Offset })
		if last >= end.Offset-1 {
			return n
		}
	}
}

func TestTwoServersAgree(t *testing.T) {
	c := kafkatest.New(t, 0)
	topic := c.Topic("_schemas")
	a, urlA := startServer(t, c, topic)
	_, urlB := startServer(t, c, topic)
	_ = a
	clA, clB := srClient(t, urlA), srClient(t, urlB)

	// A registration through A is visible through B at once.
	ss, err := clA.CreateSchema(ctx(t), "two-value", sr.Schema{Schema: userV1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := clB.SchemaByID(ctx(t), ss.ID)
	if err != nil || got.Schema != userV1 {
		t.Fatalf("B by id: %+v %v", got, err)
	}
	look, err := clB.LookupSchema(ctx(t), "two-value", sr.Schema{Schema: userV1})
	if err != nil || look.ID != ss.ID {
		t.Fatalf("B lookup: %+v %v", look, err)
	}
	// B continues the subject's versions.
	v2, err := clB.CreateSchema(ctx(t), "two-value", sr.Schema{Schema: userV2})
	if err != nil || v2.Version != 2 {
		t.Fatalf("B v2: %+v %v", v2, err)
	}
	// B enforces compatibility configured through A.
	if r := clA.SetCompatibility(ctx(t), sr.SetCompatibility{Level: sr.CompatFullTransitive}, "two-value"); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	if _, err := clB.RegisterSchema(ctx(t), "two-value", sr.Schema{Schema: userV4}, -1, -1); err == nil {
		t.Fatal("B accepted a schema A's config forbids")
	}

	// Concurrent registrations through both: different schemas get
	// different ids, the same schema one id, versions are dense.
	const n = 8
	type result struct {
		schema string
		id     int
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		res []result
	)
	for i := 0; i < n; i++ {
		for j, cl := range []*sr.Client{clA, clB} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				schema := fmt.Sprintf(`{"type":"record","name":"C","fields":[{"name":"f%d","type":"int","default":0}]}`, i)
				subject := fmt.Sprintf("conc-%d", j) // same schema, two subjects
				if i%2 == 0 {
					subject = "conc-shared" // same subject, racing versions
				}
				id, err := cl.RegisterSchema(ctx(t), subject, sr.Schema{Schema: schema}, -1, -1)
				if err != nil {
					t.Errorf("concurrent register: %v", err)
					return
				}
				mu.Lock()
				res = append(res, result{schema, id})
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	byID, bySchema := map[int]string{}, map[string]int{}
	for _, r := range res {
		if s, ok := byID[r.id]; ok && s != r.schema {
			t.Fatalf("id %d given to two schemas", r.id)
		}
		if id, ok := bySchema[r.schema]; ok && id != r.id {
			t.Fatalf("schema got ids %d and %d", id, r.id)
		}
		byID[r.id], bySchema[r.schema] = r.schema, r.id
	}
	if len(byID) != n {
		t.Fatalf("%d ids for %d schemas", len(byID), n)
	}
	sa, sb := snapshot(t, clA), snapshot(t, clB)
	if fmt.Sprint(sa) != fmt.Sprint(sb) {
		t.Fatalf("servers disagree:\nA %v\nB %v", sa, sb)
	}
	versions := sa["conc-shared"]
	var vs []int
	for v := range versions {
		vs = append(vs, v)
	}
	sort.Ints(vs)
	if fmt.Sprint(vs) != "[1 2 3 4]" {
		t.Fatalf("conc-shared versions %v", vs)
	}
}

func TestBasicAuthAndTLS(t *testing.T) {
	c := kafkatest.New(t, 1)
	srv, err := registry.NewServer(c.Brokers, registry.Topic(c.Topic("_schemas")), registry.Logger(quiet),
		registry.ServerBasicAuth("alice", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(ts.Close)
	pool := ts.Client().Transport.(*http.Transport).TLSClientConfig

	cl, err := registry.NewClient([]string{ts.URL}, registry.BasicAuth("alice", "s3cret"), registry.TLS(pool))
	if err != nil {
		t.Fatal(err)
	}
	id, err := cl.Register(ctx(t), "auth-value", sr.Schema{Schema: userV1})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := cl.SchemaByID(ctx(t), id); err != nil || s.Schema != userV1 {
		t.Fatalf("%+v %v", s, err)
	}
	bad, _ := registry.NewClient([]string{ts.URL}, registry.BasicAuth("alice", "wrong"), registry.TLS(pool), registry.Retries(0))
	if _, err := bad.SchemaByID(ctx(t), id+1); err == nil {
		t.Fatal("wrong password accepted")
	} else if st, _ := respCode(err); st != 401 {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestClientRetriesAndCaches(t *testing.T) {
	var calls, fails int
	var mu sync.Mutex
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		fail := fails > 0
		if fail {
			fails--
		}
		mu.Unlock()
		if fail {
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`{"error_code":50001,"message":"busy"}`))
			return
		}
		_, _ = w.Write([]byte(`{"schema":"\"string\""}`))
	})
	ts := httptest.NewServer(h)
	defer ts.Close()
	cl, _ := registry.NewClient([]string{ts.URL}, registry.RetryBackoff(time.Millisecond))
	mu.Lock()
	fails = 2
	mu.Unlock()
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, err := cl.SchemaByID(context.Background(), 7); err != nil || s.Schema != `"string"` {
				t.Errorf("%+v %v", s, err)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	n := calls
	calls = 0
	mu.Unlock()
	if n != 3 { // two failures, one success, then the cache
		t.Fatalf("calls = %d", n)
	}
	// Not-found errors are not retried.
	h2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema 1 not found"}`))
	}))
	defer h2.Close()
	cl2, _ := registry.NewClient([]string{h2.URL}, registry.RetryBackoff(time.Millisecond))
	_, err := cl2.SchemaByID(context.Background(), 1)
	mu.Lock()
	n = calls
	mu.Unlock()
	if registry.ErrorCode(err) != 40403 || n != 1 {
		t.Fatalf("err %v, calls %d", err, n)
	}
}

func TestSchemaReferences(t *testing.T) {
	c := kafkatest.New(t, 1)
	_, url := startServer(t, c, c.Topic("_schemas"))
	cl := srClient(t, url)
	const address = `{"type":"record","name":"Address","namespace":"test","fields":[{"name":"city","type":"string"}]}`
	const person = `{"type":"record","name":"Person","namespace":"test","fields":[{"name":"name","type":"string"},{"name":"home","type":"test.Address"}]}`
	addr, err := cl.CreateSchema(ctx(t), "address", sr.Schema{Schema: address})
	if err != nil {
		t.Fatal(err)
	}
	refs := []sr.SchemaReference{{Name: "test.Address", Subject: "address", Version: 1}}
	// Without the reference the schema does not parse.
	if _, err := cl.RegisterSchema(ctx(t), "person", sr.Schema{Schema: person}, -1, -1); err == nil {
		t.Fatal("schema with an unknown named type registered")
	} else if _, code := respCode(err); code != 42201 {
		t.Fatalf("unknown type: %v", err)
	}
	p, err := cl.CreateSchema(ctx(t), "person", sr.Schema{Schema: person, References: refs})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.SchemaByID(ctx(t), p.ID)
	if err != nil || len(got.References) != 1 || got.References[0] != refs[0] {
		t.Fatalf("by id: %+v %v", got, err)
	}
	refBy, err := cl.SchemaReferences(ctx(t), "address", addr.Version)
	if err != nil || len(refBy) != 1 || refBy[0].ID != p.ID {
		t.Fatalf("referenced by: %+v %v", refBy, err)
	}
	look, err := cl.LookupSchema(ctx(t), "person", sr.Schema{Schema: person, References: refs})
	if err != nil || look.ID != p.ID {
		t.Fatalf("lookup: %+v %v", look, err)
	}
}

// TestDeleteReferencedSchemaRefused checks that a schema version another
// live schema references cannot be deleted, softly or permanently, as a
// version or with its subject (Confluent: 422, error code 42206), and that
// deleting the referrer first releases it.
func TestDeleteReferencedSchemaRefused(t *testing.T) {
	c := kafkatest.New(t, 1)
	_, url := startServer(t, c, c.Topic("_schemas"))
	cl := srClient(t, url)
	const address = `{"type":"record","name":"Address","namespace":"test","fields":[{"name":"city","type":"string"}]}`
	const person = `{"type":"record","name":"Person","namespace":"test","fields":[{"name":"name","type":"string"},{"name":"home","type":"test.Address"}]}`
	if _, err := cl.CreateSchema(ctx(t), "address", sr.Schema{Schema: address}); err != nil {
		t.Fatal(err)
	}
	refs := []sr.SchemaReference{{Name: "test.Address", Subject: "address", Version: 1}}
	if _, err := cl.CreateSchema(ctx(t), "person", sr.Schema{Schema: person, References: refs}); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error) {
		t.Helper()
		if status, code := respCode(err); status != 422 || code != 42206 {
			t.Fatalf("%s: want 422/42206, got %d/%d (%v)", what, status, code, err)
		}
	}
	err := cl.DeleteSchema(ctx(t), "address", 1, sr.SoftDelete)
	refused("soft delete of the version", err)
	_, err = cl.DeleteSubject(ctx(t), "address", sr.SoftDelete)
	refused("soft delete of the subject", err)
	if _, err := cl.SchemaByVersion(ctx(t), "address", 1); err != nil {
		t.Fatalf("referenced version gone after refused deletes: %v", err)
	}

	// A version soft-deleted before anything referenced it, then
	// referenced: the permanent deletes are refused too.
	const tag = `{"type":"record","name":"Tag","namespace":"test","fields":[{"name":"t","type":"string"}]}`
	const post = `{"type":"record","name":"Post","namespace":"test","fields":[{"name":"tag","type":"test.Tag"}]}`
	if _, err := cl.CreateSchema(ctx(t), "tag", sr.Schema{Schema: tag}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteSubject(ctx(t), "tag", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateSchema(ctx(t), "post", sr.Schema{Schema: post,
		References: []sr.SchemaReference{{Name: "test.Tag", Subject: "tag", Version: 1}}}); err != nil {
		t.Fatal(err)
	}
	err = cl.DeleteSchema(ctx(t), "tag", 1, sr.HardDelete)
	refused("permanent delete of the version", err)
	_, err = cl.DeleteSubject(ctx(t), "tag", sr.HardDelete)
	refused("permanent delete of the subject", err)

	// Deleting the referrer releases the referenced schema.
	if _, err := cl.DeleteSubject(ctx(t), "person", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if refBy, err := cl.SchemaReferences(ctx(t), "address", 1); err != nil || len(refBy) != 0 {
		t.Fatalf("referenced by after the referrer's delete: %+v %v", refBy, err)
	}
	if err := cl.DeleteSchema(ctx(t), "address", 1, sr.SoftDelete); err != nil {
		t.Fatalf("delete after the referrer's delete: %v", err)
	}
}

// TestReadsConfluentWrittenTopic starts a server on a _schemas topic
// written the way Confluent's registry writes it: registrations and soft
// deletes with no "confirmed" field, and a whole-subject soft delete as a
// DELETE_SUBJECT record.
func TestReadsConfluentWrittenTopic(t *testing.T) {
	c := kafkatest.New(t, 1)
	topic := c.Topic("_schemas")
	c.CreateTopic(topic, 1, map[string]*string{"cleanup.policy": ptr("compact")})
	schemaKey := func(subject string, version int) string {
		return fmt.Sprintf(`{"keytype":"SCHEMA","subject":%q,"version":%d,"magic":1}`, subject, version)
	}
	schemaValue := func(subject string, version, id int, schema string, deleted bool) string {
		b, _ := json.Marshal(map[string]any{"subject": subject, "version": version, "id": id, "schema": schema, "deleted": deleted})
		return string(b)
	}
	recs := [][2]string{
		{schemaKey("users-value", 1), schemaValue("users-value", 1, 1, userV1, false)},
		{schemaKey("users-value", 2), schemaValue("users-value", 2, 2, userV2, false)},
		{schemaKey("orders-value", 1), schemaValue("orders-value", 1, 3, `"string"`, false)},
		{schemaKey("orders-value", 2), schemaValue("orders-value", 2, 4, `"long"`, false)},
		// Soft delete of users-value version 1: the same key again.
		{schemaKey("users-value", 1), schemaValue("users-value", 1, 1, userV1, true)},
		// Soft delete of the whole subject orders-value.
		{`{"keytype":"DELETE_SUBJECT","subject":"orders-value","magic":0}`, `{"subject":"orders-value","version":2}`},
	}
	pcl := c.Client()
	defer pcl.Close()
	for _, r := range recs {
		if err := pcl.ProduceSync(ctx(t), &kgo.Record{Topic: topic, Key: []byte(r[0]), Value: []byte(r[1])}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	_, url := startServer(t, c, topic)
	cl := srClient(t, url)
	if vs, err := cl.SubjectVersions(ctx(t), "users-value"); err != nil || fmt.Sprint(vs) != "[2]" {
		t.Fatalf("users-value versions: %v %v (version 1 was soft deleted)", vs, err)
	}
	if subjects, err := cl.Subjects(ctx(t)); err != nil || fmt.Sprint(subjects) != "[users-value]" {
		t.Fatalf("subjects: %v %v (orders-value was soft deleted)", subjects, err)
	}
	// Soft-deleted schemas stay readable by id, as in Confluent.
	for id := 1; id <= 4; id++ {
		if _, err := cl.SchemaByID(ctx(t), id); err != nil {
			t.Fatalf("schema %d: %v", id, err)
		}
	}
	if subjects, err := cl.Subjects(sr.WithParams(ctx(t), sr.ShowDeleted)); err != nil || fmt.Sprint(subjects) != "[orders-value users-value]" {
		t.Fatalf("subjects with deleted: %v %v", subjects, err)
	}
}
