// Package pgtest starts a real PostgreSQL (Debian's postgresql package)
// for one test: its own data directory in a temporary directory,
// wal_level=logical, a free loopback port, stopped when the test ends.
// As root it runs the server as the postgres system user, since
// PostgreSQL refuses to run as root.
//
// It may import anything; only tests use it.
package pgtest
