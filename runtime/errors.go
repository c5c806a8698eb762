package runtime

import "errors"

var (
	// ErrMissingSourceTopics is returned by Start when source topics of the
	// topology do not exist. The wrapping error names them; Kafki never
	// creates source topics, as Kafka Streams does not.
	ErrMissingSourceTopics = errors.New("missing source topics")

	// ErrCoPartitioning is returned by Start when topics that must be
	// co-partitioned (the sources of one sub-topology, such as both sides
	// of a join) have different partition counts. The wrapping error
	// names the topics and their counts.
	ErrCoPartitioning = errors.New("co-partitioned topics have different partition counts")

	// ErrInternalTopic is returned by Start when an internal topic
	// (repartition or changelog) exists with an unexpected partition count
	// or cannot be created.
	ErrInternalTopic = errors.New("internal topic")

	// ErrNotSupported is returned for settings that are accepted but not
	// implemented yet, such as global stores.
	ErrNotSupported = errors.New("not supported yet")

	// ErrAlreadyStarted is returned by Start on an application that was
	// started before; an App runs once.
	ErrAlreadyStarted = errors.New("application already started")

	// ErrApplicationShutdown is the error an instance reports when another
	// instance of the application asked every instance to shut down (an
	// uncaught-error handler returned ShutdownApplication).
	ErrApplicationShutdown = errors.New("application shutdown requested by an instance")
)
