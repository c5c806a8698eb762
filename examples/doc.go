// Package examples holds runnable Kafki applications, one per folder. Each
// runs with no flags against an embedded broker and against a real cluster
// with --brokers. They use the public API only.
package examples
