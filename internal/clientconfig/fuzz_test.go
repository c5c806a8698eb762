package clientconfig

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to the properties and JAAS parsers: no
// panic, and a password that parsed never shows in String or %v.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p4ssw0rd\";",
		"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-256\nsasl.username=u\nsasl.password=p4ssw0rd",
		"a=b\\\n  c\n# x\n!y\nk\\:e\\ y value\\u0041",
		"security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=/tmp/ca.pem",
		"basic.auth.user.info=u:p4ssw0rd\nschema.registry.url=https://h:1",
		"x=\\uD83D\\uDE00\r\ny=\\u",
		"sasl.jaas.config=a required k=\"\\\\\" ;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(text)
		if err != nil {
			return
		}
		for _, p := range []string{c.Password.Reveal(), c.RegistryPassword.Reveal()} {
			if len(p) < 6 {
				continue // short strings may occur in any output by chance
			}
			s := c.String() + fmt.Sprintf("%v %+v", c, *c)
			if strings.Contains(s, p) && !strings.Contains(c.Username+c.RegistryUser+strings.Join(c.BootstrapServers, ",")+strings.Join(c.RegistryURLs, ",")+c.TLS.CAFile+c.TLS.CertFile+c.TLS.KeyFile+c.TLS.CAPEM+c.TLS.CertPEM+c.SecurityProtocol+c.Mechanism+strings.Join(c.Ignored, ",")+c.TLS.ServerName+c.RegistryTLS.CAFile+c.RegistryTLS.CertFile+c.RegistryTLS.KeyFile+c.RegistryTLS.CAPEM+c.RegistryTLS.CertPEM+c.RegistryTLS.ServerName, p) {
				t.Fatalf("password printed: %s", s)
			}
		}
	})
}
