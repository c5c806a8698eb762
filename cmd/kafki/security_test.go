package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kafki/kafki/runtime/clientconfig"
	"github.com/kafki/kafki/serde/registry"
)

// startBrokerInProcess runs `kafki broker args...` in-process on free
// ports until the test ends and returns its bootstrap addresses.
func startBrokerInProcess(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"broker", "--listen", "127.0.0.1:0"}, args...), strings.NewReader(""), &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("broker did not stop")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if i := strings.Index(out.String(), "(bootstrap: "); i >= 0 {
			rest := out.String()[i+len("(bootstrap: "):]
			return rest[:strings.Index(rest, ")")]
		}
		select {
		case code := <-done:
			t.Fatalf("broker exited %d: %q %q", code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bootstrap line: %q %q", out.String(), errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeProps(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTwoWayTLS: a 3-broker cluster that requires client certificates
// signed by its CA. The right certificate works (kafki and kcat, each with
// its own settings); no certificate, a certificate of another CA, and a
// plaintext client are refused with a message that says so.
func TestTwoWayTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, other := filepath.Join(dir, "ca"), filepath.Join(dir, "other")
	r := ok(t, "", "certs", "--dir", ca, "--client", "alice")
	if !strings.Contains(r.stdout, "alice.properties") {
		t.Fatalf("certs: %s", r.stdout)
	}
	ok(t, "", "certs", "--dir", other, "--client", "mallory")
	failsWith(t, 1, "exists already", "", "certs", "--dir", ca)

	bootstrap := startBrokerInProcess(t, "--brokers", "3",
		"--tls-cert", filepath.Join(ca, "broker.pem"), "--tls-key", filepath.Join(ca, "broker.key"),
		"--tls-client-ca", filepath.Join(ca, "ca.pem"))
	alice := filepath.Join(ca, "alice.properties")
	b := "--brokers=" + bootstrap
	ok(t, "", "topics", "create", "secure", "--partitions", "2", "--replication-factor", "3", b, "--command-config", alice)
	r = ok(t, "", "topics", "describe", "secure", b, "--command-config", alice)
	if !strings.Contains(r.stdout, "ReplicationFactor: 3") {
		t.Fatalf("describe: %s", r.stdout)
	}
	ok(t, "k1:from kafki\n", "produce", "secure", "--key-separator", ":", b, "--command-config", alice)

	noCert := writeProps(t, dir, "nocert.properties", "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location="+filepath.Join(ca, "ca.pem")+"\n")
	failsWith(t, 1, "requires a client certificate", "", "topics", "list", b, "--command-config", noCert, "--connect-timeout", "5s")
	wrongCA := writeProps(t, dir, "wrongca.properties", fmt.Sprintf("security.protocol=SSL\nssl.truststore.location=%s\nssl.keystore.type=PEM\nssl.keystore.location=%s\n",
		filepath.Join(ca, "ca.pem"), filepath.Join(other, "mallory-keystore.pem")))
	failsWith(t, 1, "did not accept the client certificate", "", "topics", "list", b, "--command-config", wrongCA, "--connect-timeout", "5s")
	// The broker's certificate is not trusted by a client of the other CA.
	failsWith(t, 1, "not signed by a trusted CA", "", "topics", "list", b, "--command-config", filepath.Join(other, "mallory.properties"), "--connect-timeout", "5s")
	failsWith(t, 1, "does it require TLS or SASL", "", "topics", "list", b, "--connect-timeout", "3s")

	// kcat (librdkafka) on the same listener with its own settings.
	addr := strings.Split(bootstrap, ",")[0]
	tlsArgs := []string{"-b", addr, "-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + filepath.Join(ca, "ca.pem"),
		"-X", "ssl.certificate.location=" + filepath.Join(ca, "alice.pem"), "-X", "ssl.key.location=" + filepath.Join(ca, "alice.key")}
	kcat(t, "k2:from kcat\n", append([]string{"-P", "-t", "secure", "-K", ":"}, tlsArgs...)...)
	got := lines(kcat(t, "", append([]string{"-C", "-t", "secure", "-e", "-q", "-f", "%k=%s\n"}, tlsArgs...)...))
	slices.Sort(got)
	if !slices.Equal(got, []string{"k1=from kafki", "k2=from kcat"}) {
		t.Fatalf("kcat read %q", got)
	}
	r = ok(t, "", "consume", "secure", "--from-beginning", "--max-messages", "2", "--print-key", b, "--command-config", alice)
	got = lines(r.stdout)
	slices.Sort(got)
	if len(got) != 2 || !strings.Contains(got[1], "from kcat") {
		t.Fatalf("kafki read %q", got)
	}
}

// TestSASLAndACLs: SCRAM and PLAIN users on a broker that enforces ACLs. A
// wrong password is refused without printing it; a user without ACLs
// cannot read another application's changelog and is told what was
// refused; kafki acls grants an application's ACLs.
func TestSASLAndACLs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const adminPW, alicePW, bobPW, wrongPW = "admin-Secret-1", "alice-Secret-2", "bob-Secret-3", "not-the-Password-4"
	bootstrap := startBrokerInProcess(t, "--superuser", "admin:"+adminPW, "--user", "alice:"+alicePW, "--user", "bob:"+bobPW, "--acls")
	b := "--brokers=" + bootstrap
	props := func(name, mech, user, pw string) string {
		module := "scram.ScramLoginModule"
		if mech == "PLAIN" {
			module = "plain.PlainLoginModule"
		}
		return writeProps(t, dir, name, fmt.Sprintf("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=%s\nsasl.jaas.config=org.apache.kafka.common.security.%s required username=\"%s\" password=\"%s\";\n", mech, module, user, pw))
	}
	admin := props("admin.properties", "SCRAM-SHA-256", "admin", adminPW)
	alice := props("alice.properties", "SCRAM-SHA-512", "alice", alicePW)
	bob := props("bob.properties", "PLAIN", "bob", bobPW)
	wrong := props("wrong.properties", "SCRAM-SHA-256", "alice", wrongPW)

	all := func(r result) string { return r.stdout + r.stderr }
	noSecret := func(r result) {
		t.Helper()
		for _, pw := range []string{adminPW, alicePW, bobPW, wrongPW} {
			if strings.Contains(all(r), pw) {
				t.Fatalf("a password is printed: %s", all(r))
			}
		}
	}
	r := failsWith(t, 1, `SASL authentication of user "alice" failed`, "", "topics", "list", b, "--command-config", wrong, "--connect-timeout", "5s")
	noSecret(r)
	r = failsWith(t, 1, "does it require TLS or SASL", "", "topics", "list", b, "--connect-timeout", "3s")
	noSecret(r)
	r = failsWith(t, 2, "want NAME:PASSWORD", "", "broker", "--listen", "127.0.0.1:0", "--user", wrongPW)
	noSecret(r)

	// app1's changelog, written by the superuser.
	ok(t, "", "topics", "create", "app1-store-changelog", b, "--command-config", admin)
	ok(t, "k:v\n", "produce", "app1-store-changelog", "--key-separator", ":", b, "--command-config", admin)

	// bob has no ACLs: refused, and told what.
	r = failsWith(t, 1, "app1-store-changelog", "", "consume", "app1-store-changelog", "--from-beginning", "--max-messages", "1", b, "--command-config", bob, "--timeout", "5s")
	if !strings.Contains(r.stderr, "TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("want the refusal named: %s", r.stderr)
	}
	noSecret(r)
	r = failsWith(t, 1, "CLUSTER_AUTHORIZATION_FAILED", "", "acls", "add", "--allow-principal", "User:bob", "--operation", "All", "--topic", "app1-", "--resource-pattern-type", "prefixed", b, "--command-config", bob)
	noSecret(r)

	// The superuser grants alice what app1 needs; alice reads app1's changelog.
	r = ok(t, "", "acls", "add", "--allow-principal", "User:alice", "--streams-app", "app1", "--input", "in", "--output", "out", b, "--command-config", admin)
	for _, want := range []string{"User:alice", "TRANSACTIONAL_ID", "PREFIXED"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("acls add: want %s in %s", want, r.stdout)
		}
	}
	r = ok(t, "", "consume", "app1-store-changelog", "--from-beginning", "--max-messages", "1", "--print-key", b, "--command-config", alice, "--group", "app1")
	if !strings.Contains(r.stdout, "v") {
		t.Fatalf("alice read %q", r.stdout)
	}
	r = ok(t, "", "acls", "list", "--allow-principal", "User:alice", b, "--command-config", admin)
	if n := len(lines(r.stdout)); n < 8 {
		t.Fatalf("acls list: %s", r.stdout)
	}
	r = ok(t, "", "acls", "remove", "--allow-principal", "User:alice", "--group", "app1", b, "--command-config", admin)
	if !strings.Contains(r.stdout, "Removed 2 ACL(s)") {
		t.Fatalf("acls remove: %s", r.stdout)
	}
}

