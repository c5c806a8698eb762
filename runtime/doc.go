// Package runtime runs a topology on a Kafka cluster: an application
// instance joins the application's consumer group, is assigned tasks,
// restores their state, processes records on its stream threads, and
// commits at-least-once or exactly-once.
//
// Running more instances of the same program scales the application out;
// tasks move between instances on rebalances and are rebuilt from their
// changelogs, or taken over from a standby replica.
//
// This package may import every other Kafki package; nothing imports it
// except programs (examples, cmd).
package runtime
