package runtime

import (
	"fmt"

	"github.com/kafki/kafki/runtime/clientconfig"
)

// ClientConfig applies Kafka client properties — security.protocol, TLS
// (ssl.*), SASL (sasl.mechanism, sasl.jaas.config) and bootstrap.servers —
// to every Kafka client the instance creates. The seed brokers of
// bootstrap.servers apply unless a later SeedBrokers option replaces them.
func ClientConfig(cc *clientconfig.Config) Opt {
	return func(c *config) {
		if cc == nil {
			return
		}
		opts, err := cc.SecurityOpts()
		if err != nil {
			c.optErr = fmt.Errorf("runtime: %w", err)
			return
		}
		if len(cc.BootstrapServers) > 0 {
			c.brokers = append([]string(nil), cc.BootstrapServers...)
		}
		c.clientOpts = append(c.clientOpts, opts...)
	}
}

// ClientConfigFile is ClientConfig on the properties file at path (the file
// Kafka's tools take as --command-config); New reports a file that cannot
// be read or is wrong.
func ClientConfigFile(path string) Opt {
	return func(c *config) {
		cc, err := clientconfig.Load(path)
		if err != nil {
			c.optErr = fmt.Errorf("runtime: %w", err)
			return
		}
		ClientConfig(cc)(c)
	}
}
