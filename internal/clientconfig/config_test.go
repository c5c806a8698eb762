package clientconfig

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafki/kafki/runtime/clientconfig/devcerts"
)

func TestParseProperties(t *testing.T) {
	text := "# comment\n! other comment\n  a = 1\nb:2\nc 3\nd\\=x=4\ne=multi \\\n    line\nf=\\u0041\\t\\\\z\ng=\\uD83D\\uDE00\n\nh=\r\ni=last\\"
	props, err := ParseProperties(text)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range props {
		got[p.Key] = p.Value
	}
	want := map[string]string{"a": "1", "b": "2", "c": "3", "d=x": "4", "e": "multi line", "f": "A\t\\z", "g": "😀", "h": "", "i": "last"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if props[4].Line != 7 {
		t.Errorf("line of e = %d, want 7", props[4].Line)
	}
	if _, err := ParseProperties("x=\\u12G4"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad escape: %v", err)
	}
}

func TestSASLFromJAAS(t *testing.T) {
	c, err := Parse(`security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
  username="alice" password="s3cr\\\"et";
acks=all
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Mechanism != ScramSHA512 || c.Username != "alice" || c.Password.Reveal() != `s3cr"et` {
		t.Fatalf("got %+v", c)
	}
	if len(c.Ignored) != 1 || c.Ignored[0] != "acks" {
		t.Errorf("ignored %v", c.Ignored)
	}
	if o, err := c.SecurityOpts(); err != nil || len(o) != 2 { // TLS with the system roots, SASL
		t.Error("want a TLS dialer and a SASL option")
	}
	// PLAIN is implied by its login module; librdkafka's keys work too.
	c, err = Parse("security.protocol=SASL_PLAINTEXT\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=pw;")
	if err != nil || c.Mechanism != Plain || c.Username != "bob" {
		t.Fatalf("%v %+v", err, c)
	}
	c, err = Parse("security.protocol=SASL_PLAINTEXT\nsasl.mechanisms=SCRAM-SHA-256\nsasl.username=u\nsasl.password=p")
	if err != nil || c.Mechanism != ScramSHA256 || c.Password.Reveal() != "p" {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestErrorsNameTheProblemNotTheSecret(t *testing.T) {
	const secret = "hunter2-very-secret"
	cases := map[string]string{
		"security.protocol=TLS":                                                     "security.protocol",
		"ssl.truststore.location=/x":                                                "security.protocol=SSL",
		"security.protocol=SSL\nssl.keystore.type=JKS":                              "PEM",
		"security.protocol=SASL_SSL\nsasl.username=u\nsasl.password=" + secret:      "sasl.mechanism is not set",
		"security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\nsasl.username=u":        "GSSAPI",
		"security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.password=" + secret: "user name",
		"security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=x.PlainLoginModule required username=\"u\" password=\"" + secret:        "unterminated",
		"security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=x.PlainLoginModule required username=\"u\" password=\"" + secret + "\"": "missing ';'",
		"security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=x.Krb5LoginModule required password=\"" + secret + "\";":                "not supported",
		"security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=x.PlainLoginModule maybe password=\"" + secret + "\";":                  "control flag",
		"sasl.password=" + secret:        "security.protocol=SASL_SSL",
		"basic.auth.user.info=" + secret: "user:password",
		"x=\\u00" + secret:               "line 1",
		"security.protocol=SSL\nssl.endpoint.identification.algorithm=" + secret: "",
	}
	for text, want := range cases {
		_, err := Parse(text)
		if err == nil {
			t.Errorf("%q: no error", text)
			continue
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v does not wrap ErrConfig", text, err)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %q does not say %q", text, err, want)
		}
		if strings.Contains(err.Error(), secret) && !strings.HasPrefix(text, "security.protocol=SSL\nssl.endpoint") {
			t.Errorf("%q: error %q prints the secret", text, err)
		}
	}
}

func TestSecretIsRedacted(t *testing.T) {
	c, err := Parse("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=u\nsasl.password=topsecret\nbasic.auth.user.info=r:regsecret")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("cfg", "c", c, "p", c.Password)
	slog.New(slog.NewTextHandler(&b, nil)).Info("cfg", "p", c.Password, "r", c.RegistryPassword)
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c.Password, c.Password, c.Password), fmt.Sprintf("%+v %#v", *c, *c), b.String()} {
		if strings.Contains(s, "topsecret") || strings.Contains(s, "regsecret") {
			t.Errorf("secret printed: %s", s)
		}
	}
	if !strings.Contains(c.String(), "[redacted]") {
		t.Errorf("String() = %s", c)
	}
}

func TestTLSFromDevCerts(t *testing.T) {
	dir := t.TempDir()
	f, err := devcerts.Generate(dir, devcerts.Options{Clients: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	// The generated properties file, Kafka's style.
	c, err := Load(f.Clients["alice"].Properties)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := c.TLSConfig()
	if err != nil || tc == nil || tc.RootCAs == nil || len(tc.Certificates) != 1 {
		t.Fatalf("%v %+v", err, tc)
	}
	if opts, err := c.KgoOpts(); err != nil || len(opts) != 1 {
		t.Fatalf("%v %d", err, len(opts))
	}
	// librdkafka's style, and the registry's.
	c, err = Parse(fmt.Sprintf("security.protocol=SSL\nssl.ca.location=%s\nssl.certificate.location=%s\nssl.key.location=%s\nschema.registry.url=https://localhost:1\nschema.registry.ssl.truststore.location=%s\nbasic.auth.user.info=u:p",
		f.CACert, f.Clients["alice"].Cert, f.Clients["alice"].Key, f.CACert))
	if err != nil {
		t.Fatal(err)
	}
	if tc, err := c.TLSConfig(); err != nil || len(tc.Certificates) != 1 {
		t.Fatal(err)
	}
	if ro, err := c.RegistryOpts(); err != nil || len(ro) != 2 {
		t.Fatalf("%v %d", err, len(ro))
	}
	// A key that does not match, a missing file, a JKS file, an encrypted key.
	bad := []struct{ text, want string }{
		{fmt.Sprintf("security.protocol=SSL\nssl.certificate.location=%s\nssl.key.location=%s", f.Clients["alice"].Cert, f.BrokerKey), "key pair"},
		{"security.protocol=SSL\nssl.truststore.location=" + filepath.Join(dir, "nope.pem"), "no such file"},
		{"security.protocol=SSL\nssl.truststore.location=" + writeFile(t, dir, "x.jks", "\xfe\xed\xfe\xed"), "not PEM"},
		{fmt.Sprintf("security.protocol=SSL\nssl.certificate.location=%s\nssl.key.location=%s", f.Clients["alice"].Cert, writeFile(t, dir, "enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")), "encrypted"},
		{fmt.Sprintf("security.protocol=SSL\nssl.certificate.location=%s", f.Clients["alice"].Cert), "without its private key"},
	}
	for _, b := range bad {
		c, err := Parse(b.text)
		if err == nil {
			_, err = c.TLSConfig()
		}
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: got %v, want %q", b.text, err, b.want)
		}
	}
	key, _ := os.ReadFile(f.BrokerKey)
	if _, err := Parse(fmt.Sprintf("security.protocol=SSL\nssl.keystore.certificate.chain=%s\nssl.keystore.key=%s", "x", strings.ReplaceAll(string(key), "\n", "\\n"))); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, dir, name, data string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
