// Package devcerts makes a certificate authority, a broker certificate and
// client certificates for trying TLS and two-way TLS locally, as the Kafka
// security tutorial does with keytool and openssl: ECDSA P-256 keys, PEM
// files, and a client properties file per client. The keys are not
// protected by a password; they are for development only.
//
// This package imports only the standard library.
package devcerts
