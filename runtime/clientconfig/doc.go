// Package clientconfig reads Kafka client properties — the file that Kafka's
// tools take as --command-config and that librdkafka clients use — and turns
// them into franz-go options: a TLS dialer for security.protocol SSL and
// SASL_SSL, and a SASL mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) for
// SASL_PLAINTEXT and SASL_SSL. The same file may name a schema registry
// (schema.registry.url, basic.auth.user.info, schema.registry.ssl.*), which
// [Config.RegistryOpts] turns into registry client options.
//
// One shape for every caller: the runtime (runtime.ClientConfigFile), the
// connect workers (their worker properties), every kafki subcommand
// (--command-config FILE) and the examples read their security settings
// through this package. The implementation lives in internal/clientconfig,
// which connect can import without importing the runtime; this package
// re-exports it.
//
// Secrets (passwords, sasl.jaas.config, private keys) are held as [Secret]:
// they print as "[redacted]" in any String, fmt verb, log value or error.
//
// This package may import internal/clientconfig; nothing of the runtime.
package clientconfig