// TestRegistryHTTPSBasicAuthOnSecuredCluster: kafki registry keeps its
// state on a SASL_SSL cluster, serves HTTPS with basic authentication, and
// the registry client takes its settings from the same properties file.
func TestRegistryHTTPSBasicAuthOnSecuredCluster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	ok(t, "", "certs", "--dir", ca)
	const brokerPW, regPW = "Broker-pw-77", "Registry-pw-88"
	bootstrap := startBrokerInProcess(t, "--tls-cert", filepath.Join(ca, "broker.pem"), "--tls-key", filepath.Join(ca, "broker.key"),
		"--superuser", "registry:"+brokerPW, "--acls")
	cfg := writeProps(t, dir, "client.properties", fmt.Sprintf(`bootstrap.servers=%s
security.protocol=SASL_SSL
ssl.truststore.location=%s
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="registry" password="%s";
basic.auth.credentials.source=USER_INFO
basic.auth.user.info=app:%s
schema.registry.ssl.truststore.location=%s
`, bootstrap, filepath.Join(ca, "ca.pem"), brokerPW, regPW, filepath.Join(ca, "ca.pem")))

	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"registry", "--command-config", cfg, "--listen", "127.0.0.1:0", "--log-level", "error",
			"--tls-cert", filepath.Join(ca, "broker.pem"), "--tls-key", filepath.Join(ca, "broker.key"), "--basic-auth", "app:" + regPW},
			strings.NewReader(""), &out, &errb)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("registry exited %d: %s", code, errb.String())
		}
	}()
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == ""; {
		if i := strings.Index(out.String(), "https://"); i >= 0 {
			url = strings.Fields(out.String()[i:])[0]
		} else if time.Now().After(deadline) {
			t.Fatalf("registry did not start: %q %q", out.String(), errb.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if strings.Contains(out.String()+errb.String(), regPW) || strings.Contains(out.String()+errb.String(), brokerPW) {
		t.Fatalf("a password is printed: %s %s", out.String(), errb.String())
	}

	cc, err := clientconfig.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ropts, err := cc.RegistryOpts()
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	reg, err := registry.NewClient([]string{url}, ropts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(rctx, "s-value", sr.Schema{Schema: `"string"`}); err != nil {
		t.Fatalf("register with the client settings: %v", err)
	}
	// Without the password: refused.
	tc, _ := cc.RegistryTLSConfig()
	anon, _ := registry.NewClient([]string{url}, registry.TLS(tc), registry.Retries(0))
	if _, err := anon.Register(rctx, "s-value", sr.Schema{Schema: `"string"`}); err == nil || registry.ErrorCode(err) != 401 && !strings.Contains(err.Error(), "401") {
		t.Fatalf("no basic auth: got %v, want 401", err)
	}
	// The state is on the secured cluster.
	r := ok(t, "", "topics", "describe", "_schemas", "--command-config", cfg)
	if !strings.Contains(r.stdout, "_schemas") {
		t.Fatalf("describe _schemas: %s", r.stdout)
	}
}
