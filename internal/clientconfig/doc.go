// Package clientconfig reads Kafka client properties — the file that Kafka's
// tools take as --command-config and that librdkafka clients use — and turns
// them into franz-go options: a TLS dialer for security.protocol SSL and
// SASL_SSL, and a SASL mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) for
// SASL_PLAINTEXT and SASL_SSL. The same file may name a schema registry
// (schema.registry.url, basic.auth.user.info, schema.registry.ssl.*), which
// [Config.RegistryOpts] turns into registry client options.
//
// It lives under internal/ so that both the runtime and connect, which
// must not import the runtime, read security settings the same way. Its
// public face is runtime/clientconfig, which re-exports it: users import
// that package.
//
// Secrets (passwords, sasl.jaas.config, private keys) are held as [Secret]:
// they print as "[redacted]" in any String, fmt verb, log value or error.
//
// This package may import serde/registry and franz-go; nothing else of
// Kafki.
package clientconfig
