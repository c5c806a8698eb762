package clientconfig_test

import (
	"fmt"

	"github.com/kafki/kafki/runtime/clientconfig"
)

// A Kafka client properties file for SASL/SCRAM over TLS, as Kafka's tools
// take it with --command-config. The password never prints.
func ExampleParse() {
	cfg, err := clientconfig.Parse(`
bootstrap.servers=broker1:9093,broker2:9093
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
    username="alice" password="alice-secret";
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg)
	opts, err := cfg.KgoOpts() // seed brokers, TLS dialer, SASL: pass to kgo.NewClient
	fmt.Println(len(opts), err)
	// Output:
	// security.protocol=SASL_SSL bootstrap.servers=broker1:9093,broker2:9093 tls=system-roots sasl.mechanism=SCRAM-SHA-512 user=alice password=[redacted]
	// 3 <nil>
}
